"""Motion model of the Grbl simulator: a 15-block planner executing straight moves.

Each block runs a trapezoidal speed profile (accelerate, cruise, decelerate to rest at the
block's end; blocks are not blended as Grbl's look-ahead would). A feed hold decelerates at
the block's acceleration and keeps the rest of the block for the resume. Positions are whole
steps, as Grbl's ``sys_position`` is (planner.c: targets are rounded to steps). Time is the
caller's clock (s), so tests can step it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

MINIMUM_FEED_RATE_MM_MIN = 1.0  # Grbl config.h MINIMUM_FEED_RATE


@dataclass(frozen=True, slots=True)
class Trapezoid:
    """Speed over time for one stretch ending at rest: from ``entry`` up to ``peak`` (mm/s)
    at ``accel`` (mm/s²), a cruise of ``cruise_mm`` (mm), then down to zero; starts at ``t0``."""

    t0: float
    entry: float
    peak: float
    accel: float
    cruise_mm: float

    @classmethod
    def plan(
        cls, t0: float, distance_mm: float, entry: float, top: float, accel: float
    ) -> Trapezoid:
        """Fastest profile over ``distance_mm`` from speed ``entry`` capped at ``top`` (mm/s)."""
        peak = max(entry, min(top, math.sqrt(accel * distance_mm + entry * entry / 2)))
        ramps = (2 * peak * peak - entry * entry) / (2 * accel)
        return cls(t0, entry, peak, accel, max(0.0, distance_mm - ramps))

    @property
    def distance_mm(self) -> float:
        return (2 * self.peak**2 - self.entry**2) / (2 * self.accel) + self.cruise_mm

    @property
    def end(self) -> float:
        """Clock time (s) the profile comes to rest."""
        cruise_s = self.cruise_mm / self.peak if self.peak > 0 else 0.0
        return self.t0 + (2 * self.peak - self.entry) / self.accel + cruise_s

    def at(self, t: float) -> tuple[float, float]:
        """(distance travelled in mm, speed in mm/s) at clock time ``t``."""
        tau = max(0.0, t - self.t0)
        up_s = (self.peak - self.entry) / self.accel
        if tau < up_s:
            return self.entry * tau + self.accel * tau * tau / 2, self.entry + self.accel * tau
        done = (self.peak**2 - self.entry**2) / (2 * self.accel)
        tau -= up_s
        cruise_s = self.cruise_mm / self.peak if self.peak > 0 else 0.0
        if tau < cruise_s:
            return done + self.peak * tau, self.peak
        tau = min(tau - cruise_s, self.peak / self.accel)
        return done + self.cruise_mm + self.peak * tau - self.accel * tau * tau / 2, (
            self.peak - self.accel * tau
        )


@dataclass(slots=True)
class _Block:
    start: tuple[int, ...]  # steps
    delta: tuple[int, ...]  # steps
    length_mm: float
    speed_mm_s: float
    accel_mm_s2: float
    done_mm: float = 0.0  # travelled before the current profile


class MotionPlanner:
    """Grbl's planner buffer and steppers, reduced to what a host can observe.

    ``steps_per_mm``, ``max_rate_mm_min`` (mm/min) and ``accel_mm_s2`` (mm/s²) are per-axis
    lists (Grbl ``$100``, ``$110``, ``$120``) and may be changed between blocks. Capacity 15:
    Grbl 1.1 planner.h BLOCK_BUFFER_SIZE 16 keeps one slot empty. The executing block
    occupies a slot until it ends. Every method that takes ``now`` (s) first advances time.
    """

    capacity = 15

    def __init__(
        self, steps_per_mm: list[float], max_rate_mm_min: list[float], accel_mm_s2: list[float]
    ) -> None:
        self.steps_per_mm, self.max_rate_mm_min = steps_per_mm, max_rate_mm_min
        self.accel_mm_s2 = accel_mm_s2
        self._rest: tuple[int, ...] = (0,) * len(steps_per_mm)  # position when nothing queued
        self._planned = self._rest  # end of the last queued block
        self._queue: deque[_Block] = deque()
        self._profile: Trapezoid | None = None
        self._holding = False

    @property
    def queued(self) -> int:
        """Blocks in the planner, the executing one included."""
        return len(self._queue)

    @property
    def full(self) -> bool:
        return len(self._queue) >= self.capacity

    @property
    def running(self) -> bool:
        """True while the steppers move (a cycle or a hold still decelerating)."""
        return self._profile is not None

    def add_line(self, target_mm: Sequence[float], feed_mm_min: float | None) -> None:
        """Queue a straight move to ``target_mm`` (machine mm) at ``feed_mm_min`` (mm/min),
        or at the axes' maximum rates when None (G0). A move of zero steps is dropped, as
        planner.c's empty block is. The caller checks ``full`` first."""
        target = tuple(round(t * s) for t, s in zip(target_mm, self.steps_per_mm, strict=True))
        delta = tuple(t - p for t, p in zip(target, self._planned, strict=True))
        if not any(delta):
            return
        mm = [d / s for d, s in zip(delta, self.steps_per_mm, strict=True)]
        length = math.sqrt(sum(m * m for m in mm))
        unit = [abs(m) / length for m in mm]
        rapid = _limit_by_axes(self.max_rate_mm_min, unit)
        feed = rapid if feed_mm_min is None else min(feed_mm_min, rapid)
        speed = max(feed, MINIMUM_FEED_RATE_MM_MIN) / 60.0
        self._queue.append(
            _Block(self._planned, delta, length, speed, _limit_by_axes(self.accel_mm_s2, unit))
        )
        self._planned = target

    def advance(self, now: float) -> None:
        """Run the steppers up to ``now``: finish blocks, chain the next, end a hold."""
        while self._profile is not None and now >= self._profile.end:
            block, ended = self._queue[0], self._profile.end
            block.done_mm += self._profile.distance_mm
            self._profile = None
            if block.done_mm < block.length_mm - 1e-9:
                return  # a hold came to rest inside the block
            self._rest = tuple(s + d for s, d in zip(block.start, block.delta, strict=True))
            self._queue.popleft()
            if self._queue and not self._holding:
                self._start_block(ended)

    def resume(self, now: float) -> None:
        """Cycle start: run the queued blocks (after a completed hold: the rest of one)."""
        self.advance(now)
        self._holding = False
        if self._profile is None and self._queue:
            self._start_block(now)

    def hold(self, now: float) -> None:
        """Feed hold: decelerate to rest at the block's acceleration; keep what remains."""
        self.advance(now)
        self._holding = True
        if self._profile is None:
            return
        block = self._queue[0]
        travelled, speed = self._profile.at(now)
        block.done_mm += travelled
        stop_mm = min(speed * speed / (2 * block.accel_mm_s2), block.length_mm - block.done_mm)
        self._profile = Trapezoid.plan(now, stop_mm, speed, speed, block.accel_mm_s2)

    def halt(self, now: float) -> None:
        """Soft reset: stop dead where the steppers are and discard every planned block."""
        self._rest = self.position_steps(now)
        self._planned, self._profile, self._holding = self._rest, None, False
        self._queue.clear()

    def position_steps(self, now: float) -> tuple[int, ...]:
        self.advance(now)
        if not self._queue:
            return self._rest
        block = self._queue[0]
        done = block.done_mm + (self._profile.at(now)[0] if self._profile else 0.0)
        frac = min(1.0, done / block.length_mm)
        return tuple(s + round(d * frac) for s, d in zip(block.start, block.delta, strict=True))

    def position_mm(self, now: float) -> tuple[float, ...]:
        """Machine position (mm) of each axis, at step resolution."""
        steps = self.position_steps(now)
        return tuple(s / spm for s, spm in zip(steps, self.steps_per_mm, strict=True))

    def speed_mm_min(self, now: float) -> float:
        """Current path speed (mm/min), as Grbl's ``st_get_realtime_rate``."""
        self.advance(now)
        return self._profile.at(now)[1] * 60.0 if self._profile else 0.0

    def _start_block(self, now: float) -> None:
        block = self._queue[0]
        remaining = block.length_mm - block.done_mm
        self._profile = Trapezoid.plan(now, remaining, 0.0, block.speed_mm_s, block.accel_mm_s2)


def _limit_by_axes(limits: Sequence[float], unit: Sequence[float]) -> float:
    """Largest path value keeping every axis within its limit (planner.c
    limit_value_by_axis_maximum); ``unit`` holds the absolute unit-vector components."""
    return min(lim / u for lim, u in zip(limits, unit, strict=True) if u > 0)
