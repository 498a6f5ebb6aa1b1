"""GrblController against the Grbl 1.1h simulator on a real pty: doses move, take time,
land where commanded; a feed hold and flush keep the position; refusals carry Grbl's number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from adapters.serial.grbl import GrblController
from adapters.sim.pty_host import PtyGrblSimulator
from domain.errors import ControllerRejected
from domain.motion import ControllerState

pytestmark = pytest.mark.slow


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def grbl() -> Iterator[GrblController]:
    with PtyGrblSimulator() as simulator:
        # B is not a Grbl axis: it lets a test make Grbl refuse a word (error:20)
        controller = GrblController(simulator.port, axes=("X", "Y", "Z", "A", "B"))
        controller.open()
        yield controller
        controller.close()


def test_a_dose_returns_when_planned_and_ends_two_millimetres_on(grbl: GrblController) -> None:
    start = grbl.status().position("X")
    began = time.monotonic()
    grbl.start_move({"X": 2.0}, 600.0)
    assert not grbl.motion_done()  # planned, not done: 2 mm at 600 mm/min takes >= 0.2 s
    wait_until(grbl.motion_done)
    assert time.monotonic() - began >= 0.2
    status = grbl.status()
    assert status.state is ControllerState.IDLE
    assert status.position("X") == pytest.approx(start + 2.0, abs=1e-9)


def test_a_feed_hold_and_flush_keep_the_position_and_leave_idle(grbl: GrblController) -> None:
    start = grbl.status().position("X")
    grbl.start_move({"X": 10.0}, 600.0)
    wait_until(lambda: grbl.status().position("X") > start + 0.5)
    grbl.feed_hold()
    wait_until(lambda: grbl.status().stopped_in_hold)
    held_at = grbl.status().position("X")
    assert start < held_at < start + 10.0
    grbl.flush()
    status = grbl.status()
    assert status.state is ControllerState.IDLE
    assert status.position("X") == held_at
    assert grbl.motion_done()


def test_a_move_without_a_feed_rate_is_refused_with_error_22(grbl: GrblController) -> None:
    with pytest.raises(ControllerRejected) as refused:
        grbl.start_move({"X": 1.0}, 0.0)
    assert refused.value.number == 22
    assert grbl.motion_done()


def test_a_word_grbl_does_not_know_is_refused_with_error_20(grbl: GrblController) -> None:
    with pytest.raises(ControllerRejected) as refused:
        grbl.start_move({"B": 1.0}, 100.0)
    assert refused.value.number == 20
    assert grbl.status().state is ControllerState.IDLE
