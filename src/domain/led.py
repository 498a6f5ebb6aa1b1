"""Status LED patterns: what the lights show for a system state (pure; no I/O, no clock).

The user's layout: one strip segment per pump (4 strips x 8 LEDs for pumps X, Y, Z, A),
in pump order along one chain. Per segment, most urgent first:

- emergency stop latched: the whole bar flashes red (250 ms on, 250 ms off);
- controller link down: every segment steady red (no pump can be trusted to move);
- pump fault: red;
- pump holding (feed hold): amber;
- pump dosing: blue, the first ⌈progress x n⌉ LEDs bright and the rest dim, so the bar
  fills as the dose goes (a continuous run, with no volume, fills the whole segment);
- pump idle: green, or dim white while the MQTT broker is unreachable (a busy or faulted
  segment keeps its colour: the pump's own state matters more to the person at the bench).

Brightness is capped twice: every colour is scaled by ``brightness`` (0-1), and then the
whole frame is scaled down, if need be, so its estimated supply current stays within
``max_current_ma`` (a WS2812B draws about 20 mA per colour channel at full scale, the
figure power-limited firmwares such as FastLED and WLED budget with).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from domain.mqtt_link import LinkState, LinkView
from domain.pump import PumpState
from domain.status import SystemSnapshot, SystemState

MA_PER_CHANNEL = 20.0
"""Supply current (mA) of one WS2812B colour channel at 255 (the datasheet's ~12-20 mA;
the upper figure, so the budget errs on the safe side)."""

EMERGENCY_BLINK_MS = 250
DIM_FACTOR = 0.15
"""How dim the dim colours are (idle white while offline, the unfilled part of a dose)."""


@dataclass(frozen=True, slots=True)
class Rgb:
    """A colour, each channel 0-255."""

    r: int
    g: int
    b: int

    def __post_init__(self) -> None:
        for channel in (self.r, self.g, self.b):
            if not 0 <= channel <= 255:
                raise ValueError(f"colour channel {channel} outside 0..255")

    def scaled(self, factor: float) -> Rgb:
        """This colour times ``factor`` (0-1), rounded down (so a cap is never exceeded)."""
        return Rgb(*(math.floor(channel * factor) for channel in (self.r, self.g, self.b)))

    @property
    def current_ma(self) -> float:
        """Estimated supply current of one LED showing this colour (mA)."""
        return (self.r + self.g + self.b) / 255 * MA_PER_CHANNEL


OFF = Rgb(0, 0, 0)
RED = Rgb(255, 0, 0)
GREEN = Rgb(0, 255, 0)
BLUE = Rgb(0, 0, 255)
AMBER = Rgb(255, 110, 0)
WHITE = Rgb(255, 255, 255)


@dataclass(frozen=True, slots=True)
class Blink:
    """A blink period: ``on_ms`` lit, then ``off_ms`` dark, phase 0 at time 0."""

    on_ms: int
    off_ms: int

    def lit_at(self, at_ms: int) -> bool:
        """Whether the LED is lit at ``at_ms`` (ms on any monotonic clock)."""
        return at_ms % (self.on_ms + self.off_ms) < self.on_ms


EMERGENCY_BLINK = Blink(EMERGENCY_BLINK_MS, EMERGENCY_BLINK_MS)


@dataclass(frozen=True, slots=True)
class LedCue:
    """What one LED shows: a colour, steady or blinking."""

    color: Rgb
    blink: Blink | None = None

    def at(self, at_ms: int) -> Rgb:
        """The colour this LED has at ``at_ms`` (ms)."""
        if self.blink is None or self.blink.lit_at(at_ms):
            return self.color
        return OFF


LedFrame = tuple[LedCue, ...]
"""One cue per LED, in chain order."""


def pixels_at(frame: LedFrame, at_ms: int) -> tuple[Rgb, ...]:
    """The colours ``frame`` has at ``at_ms`` (ms): blinking cues resolved to on or off."""
    return tuple(cue.at(at_ms) for cue in frame)


class BrokerLight(enum.Enum):
    """The MQTT link as the lights see it: not configured, connected, or unreachable."""

    DISABLED = "disabled"
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class PumpLight:
    """A pump's part of the lights: its state and dose progress (0-1; None when the run
    has no volume, a continuous run)."""

    pump_id: str
    state: PumpState
    progress: float | None = None


@dataclass(frozen=True, slots=True)
class LightsInput:
    """Everything a frame depends on, copied from one status snapshot."""

    state: SystemState
    controller_connected: bool
    pumps: tuple[PumpLight, ...]
    broker: BrokerLight = BrokerLight.DISABLED


def broker_light(link: LinkView | None) -> BrokerLight:
    """The lights' view of the MQTT link (None: MQTT disabled). Unreachable once an attempt
    failed and until one succeeds; a first attempt still under way is not yet a failure."""
    if link is None:
        return BrokerLight.DISABLED
    if link.state is LinkState.CONNECTED:
        return BrokerLight.CONNECTED
    if link.state is LinkState.WAITING or link.failures > 0:
        return BrokerLight.UNREACHABLE
    return BrokerLight.CONNECTED


def lights_input(snapshot: SystemSnapshot | None, link: LinkView | None) -> LightsInput:
    """What the lights depend on in ``snapshot`` (None before the control plane's first
    one: shown as a controller not yet connected) and the MQTT ``link``."""
    broker = broker_light(link)
    if snapshot is None:
        return LightsInput(SystemState.IDLE, controller_connected=False, pumps=(), broker=broker)
    pumps = tuple(
        PumpLight(
            view.pump_id,
            view.state,
            view.dispensed_ml / view.requested_ml
            if view.requested_ml and view.dispensed_ml is not None
            else None,
        )
        for view in snapshot.pumps
    )
    return LightsInput(snapshot.state, snapshot.controller.connected, pumps, broker)


@dataclass(frozen=True, slots=True)
class LedLayout:
    """``count`` LEDs on one chain, cut into equal segments, one per pump in ``pump_ids``
    order (``count // len(pump_ids)`` each; LEDs left over stay dark). ``brightness``
    (0-1] scales every colour; ``max_current_ma`` (mA) caps the frame's supply current.

    Raises ``ValueError`` when the numbers cannot make a layout.
    """

    count: int
    pump_ids: tuple[str, ...]
    brightness: float = 0.25
    max_current_ma: float = 1000.0

    def __post_init__(self) -> None:
        if not self.pump_ids:
            raise ValueError("a LED layout needs at least one pump")
        if self.count < len(self.pump_ids):
            raise ValueError(
                f"{self.count} LEDs cannot give each of {len(self.pump_ids)} pumps a segment"
            )
        if not 0.0 < self.brightness <= 1.0:
            raise ValueError(f"brightness {self.brightness} outside (0, 1]")
        if not self.max_current_ma > 0:
            raise ValueError(f"max_current_ma {self.max_current_ma} must be > 0")

    @property
    def per_pump(self) -> int:
        """LEDs in each pump's segment."""
        return self.count // len(self.pump_ids)

    def segment(self, pump_id: str) -> range:
        """The chain indices of ``pump_id``'s segment; ``KeyError`` for an unknown pump."""
        try:
            index = self.pump_ids.index(pump_id)
        except ValueError:
            raise KeyError(pump_id) from None
        return range(index * self.per_pump, (index + 1) * self.per_pump)


def status_frame(lights: LightsInput, layout: LedLayout) -> LedFrame:
    """The frame for ``lights`` on ``layout``: colours by the rules in this module's
    docstring, scaled by the brightness and then into the current budget."""
    if lights.state is SystemState.EMERGENCY:
        raw = (LedCue(RED, EMERGENCY_BLINK),) * (layout.per_pump * len(layout.pump_ids))
    else:
        by_id = {pump.pump_id: pump for pump in lights.pumps}
        raw = tuple(
            cue
            for pump_id in layout.pump_ids
            for cue in _segment(by_id.get(pump_id), lights, layout.per_pump)
        )
    raw += (LedCue(OFF),) * (layout.count - len(raw))
    return _capped(raw, layout)


def _segment(pump: PumpLight | None, lights: LightsInput, n: int) -> Sequence[LedCue]:
    if not lights.controller_connected or pump is None or pump.state is PumpState.FAULT:
        return [LedCue(RED)] * n
    if pump.state is PumpState.HOLDING:
        return [LedCue(AMBER)] * n
    if pump.state is PumpState.DOSING:
        progress = 1.0 if pump.progress is None else min(max(pump.progress, 0.0), 1.0)
        lit = max(1, math.ceil(progress * n - 1e-9))
        return [LedCue(BLUE)] * lit + [LedCue(BLUE.scaled(DIM_FACTOR))] * (n - lit)
    if lights.broker is BrokerLight.UNREACHABLE:
        return [LedCue(WHITE.scaled(DIM_FACTOR))] * n
    return [LedCue(GREEN)] * n


def _capped(frame: LedFrame, layout: LedLayout) -> LedFrame:
    """``frame`` scaled by the brightness, then down into the current budget (computed
    with every blinking LED lit, the frame's worst case)."""
    factor = layout.brightness
    current = frame_current_ma([cue.color for cue in frame]) * factor
    if current > layout.max_current_ma:
        factor *= layout.max_current_ma / current
    return tuple(LedCue(cue.color.scaled(factor), cue.blink) for cue in frame)


def frame_current_ma(pixels: Sequence[Rgb]) -> float:
    """Estimated supply current (mA) of a chain showing ``pixels``."""
    return sum(pixel.current_ma for pixel in pixels)
