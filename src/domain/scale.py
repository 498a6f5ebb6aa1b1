"""What a scale tells the daemon: one weight reading, in grams, stable or not."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ReadingStatus(enum.Enum):
    """How the scale qualified a reading (MT-SICS status field: ``S`` stable, ``D``
    dynamic, ``+`` overload, ``-`` underload)."""

    STABLE = "stable"
    DYNAMIC = "dynamic"
    OVERLOAD = "overload"
    UNDERLOAD = "underload"


@dataclass(frozen=True, slots=True)
class ScaleReading:
    """One weight value: ``grams`` (g, net of the tare; NaN when over- or underloaded),
    ``status``, and ``at_s`` (s, the reader's monotonic clock when the line arrived)."""

    grams: float
    status: ReadingStatus
    at_s: float

    @property
    def stable(self) -> bool:
        """The scale called this weight stable (within its stability window)."""
        return self.status is ReadingStatus.STABLE

    @property
    def in_range(self) -> bool:
        """Neither overloaded nor underloaded: ``grams`` is a weight."""
        return self.status in (ReadingStatus.STABLE, ReadingStatus.DYNAMIC)
