"""The ``MotionController`` contract, held by the fake and by the real Grbl adapter talking
to the Grbl simulator over a real pty: what the control plane relies on is the same."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from adapters.fakes import FakeMotionController
from adapters.serial.grbl import GrblController
from adapters.sim.pty_host import PtyGrblSimulator
from application.ports import MotionController
from domain.errors import ControllerUnavailable
from domain.motion import ControllerState, ControllerStatus

pytestmark = pytest.mark.slow


@pytest.fixture(params=["fake", "grbl-on-simulator"])
def controller(request: pytest.FixtureRequest) -> Iterator[MotionController]:
    if request.param == "fake":
        fake = FakeMotionController()
        fake.open()
        yield fake
        fake.close()
        return
    with PtyGrblSimulator() as simulator:
        grbl = GrblController(simulator.port)
        grbl.open()
        yield grbl
        grbl.close()


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


def test_a_feed_hold_comes_to_rest_and_a_flush_keeps_the_position(
    controller: MotionController,
) -> None:
    controller.start_move({"X": 20.0}, 600.0)
    wait_for(controller, lambda s: s.position("X") > 1.0)
    controller.feed_hold()
    rest = wait_for(controller, lambda s: s.stopped_in_hold)
    controller.flush()
    after = controller.status()
    assert after.state is ControllerState.IDLE
    assert after.position("X") == pytest.approx(rest.position("X"), abs=0.004)
    assert 1.0 < after.position("X") < 20.0
    assert controller.motion_done() is True


def test_a_closed_controller_refuses_every_call(controller: MotionController) -> None:
    controller.close()
    with pytest.raises(ControllerUnavailable):
        controller.status()
    with pytest.raises(ControllerUnavailable):
        controller.start_move({"X": 1.0}, 100.0)
