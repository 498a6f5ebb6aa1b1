"""A fake of the status lights: records what the renderer shows, for tests and
``--simulate``, and can be told to fail like a device that cannot be written."""

from __future__ import annotations

import errno
import threading

from domain.led import LedFrame, Rgb

Shown = tuple[LedFrame, tuple[Rgb, ...]]
"""One ``show``: the frame and its colours at that moment."""


class FakeLights:
    """``StatusLights`` in memory. ``blinks_by_itself`` is whatever the test needs (the
    renderer sends every blink phase when it is False, only frame changes when True).

    Records every successful ``show`` as ``(frame, pixels)``: ``frames`` (a copy),
    ``shows``, ``last_frame``, ``last_pixels``. ``fail_next(exc)`` makes the next
    ``show`` raise ``exc`` instead of recording. After ``close`` (``closed``, counted in
    ``closes``) ``show`` raises ``OSError``, as the real devices do. Thread-safe: the
    render thread shows while the test reads.
    """

    def __init__(self, *, blinks_by_itself: bool = False) -> None:
        self.blinks_by_itself = blinks_by_itself
        self.closed = False
        self.closes = 0
        self._shown: list[Shown] = []
        self._failure: Exception | None = None
        self._changed = threading.Condition()

    def show(self, frame: LedFrame, pixels: tuple[Rgb, ...]) -> None:
        """Record ``frame`` and ``pixels``. Raises ``ValueError`` when their lengths
        differ, the exception given to ``fail_next`` once, and ``OSError`` once closed."""
        if len(frame) != len(pixels):
            raise ValueError(f"a frame of {len(frame)} cues with {len(pixels)} pixels")
        with self._changed:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            if self.closed:
                raise OSError(errno.EBADF, "the fake lights were closed")
            self._shown.append((frame, pixels))
            self._changed.notify_all()

    def close(self) -> None:
        """Mark the lights closed (dark); idempotent, but every call is counted."""
        with self._changed:
            self.closed = True
            self.closes += 1
            self._changed.notify_all()

    def fail_next(self, exc: Exception) -> None:
        """Make the next ``show`` raise ``exc`` (e.g. ``OSError(errno.EIO, ...)``)."""
        with self._changed:
            self._failure = exc

    @property
    def frames(self) -> list[Shown]:
        """Every recorded show, oldest first (a copy)."""
        with self._changed:
            return list(self._shown)

    @property
    def shows(self) -> int:
        """How many shows were recorded."""
        with self._changed:
            return len(self._shown)

    @property
    def last_frame(self) -> LedFrame:
        """The newest frame shown; ``LookupError`` before the first show."""
        return self._last()[0]

    @property
    def last_pixels(self) -> tuple[Rgb, ...]:
        """The newest colours shown; ``LookupError`` before the first show."""
        return self._last()[1]

    def wait_for_shows(self, count: int, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` (s) until at least ``count`` shows are recorded;
        whether they were."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._shown) >= count, timeout_s)

    def _last(self) -> Shown:
        with self._changed:
            if not self._shown:
                raise LookupError("nothing shown yet")
            return self._shown[-1]
