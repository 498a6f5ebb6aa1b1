"""The ``MotionController`` contract, held by the fake and by the real Grbl adapter talking
to the Grbl simulator over a real pty: what the control plane relies on is the same."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from adapters.fakes import FakeMotionController
from adapters.serial.grbl import GrblController
from adapters.sim.pty_host import PtyGrblSimulator
from application.ports import MotionController
from domain.errors import ControllerUnavailable
from domain.motion import ControllerState, ControllerStatus

pytestmark = pytest.mark.slow

SEGMENT_MM = 2.0  # a continuous run's segment: 0.4 s at 300 mm/min
FEED = 300.0


@dataclass(frozen=True)
class Rig:
    controller: MotionController
    reset_unexpectedly: Callable[[], None]  # the controller reboots on its own


@pytest.fixture(params=["fake", "grbl-on-simulator"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    if request.param == "fake":
        fake = FakeMotionController()
        fake.open()
        yield Rig(fake, fake.reset_unexpectedly)
        fake.close()
        return
    with PtyGrblSimulator() as simulator:
        grbl = GrblController(simulator.port)
        grbl.open()
        yield Rig(grbl, simulator.power_cycle)
        grbl.close()


@pytest.fixture
def controller(rig: Rig) -> MotionController:
    return rig.controller


def wait_for(
    controller: MotionController, done: Callable[[ControllerStatus], bool]
) -> ControllerStatus:
    deadline = time.monotonic() + 10
    while True:
        status = controller.status()
        if done(status):
            return status
        assert time.monotonic() < deadline, f"stuck at {status}"
        time.sleep(0.02)


def follow(
    controller: MotionController, trace: list[ControllerStatus], until: Callable[[], bool]
) -> None:
    """Poll status at ~20 Hz into ``trace`` until ``until()`` holds (the control plane's
    rate while moving, DESIGN §2)."""
    deadline = time.monotonic() + 10
    while not until():
        trace.append(controller.status())
        assert time.monotonic() < deadline, f"stuck at {trace[-1]}"
        time.sleep(0.05)


def test_an_opened_controller_is_idle_and_reports_every_pump_axis(
    controller: MotionController,
) -> None:
    status = controller.status()
    assert status.state is ControllerState.IDLE
    assert set("XYZA") <= set(status.positions_mm)


def test_a_move_is_accepted_before_it_ends_and_ends_at_its_distance(
    controller: MotionController,
) -> None:
    start = controller.status().position("Y")
    controller.start_move({"Y": 3.0}, 600.0)
    assert controller.motion_done() is False
    status = wait_for(controller, lambda _: controller.motion_done())
    assert controller.status().position("Y") == pytest.approx(start + 3.0, abs=0.004)
    assert status.state is not ControllerState.ALARM


def test_queued_segments_and_a_final_move_run_back_to_back_and_end_at_their_sum(
    controller: MotionController,
) -> None:
    start = controller.status().position("X")
    trace: list[ControllerStatus] = []
    controller.queue_move({"X": SEGMENT_MM}, FEED)
    assert controller.motion_done() is True  # no completion marker on a segment
    follow(controller, trace, lambda: trace[-1].position("X") > start + 1.0 if trace else False)
    controller.queue_move({"X": SEGMENT_MM}, FEED)
    follow(controller, trace, lambda: trace[-1].position("X") > start + 3.0)
    controller.start_move({"X": SEGMENT_MM}, FEED)
    assert controller.motion_done() is False
    follow(controller, trace, lambda: trace[-1].state is not ControllerState.RUN)
    running = trace[:-1]
    assert all(s.state is ControllerState.RUN for s in running)
    positions = [s.position("X") for s in running]
    assert all(b > a for a, b in itertools.pairwise(positions)), positions
    cruising = [s for s in running if start + 0.2 < s.position("X") < start + 5.8]
    assert all(s.feed_mm_min in (None, FEED) for s in cruising), cruising  # no slowdown
    wait_for(controller, lambda _: controller.motion_done())
    assert controller.status().position("X") == pytest.approx(start + 3 * SEGMENT_MM, abs=0.004)


def hold_and_flush(controller: MotionController) -> ControllerStatus:
    """Feed hold, wait for rest, flush; checks the controller is idle where it rested."""
    controller.feed_hold()
    rest = wait_for(controller, lambda s: s.stopped_in_hold)
    controller.flush()
    after = controller.status()
    assert after.state is ControllerState.IDLE
    assert after.position("X") == pytest.approx(rest.position("X"), abs=0.004)
    return after


def test_a_feed_hold_comes_to_rest_and_a_flush_keeps_the_position(
    controller: MotionController,
) -> None:
    controller.start_move({"X": 20.0}, 600.0)
    wait_for(controller, lambda s: s.position("X") > 1.0)
    after = hold_and_flush(controller)
    assert 1.0 < after.position("X") < 20.0
    assert controller.motion_done() is True


def test_a_feed_hold_in_a_queued_segment_stops_and_a_flush_drops_the_rest(
    controller: MotionController,
) -> None:
    start = controller.status().position("X")
    controller.queue_move({"X": SEGMENT_MM}, FEED)
    controller.queue_move({"X": SEGMENT_MM}, FEED)
    wait_for(controller, lambda s: s.position("X") > start + SEGMENT_MM + 0.5)
    after = hold_and_flush(controller)
    assert start + SEGMENT_MM < after.position("X") < start + 2 * SEGMENT_MM
    time.sleep(0.2)
    assert controller.status().position("X") == after.position("X")
    assert controller.motion_done() is True


def test_an_unexpected_reset_makes_the_next_call_unavailable_until_reopened(
    rig: Rig,
) -> None:
    controller = rig.controller
    controller.start_move({"X": 20.0}, 600.0)
    wait_for(controller, lambda s: s.position("X") > 1.0)
    rig.reset_unexpectedly()
    with pytest.raises(ControllerUnavailable, match="reset unexpectedly"):
        wait_for(controller, lambda _: False)  # the next status call that sees it raises
    for call in (controller.status, controller.motion_done):
        with pytest.raises(ControllerUnavailable, match="reset unexpectedly"):
            call()
    with pytest.raises(ControllerUnavailable):
        controller.queue_move({"X": 1.0}, FEED)
    with pytest.raises(ControllerUnavailable):
        controller.start_move({"X": 1.0}, FEED)
    controller.open()
    status = controller.status()
    assert status.state is ControllerState.IDLE
    assert status.position("X") == 0.0  # no homing: the position restarted at zero
    assert controller.motion_done() is True


def test_a_closed_controller_refuses_every_call(controller: MotionController) -> None:
    controller.close()
    with pytest.raises(ControllerUnavailable):
        controller.status()
    with pytest.raises(ControllerUnavailable):
        controller.start_move({"X": 1.0}, 100.0)
    with pytest.raises(ControllerUnavailable):
        controller.queue_move({"X": 1.0}, 100.0)
