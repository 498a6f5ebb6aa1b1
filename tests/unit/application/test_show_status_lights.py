"""The LED render loop: frames from snapshots, sent only when something visible changed."""

from __future__ import annotations

import errno
import threading
import time
from datetime import UTC, datetime

import pytest

from adapters.fakes import ManualClock
from adapters.fakes.leds import FakeLights
from adapters.memory import InMemoryStatusBoard
from application.lateness_meter import LatenessMeter
from application.show_status_lights import ShowStatusLights
from domain.led import GREEN, OFF, RED, LedLayout
from domain.mqtt_link import LinkState, LinkView
from domain.pump import PumpState
from domain.status import ControllerView, PumpView, SystemSnapshot, SystemState

LAYOUT = LedLayout(count=8, pump_ids=("X", "Y"), brightness=1.0)


def pump(pump_id: str, state: PumpState = PumpState.IDLE) -> PumpView:
    return PumpView(
        pump_id=pump_id, name=pump_id, state=state, dose_id=None, requested_ml=None,
        dispensed_ml=None, flow_rate_ml_min=None, ml_per_mm=0.05, max_flow_ml_min=150.0,
        max_dose_ml=100.0, fault_reason="",
    )


def snapshot(state: SystemState = SystemState.IDLE) -> SystemSnapshot:
    return SystemSnapshot(state, (pump("X"), pump("Y")), ControllerView(True, "Idle"))


class Rig:
    def __init__(self, *, blinks_by_itself: bool = False) -> None:
        self.lights = FakeLights(blinks_by_itself=blinks_by_itself)
        self.board = InMemoryStatusBoard()
        self.clock = ManualClock(datetime(2026, 11, 21, tzinfo=UTC))
        self.link = LinkView(LinkState.CONNECTED, 0, 30.0, "")
        self.meter = LatenessMeter()
        self.loop = ShowStatusLights(
            self.lights, self.board, self.clock, LAYOUT, link=lambda: self.link,
            timing=self.meter,
        )


def test_a_frame_is_sent_once_and_not_again_while_nothing_changes() -> None:
    rig = Rig()
    rig.board.publish(snapshot())
    assert rig.loop.render(0.0)
    assert not rig.loop.render(0.05)
    assert not rig.loop.render(0.10)
    assert rig.lights.last_pixels == (GREEN,) * 8
    assert rig.lights.shows == 1


def test_before_the_first_snapshot_the_bar_is_red() -> None:
    rig = Rig()
    rig.loop.render(0.0)
    assert rig.lights.last_pixels == (RED,) * 8


def test_a_state_change_is_sent_at_the_next_tick() -> None:
    rig = Rig()
    rig.board.publish(snapshot())
    rig.loop.render(0.0)
    rig.link = LinkView(LinkState.WAITING, 1, 30.0, "refused")
    assert rig.loop.render(0.05)
    assert rig.lights.last_pixels != (GREEN,) * 8


def test_each_blink_phase_is_sent_to_a_device_that_cannot_blink_by_itself() -> None:
    rig = Rig()
    rig.board.publish(snapshot(SystemState.EMERGENCY))
    sent = [rig.loop.render(t / 20) for t in range(20)]  # 1 s at 20 Hz
    assert sum(sent) == 4  # on at 0, off at 250 ms, on at 500, off at 750
    assert [p for _, p in rig.lights.frames] == [(RED,) * 8, (OFF,) * 8] * 2


def test_a_device_that_blinks_by_itself_gets_the_frame_once() -> None:
    rig = Rig(blinks_by_itself=True)
    rig.board.publish(snapshot(SystemState.EMERGENCY))
    sent = [rig.loop.render(t / 20) for t in range(20)]
    assert sum(sent) == 1
    assert all(cue.blink is not None for cue in rig.lights.last_frame)


def test_a_device_error_is_retried_next_tick_and_never_ends_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig()
    rig.board.publish(snapshot())
    rig.lights.fail_next(OSError(errno.EIO, "SPI transfer failed"))
    assert not rig.loop.render(0.0)
    assert rig.loop.render(0.05)  # the same frame again, now written
    assert rig.lights.last_pixels == (GREEN,) * 8
    assert "cannot be written" in caplog.text


def test_the_thread_records_its_lateness_and_leaves_the_leds_dark_when_stopped() -> None:
    lights = FakeLights()
    board = InMemoryStatusBoard()
    board.publish(snapshot())
    meter = LatenessMeter()
    from adapters.clock import SystemClock

    loop = ShowStatusLights(lights, board, SystemClock(), LAYOUT, timing=meter)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    assert lights.wait_for_shows(1, timeout_s=2.0)
    deadline = time.monotonic() + 5.0
    while meter.summary().samples < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=2.0)
    assert not thread.is_alive()
    assert lights.closed
    assert meter.summary().samples >= 4
