"""Motion model of the Grbl simulator: a 15-block planner with look-ahead, executing straight
moves.

Each block runs a trapezoidal speed profile (grbl_profile) from its entry speed to the next
block's entry speed; the last planned block ends at rest. As in gnea/grbl 1.1h planner.c,
a new block raises the exit speed of the blocks before it (backward pass from rest, forward
pass from the executing block's current speed), limited by the junction speed of each
corner, so moves in the same direction run back to back at feed without stopping. A feed
hold decelerates at the blocks' acceleration, across block ends if need be, and keeps the
rest for the resume. Positions are whole steps, as Grbl's ``sys_position`` is (planner.c:
targets are rounded to steps). Time is the caller's clock (s), so tests can step it.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.sim.grbl_profile import Trapezoid, junction_speed, limit_by_axes

MINIMUM_FEED_RATE_MM_MIN = 1.0  # Grbl config.h MINIMUM_FEED_RATE
_EPSILON_MM = 1e-6


@dataclass(slots=True)
class _Block:
    start: tuple[int, ...]  # steps
    delta: tuple[int, ...]  # steps
    unit: tuple[float, ...]  # signed unit vector of the move
    length_mm: float
    speed_mm_s: float  # nominal (programmed feed, limited by the axes' max rates)
    accel_mm_s2: float
    max_entry_mm_s: float  # junction limit with the block before (0 after an empty planner)
    entry_mm_s: float = 0.0  # planned entry speed
    done_mm: float = 0.0  # travelled before the current profile

    @property
    def remaining_mm(self) -> float:
        return max(0.0, self.length_mm - self.done_mm)


class MotionPlanner:
    """Grbl's planner buffer and steppers, reduced to what a host can observe.

    ``steps_per_mm``, ``max_rate_mm_min`` (mm/min) and ``accel_mm_s2`` (mm/s²) are per-axis
    lists (Grbl ``$100``, ``$110``, ``$120``) and ``junction_deviation_mm`` is ``$11`` (mm);
    they may change between blocks. Capacity 15: Grbl 1.1 planner.h BLOCK_BUFFER_SIZE 16
    keeps one slot empty. The executing block occupies a slot until it ends. Every method
    that takes ``now`` (s) first advances time.
    """

    capacity = 15

    def __init__(
        self,
        steps_per_mm: list[float],
        max_rate_mm_min: list[float],
        accel_mm_s2: list[float],
        junction_deviation_mm: float = 0.010,
    ) -> None:
        self.steps_per_mm, self.max_rate_mm_min = steps_per_mm, max_rate_mm_min
        self.accel_mm_s2, self.junction_deviation_mm = accel_mm_s2, junction_deviation_mm
        self._rest: tuple[int, ...] = (0,) * len(steps_per_mm)  # position when nothing queued
        self._planned = self._rest  # end of the last queued block
        self._queue: deque[_Block] = deque()
        self._profile: Trapezoid | None = None  # of the first block while the steppers move
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

    def add_line(self, now: float, target_mm: Sequence[float], feed_mm_min: float | None) -> None:
        """Queue a straight move to ``target_mm`` (machine mm) at ``feed_mm_min`` (mm/min),
        or at the axes' maximum rates when None (G0), behind the planned blocks and joined
        to the last one at its junction speed. A move of zero steps is dropped, as
        planner.c's empty block is. The caller checks ``full`` first."""
        self.advance(now)
        target = tuple(round(t * s) for t, s in zip(target_mm, self.steps_per_mm, strict=True))
        delta = tuple(t - p for t, p in zip(target, self._planned, strict=True))
        if not any(delta):
            return
        mm = [d / s for d, s in zip(delta, self.steps_per_mm, strict=True)]
        length = math.sqrt(sum(m * m for m in mm))
        unit = tuple(m / length for m in mm)
        magnitude = [abs(u) for u in unit]
        rapid = limit_by_axes(self.max_rate_mm_min, magnitude)
        feed = rapid if feed_mm_min is None else min(feed_mm_min, rapid)
        speed = max(feed, MINIMUM_FEED_RATE_MM_MIN) / 60.0
        max_entry = 0.0  # planner.c: a block into an empty planner starts from rest
        if self._queue:
            last = self._queue[-1]
            corner = junction_speed(last.unit, unit, self.accel_mm_s2, self.junction_deviation_mm)
            max_entry = min(corner, speed, last.speed_mm_s)
        accel = limit_by_axes(self.accel_mm_s2, magnitude)
        self._queue.append(_Block(self._planned, delta, unit, length, speed, accel, max_entry))
        self._planned = target
        if self._profile is not None and not self._holding:
            self._replan(now)  # planner_recalculate: the running block may now go faster

    def advance(self, now: float) -> None:
        """Run the steppers up to ``now``: finish blocks, chain the next, end a hold."""
        while self._profile is not None and now >= self._profile.end:
            block, profile = self._queue[0], self._profile
            block.done_mm += profile.distance_mm
            self._profile = None
            if profile.final <= 0 and block.done_mm < block.length_mm - _EPSILON_MM:
                return  # a hold came to rest inside the block
            self._rest = tuple(s + d for s, d in zip(block.start, block.delta, strict=True))
            self._queue.popleft()
            if self._queue and (profile.final > 0 or not self._holding):
                self._begin(profile.end, profile.final)

    def resume(self, now: float) -> None:
        """Cycle start: run the queued blocks (after a completed hold: from rest)."""
        self.advance(now)
        self._holding = False
        if self._queue:
            self._replan(now)

    def hold(self, now: float) -> None:
        """Feed hold: decelerate to rest at the blocks' acceleration; keep what remains."""
        self.advance(now)
        self._holding = True
        if self._profile is not None:
            self._begin(now, self._rebase(now))

    def halt(self, now: float) -> None:
        """Soft reset: stop dead where the steppers are and discard every planned block."""
        self._rest = self.position_steps(now)
        self._planned, self._profile, self._holding = self._rest, None, False
        self._queue.clear()

    def power_off(self) -> None:
        """Power loss: the steppers stop dead, every block is lost and the position restarts
        at zero (Grbl keeps ``sys_position`` across a soft reset only, not a power cycle)."""
        self._rest = self._planned = (0,) * len(self.steps_per_mm)
        self._profile, self._holding = None, False
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

    def _rebase(self, now: float) -> float:
        """Fold the running profile's progress into the first block; return its speed."""
        if self._profile is None:
            return 0.0
        travelled, speed = self._profile.at(now)
        self._queue[0].done_mm += travelled
        self._profile = None
        return speed

    def _replan(self, now: float) -> None:
        """planner_recalculate: entry speeds of the queued blocks from the first block's
        current speed, then the first block's profile from ``now``."""
        speed = self._rebase(now)
        blocks = list(self._queue)
        blocks[0].entry_mm_s = speed
        following = 0.0  # the last block ends at rest
        for block in reversed(blocks[1:]):
            reach = math.sqrt(following**2 + 2 * block.accel_mm_s2 * block.length_mm)
            block.entry_mm_s = following = min(block.max_entry_mm_s, reach)
        for before, block in itertools.pairwise(blocks):
            reach = math.sqrt(before.entry_mm_s**2 + 2 * before.accel_mm_s2 * before.remaining_mm)
            block.entry_mm_s = min(block.entry_mm_s, reach)
        self._begin(now, speed)

    def _begin(self, now: float, entry: float) -> None:
        """Start the first block's profile at ``now`` from speed ``entry`` (mm/s): towards
        the next block's entry speed, or, in a hold, decelerating to rest."""
        block = self._queue[0]
        remaining, accel = block.remaining_mm, block.accel_mm_s2
        if self._holding:
            final = math.sqrt(max(0.0, entry * entry - 2 * accel * remaining))
            stop = remaining if final > 0 else min(remaining, entry * entry / (2 * accel))
            self._profile = Trapezoid.plan(now, stop, entry, entry, accel, final=final)
            return
        final = self._queue[1].entry_mm_s if len(self._queue) > 1 else 0.0
        self._profile = Trapezoid.plan(now, remaining, entry, block.speed_mm_s, accel, final=final)
