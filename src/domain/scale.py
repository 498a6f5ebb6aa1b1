"""What a scale tells the daemon (one weight reading, in grams, stable or not) and the
snapshot of the scale and its dispense by weight that the control plane publishes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from domain.weighing import WeighResult


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


@dataclass(frozen=True, slots=True)
class WeighRunView:
    """A dispense by weight as others see it: ``phase`` (taring, fast, settling, dribble,
    topup, done, aborted), target and net weight (g), when it started (UTC) and, once
    ended, its result (``domain.weighing.WeighResult``)."""

    run_id: str
    pump_id: str
    origin: str
    target_g: float
    tolerance_g: float
    phase: str
    net_g: float
    started_at: datetime
    result: WeighResult | None = None


@dataclass(frozen=True, slots=True)
class ScaleView:
    """The scale as the control plane last saw it: configured, link up, the last reading
    (None before the first), why it is down, and the live (or last) dispense by weight."""

    configured: bool
    connected: bool
    reading: ScaleReading | None = None
    detail: str = ""
    run: WeighRunView | None = None
