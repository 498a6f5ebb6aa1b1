"""The control plane serialises commands on its own thread and never runs one late."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.fakes import FakeMotionController, InMemoryJournal, ManualClock
from adapters.memory import InMemoryStatusBoard
from application.commands import StartDose
from application.control_plane import ControlPlane
from application.dispense_volume import DispenseVolume
from application.dose_runner import DoseRunner
from application.lateness_meter import LatenessMeter
from application.stop_pump import StopPump
from domain.calibration import Calibration
from domain.dose import PumpLimits
from domain.errors import ControllerUnavailable, UnknownPump
from domain.events import DoseOutcome
from domain.pump import PumpSpec

PUMPS = [PumpSpec("X", "DMDEE", Calibration(0.05), PumpLimits(15.0, 100.0))]


class Plane:
    def __init__(self) -> None:
        self.clock = ManualClock(datetime(2026, 11, 21, tzinfo=UTC))
        self.controller = FakeMotionController(monotonic=self.clock.monotonic)
        self.journal = InMemoryJournal()
        runner = DoseRunner(self.controller, PUMPS, self.journal, self.clock, InMemoryStatusBoard())
        self.plane = ControlPlane(runner, self.clock)


@pytest.fixture
def running() -> Iterator[Plane]:
    plane = Plane()
    stop = threading.Event()
    thread = threading.Thread(target=plane.plane.run, args=(stop,), daemon=True)
    thread.start()
    yield plane
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_a_dose_request_returns_the_dose_id_once_planned(running: Plane) -> None:
    dose_id = DispenseVolume(running.plane).execute("X", 1.0, 10.0)
    assert running.journal.records[dose_id].outcome is DoseOutcome.RUNNING
    assert running.controller.moves == [({"X": 20.0}, 200.0)]


def test_refusals_cross_the_thread_boundary_as_domain_errors(running: Plane) -> None:
    with pytest.raises(UnknownPump):
        DispenseVolume(running.plane).execute("Q", 1.0, 10.0)


def test_a_stop_request_halts_the_running_dose(running: Plane) -> None:
    dose_id = DispenseVolume(running.plane).execute("X", 1.0, 10.0)
    StopPump(running.plane).execute("X")
    assert running.journal.records[dose_id].outcome is DoseOutcome.STOPPED


def test_shutdown_halts_a_running_dose_and_closes_the_controller() -> None:
    plane = Plane()
    stop = threading.Event()
    thread = threading.Thread(target=plane.plane.run, args=(stop,), daemon=True)
    thread.start()
    dose_id = DispenseVolume(plane.plane).execute("X", 1.0, 10.0)
    stop.set()
    thread.join(timeout=5)
    assert plane.journal.records[dose_id].outcome is DoseOutcome.STOPPED
    assert plane.controller.is_open is False


def test_a_command_nobody_took_in_time_is_dropped_never_run_late() -> None:
    plane = Plane()
    with pytest.raises(ControllerUnavailable):
        plane.plane.request(StartDose("X", 1.0, 10.0), timeout_s=0.05)
    plane.clock.advance(1.0)
    stop = threading.Event()
    thread = threading.Thread(target=plane.plane.run, args=(stop,), daemon=True)
    thread.start()
    # a later request is served, proving the expired one was looked at and dropped
    DispenseVolume(plane.plane).execute("X", 1.0, 10.0)
    stop.set()
    thread.join(timeout=5)
    assert len(plane.controller.moves) == 1


class _BuggyController(FakeMotionController):
    def start_move(self, distances_mm: dict[str, float], feed_mm_min: float) -> None:  # type: ignore[override]
        raise RuntimeError("a bug in an adapter")


def test_an_unexpected_error_reaches_the_caller_and_the_plane_keeps_serving() -> None:
    plane = Plane()
    clock = plane.clock
    buggy = _BuggyController(monotonic=clock.monotonic)
    runner = DoseRunner(buggy, PUMPS, plane.journal, clock, InMemoryStatusBoard())
    control = ControlPlane(runner, clock)
    stop = threading.Event()
    thread = threading.Thread(target=control.run, args=(stop,), daemon=True)
    thread.start()
    with pytest.raises(RuntimeError, match="a bug"):
        DispenseVolume(control).execute("X", 1.0, 10.0)
    assert plane.journal.history(limit=1)[0].outcome is DoseOutcome.FAILED
    with pytest.raises(UnknownPump):
        DispenseVolume(control).execute("Q", 1.0, 10.0)
    stop.set()
    thread.join(timeout=5)


def test_each_poll_of_a_connected_controller_records_how_late_it_ran() -> None:
    plane = Plane()
    meter = LatenessMeter()
    runner = DoseRunner(
        plane.controller, PUMPS, plane.journal, plane.clock, InMemoryStatusBoard()
    )
    control = ControlPlane(runner, plane.clock, poll_interval_s=0.05, timing=meter)
    control.run_once()  # connects: the first poll has no schedule to be late for
    assert meter.summary().samples == 0
    plane.clock.advance(0.05 + 0.003)  # the next poll was due 3 ms ago
    control.run_once()
    plane.clock.advance(0.997 + 0.010)  # idle: due 1 s after the last was due; 10 ms late
    control.run_once()
    summary = meter.summary()
    assert summary.samples == 2
    assert summary.max_s == pytest.approx(0.010)
    assert summary.p50_s == pytest.approx(0.003)
