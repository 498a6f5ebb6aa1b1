"""The system clock: UTC wall time, monotonic seconds and sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class SystemClock:
    """``Clock`` port on the operating system's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class EventSleeper:
    """``Sleeper`` on a ``threading.Event``: waits end at once when ``stop()`` is called."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Request shutdown: every current and future wait returns True at once."""
        self._stop.set()

    def wait(self, seconds: float) -> bool:
        return self._stop.wait(max(0.0, seconds))
