"""The pump's state machine and the events it records while dosing."""

import pytest

from domain.calibration import Calibration
from domain.dose import PumpLimits
from domain.errors import PumpBusy, PumpFaulted
from domain.events import DoseEnded, DoseKind, DoseOutcome, DoseStarted
from domain.pump import Pump, PumpSpec, PumpState

CALIBRATION = Calibration(0.05)


def make_pump() -> Pump:
    return Pump(PumpSpec("X", "DMDEE", CALIBRATION, PumpLimits(15.0, 100.0)))


def started_pump(start_mm: float = 10.0) -> Pump:
    pump = make_pump()
    pump.start(pump.plan("dose-1", 2.0, 12.0, CALIBRATION), start_mm, CALIBRATION)
    return pump


def test_a_new_pump_is_idle_and_has_no_events() -> None:
    pump = make_pump()
    assert pump.state is PumpState.IDLE
    assert pump.pull_events() == []


def test_starting_a_dose_makes_the_pump_dose_and_records_dose_started() -> None:
    pump = started_pump()
    assert pump.state is PumpState.DOSING
    assert pump.pull_events() == [
        DoseStarted("dose-1", "X", 2.0, 12.0, 40.0, 240.0, 10.0, 0.05, DoseKind.VOLUME)
    ]


def test_a_completed_dose_reports_the_volume_from_axis_travel() -> None:
    pump = started_pump(start_mm=10.0)
    pump.pull_events()
    pump.complete(position_mm=49.9)
    [ended] = pump.pull_events()
    assert isinstance(ended, DoseEnded)
    assert ended.outcome is DoseOutcome.COMPLETED
    assert ended.actual_ml == pytest.approx(1.995)
    assert pump.state is PumpState.IDLE


def test_progress_tracks_the_volume_dispensed_so_far() -> None:
    pump = started_pump(start_mm=10.0)
    assert pump.progress(30.0) == pytest.approx(1.0)
    assert pump.active is not None and pump.active.dispensed_ml == pytest.approx(1.0)


def test_a_stopped_dose_records_what_flowed_before_the_hold() -> None:
    pump = started_pump(start_mm=0.0)
    pump.feed_hold()
    assert pump.state is PumpState.HOLDING
    pump.stop(position_mm=12.0)
    ended = pump.pull_events()[-1]
    assert isinstance(ended, DoseEnded)
    assert (ended.outcome, ended.actual_ml) == (DoseOutcome.STOPPED, pytest.approx(0.6))
    assert pump.state is PumpState.IDLE


def test_a_pump_that_is_dosing_refuses_a_second_dose() -> None:
    pump = started_pump()
    with pytest.raises(PumpBusy):
        pump.plan("dose-2", 1.0, 10.0, CALIBRATION)


def test_a_fault_fails_the_running_dose_and_latches_until_cleared() -> None:
    pump = started_pump(start_mm=0.0)
    pump.pull_events()
    pump.fault("controller in Alarm", position_mm=4.0)
    ended = pump.pull_events()[-1]
    assert isinstance(ended, DoseEnded)
    assert (ended.outcome, ended.actual_ml) == (DoseOutcome.FAILED, pytest.approx(0.2))
    with pytest.raises(PumpFaulted, match="Alarm"):
        pump.plan("dose-2", 1.0, 10.0, CALIBRATION)
    pump.clear_fault()
    assert pump.state is PumpState.IDLE


def test_a_failed_dose_leaves_the_pump_usable() -> None:
    pump = started_pump()
    pump.fail("controller error 22")
    assert pump.state is PumpState.IDLE
    assert pump.plan("dose-2", 1.0, 10.0, CALIBRATION).volume_ml == 1.0


def test_travel_backwards_never_counts_as_negative_volume() -> None:
    pump = started_pump(start_mm=10.0)
    pump.complete(position_mm=9.0)
    ended = pump.pull_events()[-1]
    assert isinstance(ended, DoseEnded) and ended.actual_ml == 0.0
