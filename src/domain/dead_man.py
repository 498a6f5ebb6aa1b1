"""The dead man of a continuous run: the motion is sent as bounded segments, renewed only
while the daemon is healthy, so a hung or killed daemon's pump stops on its own.

Never is more than ``dead_man_s`` of motion planned on the controller: a segment is
``dead_man_s / 2`` of travel at the run's feed, and the next one is sent only once less
than ``dead_man_s / 2`` remains planned. If renewals stop, the pump runs out of planned
motion within ``dead_man_s`` and stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Grbl takes positions to 0.001 mm (interface.md); segment lengths are rounded to it.
_STEP_MM = 0.001


@dataclass(frozen=True, slots=True)
class Segment:
    """One bounded move to send: ``length_mm`` (mm); ``final`` when it ends the run (it
    then carries the controller's completion marker)."""

    length_mm: float
    final: bool


@dataclass(slots=True)
class DeadManRun:
    """Segment bookkeeping of one continuous run.

    ``total_mm`` (mm) is the most the run may travel (its safety allowance, e.g. the max
    single dose or what is left of a daily limit); ``feed_mm_min`` (mm/min) its feed;
    ``dead_man_s`` (s) the longest the pump may go on without the daemon.

    Raises ``ValueError`` when a value is not positive and finite.
    """

    total_mm: float
    feed_mm_min: float
    dead_man_s: float
    sent_mm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("total_mm", "feed_mm_min", "dead_man_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value}")

    @property
    def segment_mm(self) -> float:
        """Travel (mm) of one full segment: half the dead-man time at the run's feed."""
        return max(_STEP_MM, round(self.feed_mm_min * self.dead_man_s / 2 / 60, 3))

    @property
    def fully_sent(self) -> bool:
        """Whether the final segment has been sent."""
        return self.sent_mm >= self.total_mm - _STEP_MM / 2

    def planned_s(self, travelled_mm: float) -> float:
        """Seconds of motion (s) still planned on the controller after ``travelled_mm``."""
        return max(0.0, self.sent_mm - travelled_mm) * 60 / self.feed_mm_min

    def next_segment(self, travelled_mm: float) -> Segment | None:
        """The segment to send now, given the axis has travelled ``travelled_mm`` (mm) since
        the run began, or None when enough is planned or the run is fully sent. Records the
        segment as sent."""
        if self.fully_sent:
            return None
        if self.sent_mm > 0 and self.planned_s(travelled_mm) >= self.dead_man_s / 2:
            return None
        length = round(min(self.segment_mm, self.total_mm - self.sent_mm), 3)
        self.sent_mm = round(self.sent_mm + length, 3)
        return Segment(length, self.fully_sent)
