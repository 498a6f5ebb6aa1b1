"""Dosing on the control plane: start, follow, complete, stop, refuse, fault, recover."""

from datetime import UTC, datetime

import pytest

from adapters.fakes import FakeMotionController, InMemoryJournal, ManualClock
from adapters.memory import InMemoryStatusBoard
from application.dose_runner import DoseRunner
from domain.calibration import Calibration
from domain.dose import PumpLimits
from domain.errors import (
    ControllerRejected,
    ControllerUnavailable,
    InvalidDose,
    LimitExceeded,
    PumpBusy,
    PumpFaulted,
    UnknownPump,
)
from domain.events import DoseOutcome
from domain.pump import PumpSpec, PumpState
from domain.status import SystemState

PUMPS = [
    PumpSpec("X", "DMDEE", Calibration(0.05), PumpLimits(15.0, 100.0)),
    PumpSpec("Y", "T-12", Calibration(0.1), PumpLimits(30.0, 100.0)),
]


class Rig:
    def __init__(self) -> None:
        self.clock = ManualClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
        self.controller = FakeMotionController(monotonic=self.clock.monotonic)
        self.journal = InMemoryJournal()
        self.board = InMemoryStatusBoard()
        self.runner = DoseRunner(self.controller, PUMPS, self.journal, self.clock, self.board)

    def only_record(self):  # type: ignore[no-untyped-def]
        [record] = self.journal.records.values()
        return record

    def pump_view(self, pump_id: str):  # type: ignore[no-untyped-def]
        return next(p for p in self.board.latest().pumps if p.pump_id == pump_id)


@pytest.fixture
def rig() -> Rig:
    rig = Rig()
    assert rig.runner.connect()
    return rig


def test_a_dose_sends_one_relative_move_at_the_calibrated_feed(rig: Rig) -> None:
    rig.runner.start("X", 2.0, 12.0)
    assert rig.controller.moves == [({"X": 40.0}, 240.0)]


def test_the_intent_is_journaled_before_the_motor_moves(rig: Rig) -> None:
    rig.controller.reject_with = 20
    with pytest.raises(ControllerRejected):
        rig.runner.start("X", 2.0, 12.0)
    record = rig.only_record()
    assert record.outcome is DoseOutcome.FAILED
    assert "error 20" in record.reason


def test_a_dose_runs_to_completion_and_journals_the_actual_volume(rig: Rig) -> None:
    dose_id = rig.runner.start("X", 2.0, 12.0)
    rig.clock.advance(5.0)
    rig.runner.tick()
    assert rig.board.latest().state is SystemState.DISPENSING
    assert rig.pump_view("X").dispensed_ml == pytest.approx(1.0)
    rig.clock.advance(5.1)
    rig.runner.tick()
    record = rig.journal.records[dose_id]
    assert (record.outcome, record.actual_ml) == (DoseOutcome.COMPLETED, pytest.approx(2.0))
    assert rig.board.latest().state is SystemState.IDLE


def test_stopping_mid_dose_journals_what_flowed(rig: Rig) -> None:
    dose_id = rig.runner.start("X", 2.0, 12.0)
    rig.clock.advance(2.5)
    rig.runner.stop("X")
    record = rig.journal.records[dose_id]
    assert (record.outcome, record.actual_ml) == (DoseOutcome.STOPPED, pytest.approx(0.5))
    assert rig.pump_view("X").state is PumpState.IDLE
    rig.clock.advance(10.0)
    assert rig.controller.status().position("X") == pytest.approx(10.0)


def test_stopping_an_idle_pump_does_nothing(rig: Rig) -> None:
    rig.runner.stop("Y")
    assert rig.journal.records == {}


def test_a_dose_over_a_safety_limit_moves_nothing_and_is_journaled_as_refused(
    rig: Rig,
) -> None:
    with pytest.raises(LimitExceeded) as refused:
        rig.runner.start("X", 1.0, 16.0)
    assert refused.value.rule == "max_flow"
    assert rig.controller.moves == []
    record = rig.only_record()
    assert (record.outcome, record.actual_ml) == (DoseOutcome.REFUSED, 0.0)
    assert record.reason.startswith("max_flow: flow rate 16 ml/min exceeds")


@pytest.mark.parametrize(
    ("pump", "volume", "flow", "error"),
    [
        ("Q", 1.0, 1.0, UnknownPump),
        ("X", 0.0, 1.0, InvalidDose),
        ("X", float("nan"), 1.0, InvalidDose),
    ],
)
def test_a_malformed_dose_moves_nothing_and_journals_nothing(
    rig: Rig, pump: str, volume: float, flow: float, error: type[Exception]
) -> None:
    with pytest.raises(error):
        rig.runner.start(pump, volume, flow)
    assert rig.controller.moves == []
    assert rig.journal.records == {}


def test_one_dose_at_a_time_on_one_controller(rig: Rig) -> None:
    rig.runner.start("X", 2.0, 12.0)
    with pytest.raises(PumpBusy, match="one at a time"):
        rig.runner.start("Y", 1.0, 10.0)
    assert len(rig.controller.moves) == 1


def test_an_alarm_mid_dose_fails_it_and_the_pumps_recover_after_unlock(rig: Rig) -> None:
    dose_id = rig.runner.start("X", 2.0, 12.0)
    rig.clock.advance(5.0)
    rig.controller.raise_alarm()
    rig.runner.tick()
    record = rig.journal.records[dose_id]
    assert (record.outcome, record.actual_ml) == (DoseOutcome.FAILED, pytest.approx(1.0))
    assert rig.controller.alarm is False
    assert rig.pump_view("X").state is PumpState.IDLE


def test_a_lost_link_faults_the_pumps_and_refuses_doses_until_reconnected(rig: Rig) -> None:
    dose_id = rig.runner.start("X", 2.0, 12.0)
    rig.clock.advance(1.0)
    rig.runner.tick()
    rig.controller.unplug()
    with pytest.raises(ControllerUnavailable):
        rig.runner.tick()
    assert rig.journal.records[dose_id].outcome is DoseOutcome.FAILED
    assert rig.pump_view("X").state is PumpState.FAULT
    with pytest.raises(ControllerUnavailable):
        rig.runner.start("Y", 1.0, 10.0)
    rig.controller.unplugged = False
    assert rig.runner.connect()
    assert rig.pump_view("X").state is PumpState.IDLE


def test_a_controller_that_cannot_be_opened_is_reported_disconnected() -> None:
    rig = Rig()
    rig.controller.unplug()
    assert not rig.runner.connect()
    assert rig.board.latest().controller.connected is False
    with pytest.raises(ControllerUnavailable):
        rig.runner.start("X", 1.0, 10.0)


def test_a_pump_on_an_axis_the_controller_lacks_is_faulted_not_fatal() -> None:
    rig = Rig()
    rig.controller.axes = ("X",)
    assert rig.runner.connect()
    assert rig.pump_view("Y").state is PumpState.FAULT
    assert "no axis Y" in rig.pump_view("Y").fault_reason
    with pytest.raises(PumpFaulted):
        rig.runner.start("Y", 1.0, 10.0)
    assert rig.controller.moves == []
