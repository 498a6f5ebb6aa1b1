"""A fake motion controller: straight-line motion in memory at the commanded feed."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from domain.errors import ControllerRejected, ControllerUnavailable
from domain.motion import ControllerState, ControllerStatus


@dataclass
class _Move:
    start: dict[str, float]
    distances: dict[str, float]
    feed_mm_min: float
    started_at: float
    elapsed_before_s: float = 0.0
    held: bool = False

    @property
    def length_mm(self) -> float:
        return math.sqrt(sum(d * d for d in self.distances.values()))

    def fraction(self, now: float) -> float:
        elapsed = self.elapsed_before_s + (0.0 if self.held else now - self.started_at)
        if self.length_mm == 0:
            return 1.0
        return min(1.0, elapsed * self.feed_mm_min / 60.0 / self.length_mm)


@dataclass
class FakeMotionController:
    """``MotionController`` in memory: straight-line motion at the commanded feed, instant
    deceleration on feed hold. ``moves`` records every accepted move
    (``(distances_mm, feed_mm_min)``); set ``reject_with`` to an error number to refuse the
    next move, call ``raise_alarm`` to stop motion in alarm, ``unplug`` to drop the link."""

    axes: tuple[str, ...] = ("X", "Y", "Z", "A")
    monotonic: Callable[[], float] = time.monotonic
    moves: list[tuple[dict[str, float], float]] = field(default_factory=list)
    reject_with: int | None = None
    is_open: bool = False
    unplugged: bool = False
    alarm: bool = False
    _positions: dict[str, float] = field(default_factory=dict)
    _move: _Move | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self) -> None:
        if self.unplugged:
            raise ControllerUnavailable("fake controller unplugged")
        self.is_open = True
        self._positions = {a: self._positions.get(a, 0.0) for a in self.axes}

    def close(self) -> None:
        self.is_open = False

    def start_move(self, distances_mm: Mapping[str, float], feed_mm_min: float) -> None:
        self._check_link()
        if self.reject_with is not None:
            number, self.reject_with = self.reject_with, None
            raise ControllerRejected(number, "rejected by the fake controller")
        with self._lock:
            self._settle()
            self.moves.append((dict(distances_mm), feed_mm_min))
            self._move = _Move(
                dict(self._positions), dict(distances_mm), feed_mm_min, self.monotonic()
            )

    def motion_done(self) -> bool:
        self._check_link()
        with self._lock:
            self._settle()
            return self._move is None

    def status(self) -> ControllerStatus:
        self._check_link()
        with self._lock:
            self._settle()
            if self.alarm:
                state, hold = ControllerState.ALARM, None
            elif self._move is None:
                state, hold = ControllerState.IDLE, None
            elif self._move.held:
                state, hold = ControllerState.HOLD, True
            else:
                state, hold = ControllerState.RUN, None
            return ControllerStatus(state, dict(self._positions), hold)

    def feed_hold(self) -> None:
        self._check_link()
        with self._lock:
            self._settle()
            move = self._move
            if move is not None and not move.held:
                now = self.monotonic()
                move.elapsed_before_s += now - move.started_at
                move.held = True

    def cycle_start(self) -> None:
        with self._lock:
            if self._move is not None and self._move.held:
                self._move.held = False
                self._move.started_at = self.monotonic()

    def flush(self) -> None:
        self._check_link()
        with self._lock:
            self._settle()
            self._move = None

    def unlock(self) -> None:
        self._check_link()
        self.alarm = False

    def raise_alarm(self) -> None:
        """Stop motion where it is and enter alarm (as Grbl's ``ALARM:N``)."""
        with self._lock:
            self._settle()
            self._move = None
            self.alarm = True

    def unplug(self) -> None:
        """The serial link vanishes: every call raises ``ControllerUnavailable``."""
        self.unplugged = True

    def _check_link(self) -> None:
        if self.unplugged or not self.is_open:
            raise ControllerUnavailable("fake controller is not connected")

    def _settle(self) -> None:
        move = self._move
        if move is None:
            return
        fraction = move.fraction(self.monotonic())
        for axis, distance in move.distances.items():
            self._positions[axis] = round(move.start[axis] + distance * fraction, 3)
        if fraction >= 1.0:
            self._move = None
