"""The status LED render loop (DESIGN §2): its own thread, 20 Hz, frames from snapshots.

Each tick reads the control plane's latest snapshot and the MQTT link's view, builds the
frame (``domain.led``) and sends it only when something visible changed: a new frame, or,
on a device that cannot blink by itself (WS2812B), a blink phase turning. A WS2812B frame
then goes out in one SPI write, timed by the DMA hardware, so no other thread's work can
stretch a bit; what load can delay is only when a frame starts, which ``timing`` records.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from application.lateness_meter import LatenessMeter
from application.ports import Clock, StatusBoard, StatusLights
from domain.led import LedFrame, LedLayout, Rgb, lights_input, pixels_at, status_frame
from domain.mqtt_link import LinkView

log = logging.getLogger(__name__)

FRAME_PERIOD_S = 0.05  # 20 Hz


class ShowStatusLights:
    """Renders the status frame on ``lights`` every ``period_s`` (s) until stopped.

    ``link`` gives the MQTT link's view (None: MQTT disabled). ``timing`` records how late
    each tick woke behind its schedule. A device error is logged (once per failure
    streak) and the frame retried next tick; it never ends the loop.
    """

    def __init__(
        self,
        lights: StatusLights,
        board: StatusBoard,
        clock: Clock,
        layout: LedLayout,
        *,
        link: Callable[[], LinkView] | None = None,
        period_s: float = FRAME_PERIOD_S,
        timing: LatenessMeter | None = None,
    ) -> None:
        self._lights = lights
        self._board = board
        self._clock = clock
        self._layout = layout
        self._link = link
        self._period_s = period_s
        self._timing = timing
        self._last_frame: LedFrame | None = None
        self._last_pixels: tuple[Rgb, ...] | None = None
        self._failing = False

    def run(self, stop: threading.Event) -> None:
        """The render thread's body: tick on a fixed schedule until ``stop`` is set, then
        leave the LEDs dark. A tick that overran a whole period skips ahead rather than
        bursting to catch up."""
        due = self._clock.monotonic()
        try:
            while True:
                delay = due - self._clock.monotonic()
                if (delay > 0 and stop.wait(delay)) or stop.is_set():
                    return
                now = self._clock.monotonic()
                if self._timing is not None:
                    self._timing.record(now - due)
                self.render(now)
                due += self._period_s
                if now - due > self._period_s:
                    due = now + self._period_s
        finally:
            self._close()

    def render(self, now_s: float) -> bool:
        """Build the frame for ``now_s`` (s, monotonic) and send it if something visible
        changed; whether it was sent."""
        try:
            snapshot = self._board.latest()
        except LookupError:
            snapshot = None
        link = self._link() if self._link is not None else None
        frame = status_frame(lights_input(snapshot, link), self._layout)
        pixels = pixels_at(frame, round(now_s * 1000))
        if self._lights.blinks_by_itself:
            changed = frame != self._last_frame
        else:
            changed = pixels != self._last_pixels
        if not changed:
            return False
        try:
            self._lights.show(frame, pixels)
        except OSError as exc:
            if not self._failing:
                log.warning("status LEDs cannot be written: %s", exc)
            self._failing = True
            return False
        if self._failing:
            log.info("status LEDs written again")
            self._failing = False
        self._last_frame, self._last_pixels = frame, pixels
        return True

    def _close(self) -> None:
        try:
            self._lights.close()
        except OSError as exc:
            log.warning("status LEDs could not be darkened: %s", exc)
