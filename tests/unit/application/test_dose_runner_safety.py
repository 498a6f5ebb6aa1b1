"""The runner's safety duties: pre-flight refusals journaled and alarmed, continuous runs
under the dead man, crash settlement at the first connect, link-loss alarms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.fakes import (
    FakeMotionController,
    InMemoryJournal,
    InMemoryNvs,
    ManualClock,
    RecordingAlarms,
)
from adapters.memory import InMemoryStatusBoard
from application.calibration_book import CalibrationBook
from application.dose_runner import DoseRunner
from application.reservoirs import Reservoirs
from application.safety_gate import SafetyGate
from domain.calibration import Calibration, CalibrationPoint
from domain.dose import PumpLimits
from domain.errors import (
    ControllerUnavailable,
    JournalRecoveryPending,
    LimitReached,
    NotCalibrated,
)
from domain.events import DoseKind, DoseOutcome
from domain.journal import DoseRecord
from domain.pump import PumpSpec
from domain.safety import PumpSafety, ReservoirSpec
from domain.telemetry import Severity

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class Rig:
    def __init__(self, *, ml_per_mm: float | None = 0.05, journal: InMemoryJournal | None = None):
        self.clock = ManualClock(START)
        self.controller = FakeMotionController(monotonic=self.clock.monotonic)
        self.journal = journal or InMemoryJournal()
        self.nvs = InMemoryNvs()
        self.board = InMemoryStatusBoard()
        self.alarms = RecordingAlarms()
        self.reservoirs = Reservoirs(self.nvs, {"X": ReservoirSpec.of(100.0, 10.0)})
        limits = {"X": PumpSafety(50.0, 150.0, max_ml_per_hour=20.0), "Y": PumpSafety(50.0, 150.0)}
        self.calibrations = CalibrationBook(self.nvs, self.clock, {"X": ml_per_mm, "Y": 0.05})
        self.runner = DoseRunner(
            self.controller,
            [
                PumpSpec(
                    "X",
                    "DMDEE",
                    Calibration(ml_per_mm) if ml_per_mm else None,
                    PumpLimits(150.0, 50.0),
                ),
                PumpSpec("Y", "T-12", Calibration(0.05), PumpLimits(150.0, 50.0)),
            ],
            self.journal,
            self.clock,
            self.board,
            calibrations=self.calibrations,
            gate=SafetyGate(self.journal, self.clock, self.reservoirs, limits, 30.0),
            reservoirs=self.reservoirs,
            alarms=self.alarms,
            dead_man_s=2.0,
            progress_interval_s=1.0,
        )

    def run_for(self, seconds: float, step_s: float = 0.05) -> None:
        for _ in range(round(seconds / step_s)):
            self.clock.advance(step_s)
            self.runner.tick()

    def record(self, dose_id: str) -> DoseRecord:
        return self.journal.records[dose_id]


@pytest.fixture
def rig() -> Rig:
    rig = Rig()
    assert rig.runner.connect()
    return rig


def test_a_dose_uses_the_multi_point_calibration_at_its_flow_rate(rig: Rig) -> None:
    rig.calibrations.replace("X", [CalibrationPoint(10.0, 0.05), CalibrationPoint(100.0, 0.04)])
    rig.runner.start("X", 0.9, 55.0)  # 0.045 ml/mm at 55 ml/min
    assert rig.controller.moves == [({"X": 20.0}, pytest.approx(55.0 / 0.045, abs=0.001))]


def test_an_uncalibrated_pump_refuses_to_dose_and_nothing_moves() -> None:
    rig = Rig(ml_per_mm=None)
    assert rig.runner.connect()
    with pytest.raises(NotCalibrated):
        rig.runner.start("X", 1.0, 10.0)
    assert rig.controller.moves == []


def test_a_quota_refusal_is_journaled_alarmed_and_moves_nothing(rig: Rig) -> None:
    first = rig.runner.start("X", 15.0, 150.0)
    rig.run_for(6.5)
    assert rig.record(first).outcome is DoseOutcome.COMPLETED
    with pytest.raises(LimitReached) as refused:
        rig.runner.start("X", 6.0, 150.0)  # 15 + 6 > 20 ml per hour
    assert refused.value.rule == "max_per_hour"
    assert len(rig.controller.moves) == 1
    [row] = [r for r in rig.journal.records.values() if r.outcome is DoseOutcome.REFUSED]
    assert (row.requested_ml, row.actual_ml) == (6.0, 0.0)
    assert row.reason.startswith("max_per_hour:")
    assert rig.alarms.raised[-1][:2] == ("doseRefused", Severity.WARNING)
    assert rig.alarms.raised[-1][2]["rule"] == "max_per_hour"


def test_a_dose_lowers_the_reservoir_and_the_low_mark_alarms_once(rig: Rig) -> None:
    rig.reservoirs.refill("X", 22.0)
    rig.runner.start("X", 13.0, 150.0)
    rig.run_for(6.0)
    level = rig.reservoirs.level("X")
    assert level is not None and level.level_ml == pytest.approx(9.0)
    assert rig.alarms.types() == ["reservoirLow"]
    view = next(p for p in rig.board.latest().pumps if p.pump_id == "X")
    assert view.details.reservoir is not None and view.details.reservoir.low


def test_progress_is_journaled_while_a_dose_runs(rig: Rig) -> None:
    dose_id = rig.runner.start("X", 10.0, 60.0)  # 10 s
    rig.run_for(2.5)
    assert rig.record(dose_id).dispensed_ml == pytest.approx(2.0, abs=0.06)


def test_a_continuous_run_is_sent_as_bounded_segments_and_stops_on_request(rig: Rig) -> None:
    dose_id = rig.runner.start_continuous("Y", 60.0)  # 1200 mm/min = 20 mm/s
    assert rig.controller.moves == [({"Y": 20.0}, 1200.0)]  # 1 s of travel: dead_man_s / 2
    rig.run_for(5.0)
    travelled = rig.controller.status().position("Y")
    planned = sum(d["Y"] for d, _ in rig.controller.moves)
    assert travelled == pytest.approx(100.0, abs=1.1)
    assert 0 < planned - travelled <= 2.0 * 20.0  # never more than dead_man_s planned
    rig.runner.stop("Y")
    record = rig.record(dose_id)
    assert (record.kind, record.outcome) == (DoseKind.CONTINUOUS, DoseOutcome.STOPPED)
    assert record.actual_ml == pytest.approx(travelled * 0.05)


def test_a_continuous_run_without_renewals_runs_out_within_the_dead_man_time(rig: Rig) -> None:
    rig.runner.start_continuous("Y", 60.0)
    rig.run_for(3.0)
    at_hang = rig.controller.status().position("Y")
    rig.clock.advance(10.0)  # the daemon hangs: no tick renews the segments
    ran_on_mm = rig.controller.status().position("Y") - at_hang
    assert ran_on_mm <= 2.0 * 20.0  # dead_man_s at 20 mm/s


def test_a_continuous_run_ends_by_itself_at_what_the_quota_allows(rig: Rig) -> None:
    dose_id = rig.runner.start_continuous("X", 150.0)  # X: 20 ml per hour
    rig.run_for(12.0)
    record = rig.record(dose_id)
    assert record.outcome is DoseOutcome.COMPLETED
    assert record.actual_ml == pytest.approx(20.0, abs=0.001)
    assert record.requested_ml == pytest.approx(20.0)


def test_an_interrupted_dose_is_settled_from_the_controller_position_at_connect() -> None:
    journal = InMemoryJournal()
    journal.dose_started(
        DoseRecord(
            "d1", "X", 2.0, 60.0, START, start_position_mm=10.0, ml_per_mm=0.05, dispensed_ml=0.5
        )
    )
    rig = Rig(journal=journal)
    rig.controller.open()
    rig.controller.start_move({"X": 35.0}, 6000.0)  # the axis ended at 35 mm ...
    rig.clock.advance(10.0)
    with pytest.raises(ControllerUnavailable):
        rig.runner.start("X", 1.0, 10.0)  # not connected yet
    assert rig.runner.connect()
    record = rig.record("d1")
    assert record.outcome is DoseOutcome.INTERRUPTED
    assert record.actual_ml == pytest.approx(1.25)  # (35 - 10) mm * 0.05 ml/mm
    assert not record.uncertain
    assert rig.alarms.types() == ["doseInterrupted"]
    assert len(rig.controller.moves) == 1  # nothing resumed


def test_dosing_waits_until_the_journal_is_settled(rig: Rig) -> None:
    rig.runner._settled = False  # as after a storage error at connect
    with pytest.raises(JournalRecoveryPending):
        rig.runner.start("X", 1.0, 10.0)
    rig.runner.tick()
    rig.runner.start("X", 1.0, 10.0)


def test_a_lost_link_faults_the_pumps_and_alarms_once_until_it_is_back(rig: Rig) -> None:
    rig.runner.start("X", 5.0, 60.0)
    rig.controller.unplugged = True
    rig.controller.is_open = False
    with pytest.raises(ControllerUnavailable):
        rig.runner.tick()
    assert not rig.runner.connect()
    assert rig.alarms.types() == ["controllerLinkLost"]
    assert all(p.state.value == "fault" for p in rig.board.latest().pumps)
    rig.controller.unplugged = False
    assert rig.runner.connect()
    assert rig.alarms.types() == ["controllerLinkLost", "controllerLinkRestored"]
    assert all(p.state.value == "idle" for p in rig.board.latest().pumps)
