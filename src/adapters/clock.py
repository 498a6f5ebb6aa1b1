"""The system clock: UTC wall time, monotonic seconds and sleeping."""

from __future__ import annotations

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
