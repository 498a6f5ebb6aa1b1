"""Settling doses a crash interrupted, from the controller's axis position."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.events import DoseKind, DoseOutcome
from domain.journal import DoseRecord
from domain.recovery import Settlement, settle_all, settle_interrupted

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
# 2 ml at 0.05 ml/mm: 40 mm of travel from 100 mm; 0.5 ml (10 mm) journaled as progress.
DOSE = DoseRecord(
    "dose-1", "X", 2.0, 120.0, T0, start_position_mm=100.0, ml_per_mm=0.05, dispensed_ml=0.5
)


def uncertain(record: DoseRecord, position_mm: float | None) -> Settlement:
    settlement = settle_interrupted(record, position_mm)
    assert settlement.uncertain
    return settlement


def test_a_position_mid_travel_gives_the_volume_that_flowed() -> None:
    settlement = settle_interrupted(DOSE, 124.68)
    assert settlement == Settlement(
        1.234,
        None,
        "interrupted: daemon stopped mid-dose; 1.234 ml from the controller position "
        "(24.68 mm of 40 mm)",
    )
    assert not settlement.uncertain


def test_a_position_at_the_end_of_the_travel_gives_the_whole_dose() -> None:
    assert settle_interrupted(DOSE, 140.0).actual_ml == 2.0


def test_a_position_within_two_steps_past_the_end_is_clamped_to_the_request() -> None:
    settlement = settle_interrupted(DOSE, 140.0015)
    assert (settlement.actual_ml, settlement.actual_upper_ml) == (2.0, None)


def test_a_position_just_short_of_the_journaled_progress_is_within_tolerance() -> None:
    assert settle_interrupted(DOSE, 109.999).actual_ml == pytest.approx(0.49995)


def test_a_position_before_the_journaled_progress_is_uncertain() -> None:
    settlement = uncertain(DOSE, 109.99)
    assert (settlement.actual_ml, settlement.actual_upper_ml) == (0.5, 2.0)
    assert "outside this dose's travel" in settlement.reason
    assert settlement.reason.endswith("uncertain ≤ 2 ml")


def test_a_position_beyond_the_end_of_the_travel_is_uncertain() -> None:
    settlement = uncertain(DOSE, 140.01)
    assert (settlement.actual_ml, settlement.actual_upper_ml) == (0.5, 2.0)


def test_a_controller_restarted_at_zero_is_uncertain_not_a_negative_volume() -> None:
    settlement = uncertain(replace(DOSE, dispensed_ml=0.0), 0.0)
    assert (settlement.actual_ml, settlement.actual_upper_ml) == (0.0, 2.0)
    assert settlement.reason == (
        "interrupted: daemon stopped mid-dose; controller position 0 mm is outside this "
        "dose's travel (100 to 140 mm; controller restarted?), uncertain ≤ 2 ml"
    )


@pytest.mark.parametrize(
    "missing",
    [{"start_position_mm": None}, {"ml_per_mm": None}, {"ml_per_mm": 0.0}],
    ids=["start", "calibration", "zero-calibration"],
)
def test_a_dose_journaled_without_start_or_calibration_is_uncertain(
    missing: dict[str, float | None],
) -> None:
    settlement = uncertain(replace(DOSE, **missing), 124.68)  # type: ignore[arg-type]
    assert (settlement.actual_ml, settlement.actual_upper_ml) == (0.5, 2.0)


def test_an_unknown_position_is_uncertain_and_says_so() -> None:
    settlement = uncertain(DOSE, None)
    assert settlement.reason == (
        "interrupted: daemon stopped mid-dose; controller position unknown, uncertain ≤ 2 ml"
    )


def test_progress_beyond_the_request_raises_the_upper_bound() -> None:
    settlement = uncertain(replace(DOSE, dispensed_ml=2.1), None)
    assert (settlement.actual_ml, settlement.actual_upper_ml) == (2.1, 2.1)


def test_a_continuous_run_is_settled_within_its_cap() -> None:
    run = replace(DOSE, kind=DoseKind.CONTINUOUS, requested_ml=50.0, start_position_mm=10.0)
    assert settle_interrupted(run, 210.0).actual_ml == 10.0  # 200 mm of a 1000 mm cap
    assert uncertain(run, 1010.5).actual_upper_ml == 50.0


def test_a_dose_that_already_ended_is_refused() -> None:
    ended = replace(DOSE, outcome=DoseOutcome.COMPLETED, actual_ml=2.0, ended_at=T0)
    with pytest.raises(ValueError, match="completed"):
        settle_interrupted(ended, 140.0)


def test_only_the_newest_unfinished_dose_of_a_pump_is_settled_from_its_position() -> None:
    older = replace(DOSE, dose_id="dose-old", start_position_mm=60.0, dispensed_ml=0.2)
    newer = replace(DOSE, started_at=T0 + timedelta(minutes=1))
    other = replace(DOSE, dose_id="dose-y", pump_id="Y", start_position_mm=0.0)
    settled = settle_all([older, newer, other], {"X": 120.0, "Y": 40.0})
    assert [record.dose_id for record, _ in settled] == ["dose-old", "dose-1", "dose-y"]
    (_, old), (_, new), (_, y) = settled
    assert (old.actual_ml, old.actual_upper_ml) == (0.2, 2.0)
    assert "a later dose on this pump moved its axis" in old.reason
    assert (new.actual_ml, new.actual_upper_ml) == (1.0, None)
    assert (y.actual_ml, y.actual_upper_ml) == (2.0, None)


def test_without_positions_every_dose_is_uncertain() -> None:
    other = replace(DOSE, dose_id="dose-y", pump_id="Y")
    settled = settle_all([DOSE, other], None)
    assert all(settlement.uncertain for _, settlement in settled)


def test_a_pump_missing_from_the_positions_is_uncertain() -> None:
    other = replace(DOSE, dose_id="dose-y", pump_id="Y")
    [(_, x), (_, y)] = settle_all([DOSE, other], {"X": 130.0})
    assert (x.actual_ml, x.uncertain, y.uncertain) == (1.5, False, True)


def test_position_zero_is_uncertain_for_a_dose_that_started_at_zero() -> None:
    # a power-cycled controller also reads MPos 0: "never moved" and "moved, then lost
    # power before the first progress write" look the same
    record = DoseRecord(
        "d0",
        "X",
        10.0,
        150.0,
        datetime(2026, 11, 21, tzinfo=UTC),
        start_position_mm=0.0,
        ml_per_mm=0.05,
    )
    settlement = settle_interrupted(record, 0.0)
    assert settlement.uncertain
    assert (settlement.actual_ml, settlement.actual_upper_ml) == (0.0, 10.0)
