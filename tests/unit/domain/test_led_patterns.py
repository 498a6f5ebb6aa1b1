"""The status LED patterns: each state gives the user's colours on the right segment."""

from __future__ import annotations

import pytest

from domain.led import (
    AMBER,
    BLUE,
    DIM_FACTOR,
    EMERGENCY_BLINK_MS,
    GREEN,
    OFF,
    RED,
    WHITE,
    Blink,
    BrokerLight,
    LedCue,
    LedLayout,
    LightsInput,
    PumpLight,
    Rgb,
    broker_light,
    frame_current_ma,
    lights_input,
    pixels_at,
    status_frame,
)
from domain.mqtt_link import LinkState, LinkView
from domain.pump import PumpState
from domain.status import ControllerView, PumpView, SystemSnapshot, SystemState

PUMPS = ("X", "Y", "Z", "A")
FULL = LedLayout(count=32, pump_ids=PUMPS, brightness=1.0, max_current_ma=10_000)


def idle_input(**changes: object) -> LightsInput:
    pumps = tuple(PumpLight(p, PumpState.IDLE) for p in PUMPS)
    base = LightsInput(SystemState.IDLE, controller_connected=True, pumps=pumps)
    fields = {
        "state": base.state,
        "controller_connected": base.controller_connected,
        "pumps": base.pumps,
        "broker": base.broker,
    }
    fields.update(changes)
    return LightsInput(**fields)  # type: ignore[arg-type]


def with_pump(pump: PumpLight) -> LightsInput:
    pumps = tuple(pump if p.pump_id == pump.pump_id else p for p in idle_input().pumps)
    state = SystemState.DISPENSING if pump.state is not PumpState.IDLE else SystemState.IDLE
    return idle_input(pumps=pumps, state=state)


def colours(frame: tuple[LedCue, ...], at_ms: int = 0) -> list[Rgb]:
    return list(pixels_at(frame, at_ms))


def test_idle_is_green_on_every_segment() -> None:
    assert colours(status_frame(idle_input(), FULL)) == [GREEN] * 32


def test_dosing_fills_its_own_segment_with_progress_and_leaves_the_others_green() -> None:
    frame = status_frame(with_pump(PumpLight("Y", PumpState.DOSING, 0.5)), FULL)
    pixels = colours(frame)
    assert pixels[:8] == [GREEN] * 8
    assert pixels[8:12] == [BLUE] * 4
    assert pixels[12:16] == [BLUE.scaled(DIM_FACTOR)] * 4
    assert pixels[16:] == [GREEN] * 16


@pytest.mark.parametrize(
    ("progress", "lit"), [(0.0, 1), (0.01, 1), (0.125, 1), (0.13, 2), (0.99, 8), (1.0, 8)]
)
def test_the_progress_bar_lights_at_least_one_led_and_never_more_than_the_segment(
    progress: float, lit: int
) -> None:
    pixels = colours(status_frame(with_pump(PumpLight("X", PumpState.DOSING, progress)), FULL))
    assert pixels[:8].count(BLUE) == lit


def test_a_continuous_run_lights_the_whole_segment() -> None:
    pixels = colours(status_frame(with_pump(PumpLight("X", PumpState.DOSING, None)), FULL))
    assert pixels[:8] == [BLUE] * 8


def test_holding_is_amber_and_fault_is_red() -> None:
    holding = colours(status_frame(with_pump(PumpLight("Z", PumpState.HOLDING, 0.3)), FULL))
    assert holding[16:24] == [AMBER] * 8
    fault = colours(status_frame(with_pump(PumpLight("A", PumpState.FAULT)), FULL))
    assert fault[24:] == [RED] * 8
    assert fault[:24] == [GREEN] * 24


def test_emergency_flashes_the_whole_bar_red() -> None:
    frame = status_frame(idle_input(state=SystemState.EMERGENCY), FULL)
    assert colours(frame, 0) == [RED] * 32
    assert colours(frame, EMERGENCY_BLINK_MS) == [OFF] * 32
    assert colours(frame, 2 * EMERGENCY_BLINK_MS + 10) == [RED] * 32


def test_emergency_wins_over_any_pump_state() -> None:
    dosing = with_pump(PumpLight("X", PumpState.DOSING, 0.5))
    frame = status_frame(idle_input(pumps=dosing.pumps, state=SystemState.EMERGENCY), FULL)
    assert {cue.blink for cue in frame} == {Blink(EMERGENCY_BLINK_MS, EMERGENCY_BLINK_MS)}


def test_idle_segments_are_dim_white_while_the_broker_is_unreachable() -> None:
    offline = idle_input(broker=BrokerLight.UNREACHABLE)
    assert colours(status_frame(offline, FULL)) == [WHITE.scaled(DIM_FACTOR)] * 32
    dosing = with_pump(PumpLight("X", PumpState.DOSING, 1.0))
    pixels = colours(status_frame(idle_input(pumps=dosing.pumps, broker=BrokerLight.UNREACHABLE,
                                             state=SystemState.DISPENSING), FULL))
    assert pixels[:8] == [BLUE] * 8  # the pump's own state wins
    assert pixels[8:] == [WHITE.scaled(DIM_FACTOR)] * 24


def test_a_lost_controller_shows_every_segment_red() -> None:
    assert colours(status_frame(idle_input(controller_connected=False), FULL)) == [RED] * 32


def test_a_pump_missing_from_the_snapshot_shows_red() -> None:
    pumps = tuple(p for p in idle_input().pumps if p.pump_id != "Z")
    assert colours(status_frame(idle_input(pumps=pumps), FULL))[16:24] == [RED] * 8


def test_brightness_scales_every_colour() -> None:
    layout = LedLayout(count=32, pump_ids=PUMPS, brightness=0.25, max_current_ma=10_000)
    assert colours(status_frame(idle_input(), layout)) == [Rgb(0, 63, 0)] * 32


def test_the_current_budget_caps_the_brightest_frame() -> None:
    layout = LedLayout(count=32, pump_ids=PUMPS, brightness=1.0, max_current_ma=300)
    frame = status_frame(idle_input(), layout)  # 32 x 20 mA of green uncapped
    assert frame_current_ma(colours(frame)) <= 300
    assert frame_current_ma(colours(frame)) > 290


def test_leds_left_over_after_the_segments_stay_dark() -> None:
    layout = LedLayout(count=10, pump_ids=("X", "Y", "Z"), brightness=1.0)
    pixels = colours(status_frame(idle_input(pumps=(PumpLight("X", PumpState.IDLE),
                                                    PumpLight("Y", PumpState.IDLE),
                                                    PumpLight("Z", PumpState.IDLE))), layout))
    assert pixels == [GREEN] * 9 + [OFF]


@pytest.mark.parametrize(
    ("count", "pumps", "brightness", "current"),
    [(3, PUMPS, 0.5, 100.0), (8, (), 0.5, 100.0), (8, PUMPS, 0.0, 100.0),
     (8, PUMPS, 1.5, 100.0), (8, PUMPS, 0.5, 0.0)],
)
def test_an_impossible_layout_is_refused(
    count: int, pumps: tuple[str, ...], brightness: float, current: float
) -> None:
    with pytest.raises(ValueError):
        LedLayout(count, pumps, brightness, current)


def test_colour_channels_outside_a_byte_are_refused() -> None:
    with pytest.raises(ValueError):
        Rgb(256, 0, 0)


@pytest.mark.parametrize(
    ("state", "failures", "light"),
    [
        (LinkState.CONNECTED, 0, BrokerLight.CONNECTED),
        (LinkState.CONNECTING, 0, BrokerLight.CONNECTED),
        (LinkState.DISCONNECTED, 0, BrokerLight.CONNECTED),
        (LinkState.WAITING, 1, BrokerLight.UNREACHABLE),
        (LinkState.CONNECTING, 3, BrokerLight.UNREACHABLE),
    ],
)
def test_the_broker_is_unreachable_once_an_attempt_failed(
    state: LinkState, failures: int, light: BrokerLight
) -> None:
    assert broker_light(LinkView(state, failures, 30.0, "")) is light


def test_no_mqtt_means_no_broker_light() -> None:
    assert broker_light(None) is BrokerLight.DISABLED


def test_the_input_is_read_from_a_snapshot_with_dose_progress() -> None:
    view = PumpView(
        pump_id="X", name="DMDEE", state=PumpState.DOSING, dose_id="d1", requested_ml=10.0,
        dispensed_ml=2.5, flow_rate_ml_min=60.0, ml_per_mm=0.05, max_flow_ml_min=150.0,
        max_dose_ml=100.0, fault_reason="",
    )
    snapshot = SystemSnapshot(SystemState.DISPENSING, (view,), ControllerView(True, "Run"))
    lights = lights_input(snapshot, None)
    assert lights.pumps == (PumpLight("X", PumpState.DOSING, 0.25),)
    assert lights.controller_connected
    assert not lights_input(None, None).controller_connected
