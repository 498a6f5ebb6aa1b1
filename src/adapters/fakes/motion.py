"""A fake motion controller: straight-line motion in memory at the commanded feed, queued
moves run back to back."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from domain.errors import ControllerRejected, ControllerUnavailable, PumpBusy
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

    @property
    def duration_s(self) -> float:
        return self.length_mm / (self.feed_mm_min / 60.0) if self.length_mm else 0.0

    def fraction(self, now: float) -> float:
        elapsed = self.elapsed_before_s + (0.0 if self.held else now - self.started_at)
        if self.length_mm == 0:
            return 1.0
        return min(1.0, elapsed * self.feed_mm_min / 60.0 / self.length_mm)

    def ended_at(self) -> float:
        """When a running move that reached its end got there (clock s)."""
        return self.started_at + self.duration_s - self.elapsed_before_s


@dataclass
class FakeMotionController:
    """``MotionController`` in memory: straight-line motion at the commanded feed, instant
    deceleration on feed hold. ``queue_move`` segments and a final ``start_move`` run back
    to back without stopping; ``motion_done`` is True once a ``start_move``'s motion (and
    everything queued before it) ended, and stays True after ``queue_move`` alone, as on
    Grbl (no ``G4 P0``). ``moves`` records every accepted move
    (``(distances_mm, feed_mm_min)``); set ``reject_with`` to an error number to refuse the
    next move, call ``raise_alarm`` to stop motion in alarm, ``unplug`` to drop the link,
    ``reset_unexpectedly`` for a controller that rebooted on its own."""

    axes: tuple[str, ...] = ("X", "Y", "Z", "A")
    monotonic: Callable[[], float] = time.monotonic
    moves: list[tuple[dict[str, float], float]] = field(default_factory=list)
    reject_with: int | None = None
    is_open: bool = False
    unplugged: bool = False
    alarm: bool = False
    down_reason: str | None = None
    _positions: dict[str, float] = field(default_factory=dict)
    _move: _Move | None = None
    _queued: deque[tuple[dict[str, float], float]] = field(default_factory=deque)
    _sync_pending: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self) -> None:
        """Connect, with the soft reset the real adapter sends: a move still running (left
        by a daemon that died) stops where it is and the controller comes up in alarm
        (Grbl's ALARM:3, reset while in motion), positions kept."""
        if self.unplugged:
            raise ControllerUnavailable("fake controller unplugged")
        with self._lock:
            self._settle()
            if self._move is not None:
                # at rest in a feed hold, Grbl resets without an alarm (mc_reset)
                self.alarm = not self._move.held
                self._stop()
        self.is_open, self.down_reason = True, None
        self._positions = {a: self._positions.get(a, 0.0) for a in self.axes}

    def close(self) -> None:
        self.is_open = False

    def start_move(self, distances_mm: Mapping[str, float], feed_mm_min: float) -> None:
        """Plan a move with a completion marker: behind queued segments if a continuous run
        is moving, else it replaces whatever moved (the fake does not wait for a sync)."""
        self._accept(distances_mm, feed_mm_min)
        with self._lock:
            self._settle()
            if self._move is not None and not self._sync_pending:
                self._queued.append((dict(distances_mm), feed_mm_min))
            else:
                self._queued.clear()
                self._start(dict(distances_mm), feed_mm_min, self.monotonic())
            self._sync_pending = True

    def queue_move(self, distances_mm: Mapping[str, float], feed_mm_min: float) -> None:
        """Plan a segment behind the running one (joined, no stop), or start it when idle.
        Raises ``PumpBusy`` while a ``start_move`` is still running: Grbl's adapter would
        wait for that move's ``G4 P0`` first (one line in flight)."""
        self._check_link()
        with self._lock:
            self._settle()
            if self._sync_pending:
                raise PumpBusy("controller still running the previous move (fake)")
        self._accept(distances_mm, feed_mm_min)
        with self._lock:
            if self._move is not None:
                self._queued.append((dict(distances_mm), feed_mm_min))
            else:
                self._start(dict(distances_mm), feed_mm_min, self.monotonic())

    def motion_done(self) -> bool:
        self._check_link()
        with self._lock:
            self._settle()
            return not self._sync_pending

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
            self._stop()

    def unlock(self) -> None:
        self._check_link()
        self.alarm = False

    def raise_alarm(self) -> None:
        """Stop motion where it is and enter alarm (as Grbl's ``ALARM:N``)."""
        with self._lock:
            self._settle()
            self._stop()
            self.alarm = True

    def unplug(self) -> None:
        """The serial link vanishes: every call raises ``ControllerUnavailable``."""
        self.unplugged = True

    def reset_unexpectedly(self) -> None:
        """The controller rebooted on its own (power loss, watchdog): motion and queued
        moves are gone, positions restart at 0, and every call raises
        ``ControllerUnavailable`` until ``open()``, as the Grbl adapter does on a banner
        it did not ask for."""
        with self._lock:
            self._stop()
            self.alarm = False
            self._positions = dict.fromkeys(self.axes, 0.0)
            self.down_reason = "controller reset unexpectedly (fake)"

    def _accept(self, distances_mm: Mapping[str, float], feed_mm_min: float) -> None:
        self._check_link()
        if self.reject_with is not None:
            number, self.reject_with = self.reject_with, None
            raise ControllerRejected(number, "rejected by the fake controller")
        self.moves.append((dict(distances_mm), feed_mm_min))

    def _check_link(self) -> None:
        if self.down_reason is not None:
            raise ControllerUnavailable(self.down_reason)
        if self.unplugged or not self.is_open:
            raise ControllerUnavailable("fake controller is not connected")

    def _start(self, distances: dict[str, float], feed_mm_min: float, at: float) -> _Move:
        self._move = _Move(dict(self._positions), distances, feed_mm_min, at)
        return self._move

    def _stop(self) -> None:
        self._move, self._sync_pending = None, False
        self._queued.clear()

    def _settle(self) -> None:
        """Bring positions up to now; a finished move hands over to the next queued one at
        the moment it ended (held moves stay held: a hold stops the whole planner)."""
        while (move := self._move) is not None:
            fraction = move.fraction(self.monotonic())
            for axis, distance in move.distances.items():
                self._positions[axis] = round(move.start[axis] + distance * fraction, 3)
            if fraction < 1.0:
                return
            if not self._queued:
                self._stop()
                return
            distances, feed = self._queued.popleft()
            after = self._start(distances, feed, self.monotonic() if move.held else move.ended_at())
            after.held = move.held
