"""Pump calibration in NVS (the calibration book) and the calibration use cases: the
curve wins over the config, survives a restart, a corrupt value falls back to the config,
and a calibration run becomes a calibration point."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.fakes import InMemoryJournal, InMemoryNvs, ManualClock
from application.calibrate_pump import (
    AddCalibrationPoint,
    DeleteCalibration,
    ReadCalibration,
    RecordCalibrationRun,
    ReplaceCalibration,
    RunCalibration,
)
from application.calibration_book import NAMESPACE, CalibrationBook, CalibrationRun
from application.commands import StartCalibrationRun
from domain.calibration import CalibrationPoint
from domain.errors import InvalidCalibration, NotCalibrated, UnknownPump
from domain.events import DoseKind, DoseOutcome
from domain.journal import DoseRecord

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)
# X has a configured single-point calibration; Y has none.
DEFAULTS = {"X": 0.05, "Y": None}


class Journal(InMemoryJournal):
    """The in-memory journal with ``get`` (the port's lookup by dose id)."""

    def get(self, dose_id: str) -> DoseRecord | None:
        return self.records.get(dose_id)


@dataclass
class StubControl:
    """Stands in for the control plane: records commands, answers with a run id."""

    run_id: str = "run-1"
    commands: list[Any] = field(default_factory=list)

    def request(self, command: Any, timeout_s: float = 5.0) -> str:
        self.commands.append(command)
        return self.run_id


def book_on(nvs: InMemoryNvs, clock: ManualClock | None = None) -> CalibrationBook:
    return CalibrationBook(nvs, clock or ManualClock(T0), DEFAULTS)


def journal_with(run_id: str, outcome: DoseOutcome, pump_id: str = "X") -> Journal:
    journal = Journal()
    journal.dose_started(
        DoseRecord(run_id, pump_id, 1.0, 15.0, T0, outcome=outcome, kind=DoseKind.CALIBRATION)
    )
    return journal


# The book


def test_a_pump_without_a_stored_curve_uses_its_configured_calibration() -> None:
    calibration = book_on(InMemoryNvs()).get("X")

    assert calibration.source == "config"
    assert calibration.valid
    assert calibration.updated_at is None
    assert calibration.calibration_at(15.0).ml_per_mm == 0.05


def test_a_pump_without_any_calibration_refuses_and_says_how_to_calibrate() -> None:
    book = book_on(InMemoryNvs())

    assert book.get("Y").source == "none"
    assert not book.get("Y").valid
    with pytest.raises(
        NotCalibrated,
        match=r"ml_per_mm in its config.*POST /api/pump/Y/calibration .*"
        r"POST /api/pump/Y/calibration/run",
    ):
        book.calibration_for("Y", 10.0)


def test_an_unknown_pump_is_refused_naming_the_configured_pumps() -> None:
    with pytest.raises(UnknownPump, match="configured pumps: X, Y"):
        book_on(InMemoryNvs()).get("Q")


def test_a_stored_curve_wins_over_the_config_and_is_dated() -> None:
    book = book_on(InMemoryNvs())

    calibration = book.replace("X", [CalibrationPoint(20.0, 0.04), CalibrationPoint(10.0, 0.05)])

    assert calibration.source == "nvs"
    assert calibration.updated_at == "2026-11-21T12:00:00.000Z"
    assert book.calibration_for("X", 15.0).ml_per_mm == pytest.approx(0.045)


def test_the_curve_is_stored_as_json_in_the_calibration_namespace() -> None:
    nvs = InMemoryNvs()
    book_on(nvs).replace("X", [CalibrationPoint(20.0, 0.04), CalibrationPoint(10.0, 0.05)])

    stored = nvs.get(NAMESPACE, "X")

    assert isinstance(stored, str)
    assert json.loads(stored) == {
        "points": [[10.0, 0.05], [20.0, 0.04]],
        "updatedAt": "2026-11-21T12:00:00.000Z",
    }


def test_the_curve_survives_a_restart() -> None:
    nvs, clock = InMemoryNvs(), ManualClock(T0)
    book_on(nvs, clock).replace("X", [CalibrationPoint(10.0, 0.05), CalibrationPoint(20.0, 0.04)])
    clock.advance(60)
    book_on(nvs, clock).add_point("Y", CalibrationPoint(12.0, 0.03))

    after_restart = book_on(nvs, clock)

    x, y = after_restart.get("X"), after_restart.get("Y")
    assert x.curve is not None and y.curve is not None
    assert x.curve.points == (CalibrationPoint(10.0, 0.05), CalibrationPoint(20.0, 0.04))
    assert x.updated_at == "2026-11-21T12:00:00.000Z"
    assert y.curve.points == (CalibrationPoint(12.0, 0.03),)
    assert y.updated_at == "2026-11-21T12:01:00.000Z"


def test_adding_a_point_without_a_stored_curve_starts_a_curve_of_that_point() -> None:
    calibration = book_on(InMemoryNvs()).add_point("X", CalibrationPoint(30.0, 0.045))

    assert calibration.curve is not None
    assert calibration.curve.points == (CalibrationPoint(30.0, 0.045),)
    assert calibration.calibration_at(5.0).ml_per_mm == 0.045  # the config's 0.05 is gone


def test_adding_a_point_replaces_the_one_within_one_percent() -> None:
    book = book_on(InMemoryNvs())
    book.replace("X", [CalibrationPoint(10.0, 0.05), CalibrationPoint(20.0, 0.04)])

    calibration = book.add_point("X", CalibrationPoint(20.1, 0.041))

    assert calibration.curve is not None
    assert calibration.curve.points == (
        CalibrationPoint(10.0, 0.05),
        CalibrationPoint(20.1, 0.041),
    )


def test_an_invalid_curve_stores_nothing() -> None:
    nvs = InMemoryNvs()
    book = book_on(nvs)

    with pytest.raises(InvalidCalibration):
        book.replace("X", [CalibrationPoint(10.0, 0.05), CalibrationPoint(10.05, 0.04)])

    assert book.get("X").source == "config"
    assert nvs.get(NAMESPACE, "X") is None


def test_deleting_falls_back_to_the_config_also_after_a_restart() -> None:
    nvs = InMemoryNvs()
    book = book_on(nvs)
    book.replace("X", [CalibrationPoint(10.0, 0.06)])

    assert book.delete("X").source == "config"
    assert book_on(nvs).get("X").source == "config"
    assert book_on(nvs).calibration_for("X", 10.0).ml_per_mm == 0.05


@pytest.mark.parametrize(
    "corrupt",
    [
        "not json",
        42,
        "[]",
        '{"points": [[10, 0.05]]}',
        '{"points": [[10, "0.05"]], "updatedAt": "2026-11-21T12:00:00.000Z"}',
        '{"points": [[10, -0.05]], "updatedAt": "2026-11-21T12:00:00.000Z"}',
        '{"points": [[10, NaN]], "updatedAt": "2026-11-21T12:00:00.000Z"}',
        '{"points": [[10]], "updatedAt": "2026-11-21T12:00:00.000Z"}',
        '{"points": [], "updatedAt": "2026-11-21T12:00:00.000Z"}',
    ],
)
def test_a_corrupt_stored_curve_is_logged_and_ignored(
    corrupt: str | int, caplog: pytest.LogCaptureFixture
) -> None:
    nvs = InMemoryNvs()
    nvs.set_many(NAMESPACE, {"X": corrupt})

    with caplog.at_level(logging.WARNING, logger="application.calibration_book"):
        book = book_on(nvs)

    assert book.get("X").source == "config"
    assert book.get("X").curve is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_a_corrupt_curve_of_one_pump_leaves_the_other_pumps_curve() -> None:
    nvs = InMemoryNvs()
    book_on(nvs).replace("Y", [CalibrationPoint(10.0, 0.03)])
    nvs.set_many(NAMESPACE, {"X": "{"})

    book = book_on(nvs)

    assert (book.get("X").source, book.get("Y").source) == ("config", "nvs")


def test_the_book_keeps_the_last_16_runs() -> None:
    book = book_on(InMemoryNvs())
    for n in range(17):
        book.remember_run(CalibrationRun(f"run-{n}", "X", 20.0, 300.0, 1.0))

    assert book.run("run-16").distance_mm == 20.0
    assert book.run("run-1").run_id == "run-1"
    with pytest.raises(InvalidCalibration) as refused:
        book.run("run-0")
    assert refused.value.field == "runId"


# Use cases


def test_read_reports_the_residuals_of_the_stored_curve() -> None:
    book = book_on(InMemoryNvs())
    ReplaceCalibration(book).execute("X", [(10.0, 0.05), (20.0, 0.04), (40.0, 0.036)])

    report = ReadCalibration(book).execute("X")

    assert [r.residual_percent for r in report.residuals] == [
        pytest.approx(25.0),
        pytest.approx(-11.7647059),
        pytest.approx(-10.0),
    ]
    assert report.measurement is None


def test_read_without_a_curve_has_no_residuals() -> None:
    report = ReadCalibration(book_on(InMemoryNvs())).execute("X")

    assert report.calibration.source == "config"
    assert report.residuals == []


def test_replace_names_the_point_that_breaks_a_rule() -> None:
    with pytest.raises(InvalidCalibration) as refused:
        ReplaceCalibration(book_on(InMemoryNvs())).execute("X", [(10.0, 0.05), (20.0, 0.0)])
    assert refused.value.field == "points[1].mlPerMm"


def test_add_point_and_delete_report_the_calibration_after() -> None:
    book = book_on(InMemoryNvs())

    added = AddCalibrationPoint(book).execute("Y", 12.0, 0.03)
    deleted = DeleteCalibration(book).execute("Y")

    assert added.calibration.source == "nvs"
    assert [r.point for r in added.residuals] == [CalibrationPoint(12.0, 0.03)]
    assert deleted.calibration.source == "none"


def test_a_run_at_a_flow_rate_moves_at_the_feed_of_the_current_calibration() -> None:
    book, control = book_on(InMemoryNvs()), StubControl()

    run = RunCalibration(book, control, timeout_s=2.0).execute("X", 20.0, flow_rate_ml_min=15.0)

    # 15 ml/min / 0.05 ml/mm = 300 mm/min; 20 mm x 0.05 ml/mm = 1 ml expected
    assert control.commands == [StartCalibrationRun("X", 20.0, 300.0)]
    assert run == CalibrationRun("run-1", "X", 20.0, 300.0, pytest.approx(1.0))
    assert book.run("run-1") == run


def test_a_run_at_a_feed_on_a_curve_expects_the_volume_of_the_flow_it_gives() -> None:
    book = book_on(InMemoryNvs())
    book.replace("X", [CalibrationPoint(10.0, 0.05), CalibrationPoint(20.0, 0.04)])

    run = RunCalibration(book, StubControl()).execute("X", 10.0, feed_mm_min=400.0)

    # flow = 400 x (0.06 - 0.001 flow) -> 17.142857 ml/min at 0.0428571 ml/mm
    assert run.expected_ml == pytest.approx(0.428571, rel=1e-5)


def test_an_uncalibrated_pump_runs_at_a_feed_with_no_expected_volume() -> None:
    control = StubControl()

    run = RunCalibration(book_on(InMemoryNvs()), control).execute("Y", 50.0, feed_mm_min=200.0)

    assert control.commands == [StartCalibrationRun("Y", 50.0, 200.0)]
    assert run.expected_ml is None


def test_an_uncalibrated_pump_cannot_run_at_a_flow_rate() -> None:
    control = StubControl()

    with pytest.raises(NotCalibrated):
        RunCalibration(book_on(InMemoryNvs()), control).execute("Y", 50.0, flow_rate_ml_min=10.0)
    assert control.commands == []


@pytest.mark.parametrize(
    ("distance", "rates", "refused_field"),
    [
        (20.0, {}, "flowRate"),
        (20.0, {"flow_rate_ml_min": 10.0, "feed_mm_min": 200.0}, "flowRate"),
        (0.0, {"feed_mm_min": 200.0}, "distance"),
        (10_000.5, {"feed_mm_min": 200.0}, "distance"),
        (float("nan"), {"feed_mm_min": 200.0}, "distance"),
        (20.0, {"feed_mm_min": -1.0}, "feedRate"),
        (20.0, {"feed_mm_min": float("inf")}, "feedRate"),
        (20.0, {"flow_rate_ml_min": 0.0}, "flowRate"),
    ],
)
def test_a_run_request_that_breaks_a_rule_moves_nothing(
    distance: float, rates: dict[str, float], refused_field: str
) -> None:
    control = StubControl()

    with pytest.raises(InvalidCalibration) as refused:
        RunCalibration(book_on(InMemoryNvs()), control).execute("X", distance, **rates)
    assert refused.value.field == refused_field
    assert control.commands == []


def run_then_record(outcome: DoseOutcome, measured_ml: float = 1.1) -> Any:
    book = book_on(InMemoryNvs())
    RunCalibration(book, StubControl()).execute("X", 20.0, feed_mm_min=300.0)
    record = RecordCalibrationRun(book, journal_with("run-1", outcome))
    return record.execute("X", "run-1", measured_ml)


def test_a_measured_run_becomes_a_point_with_its_residual_against_the_config() -> None:
    report = run_then_record(DoseOutcome.COMPLETED, measured_ml=1.1)

    # 1.1 ml over 20 mm = 0.055 ml/mm, at 300 mm/min that is 16.5 ml/min
    measurement = report.measurement
    assert measurement.point.flow_rate_ml_min == pytest.approx(16.5)
    assert measurement.point.ml_per_mm == pytest.approx(0.055)
    assert measurement.predicted_ml == pytest.approx(1.0)
    assert measurement.residual_ml == pytest.approx(0.1)
    assert measurement.residual_percent == pytest.approx(10.0)
    assert report.calibration.source == "nvs"
    assert report.calibration.calibration_at(16.5).ml_per_mm == pytest.approx(0.055)


def test_a_measurement_on_an_uncalibrated_pump_has_no_prediction() -> None:
    book = book_on(InMemoryNvs())
    RunCalibration(book, StubControl()).execute("Y", 50.0, feed_mm_min=200.0)

    report = RecordCalibrationRun(book, journal_with("run-1", DoseOutcome.COMPLETED, "Y")).execute(
        "Y", "run-1", 1.5
    )

    # 1.5 ml over 50 mm = 0.03 ml/mm, at 200 mm/min that is 6 ml/min
    assert report.measurement.point.flow_rate_ml_min == pytest.approx(6.0)
    assert report.measurement.point.ml_per_mm == pytest.approx(0.03)
    assert report.measurement.predicted_ml is None
    assert report.measurement.residual_percent is None
    assert report.calibration.valid


def test_a_run_still_running_cannot_be_recorded() -> None:
    with pytest.raises(InvalidCalibration, match="still running") as refused:
        run_then_record(DoseOutcome.RUNNING)
    assert refused.value.field == "runId"


@pytest.mark.parametrize(
    "outcome", [DoseOutcome.STOPPED, DoseOutcome.FAILED, DoseOutcome.INTERRUPTED]
)
def test_a_run_that_did_not_run_to_its_end_cannot_be_recorded(outcome: DoseOutcome) -> None:
    with pytest.raises(InvalidCalibration, match="did not run to its end") as refused:
        run_then_record(outcome)
    assert refused.value.field == "runId"


def test_a_measurement_must_be_a_positive_volume() -> None:
    with pytest.raises(InvalidCalibration) as refused:
        run_then_record(DoseOutcome.COMPLETED, measured_ml=0.0)
    assert refused.value.field == "measuredVolume"


def test_a_run_of_another_pump_or_an_unknown_run_cannot_be_recorded() -> None:
    book = book_on(InMemoryNvs())
    RunCalibration(book, StubControl()).execute("X", 20.0, feed_mm_min=300.0)
    record = RecordCalibrationRun(book, journal_with("run-1", DoseOutcome.COMPLETED))

    with pytest.raises(InvalidCalibration, match="was on pump 'X'"):
        record.execute("Y", "run-1", 1.0)
    with pytest.raises(InvalidCalibration, match="no calibration run 'run-9'"):
        record.execute("X", "run-9", 1.0)
    assert book.get("X").source == "config"
