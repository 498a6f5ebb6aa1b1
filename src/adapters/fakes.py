"""In-memory fakes for the ports: fast acceptance runs and unit tests, inspectable state.

They behave like the real thing in the ways the use cases can observe (motion takes time
at the commanded feed, a feed hold comes to rest, an alarm stops motion), not like mocks.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from adapters.storage.nvs import check_name, check_value
from application.ports import NvsValue
from domain.errors import BrokerUnavailable, ControllerRejected, ControllerUnavailable
from domain.events import DoseOutcome
from domain.journal import DoseRecord
from domain.motion import ControllerState, ControllerStatus
from domain.registration import DeviceRegistration


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


class InMemoryJournal:
    """``DoseJournal`` in a dict; ``records`` keeps insertion order."""

    def __init__(self) -> None:
        self.records: dict[str, DoseRecord] = {}
        self._lock = threading.Lock()

    def dose_started(self, record: DoseRecord) -> None:
        with self._lock:
            self.records[record.dose_id] = record

    def dose_ended(
        self,
        dose_id: str,
        *,
        actual_ml: float,
        outcome: DoseOutcome,
        ended_at: datetime,
        reason: str = "",
    ) -> None:
        with self._lock:
            self.records[dose_id] = replace(
                self.records[dose_id],
                actual_ml=actual_ml,
                outcome=outcome,
                ended_at=ended_at,
                reason=reason,
            )

    def history(self, *, limit: int, since: datetime | None = None) -> list[DoseRecord]:
        with self._lock:
            rows = [r for r in self.records.values() if since is None or r.started_at >= since]
        return list(reversed(rows))[:limit]


class ManualClock:
    """``Clock`` whose time moves only when told (``advance``) or slept on; UTC wall time
    starts at ``start``. Lets use-case tests run motion without waiting."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._elapsed_s = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed_s)

    def monotonic(self) -> float:
        return self._elapsed_s

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._elapsed_s += max(0.0, seconds)


class InMemoryNvs:
    """``NonVolatileStore`` in a dict of dicts; ``set_many`` is atomic under a lock and
    refuses (all of it) what the SQLite store refuses (names, types, ranges)."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, NvsValue]] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str, key: str) -> NvsValue | None:
        check_name("namespace", namespace)
        check_name("key", key)
        with self._lock:
            return self._data.get(namespace, {}).get(key)

    def get_all(self, namespace: str) -> dict[str, NvsValue]:
        check_name("namespace", namespace)
        with self._lock:
            return dict(self._data.get(namespace, {}))

    def set_many(self, namespace: str, values: Mapping[str, NvsValue]) -> None:
        # the same name and value rules as the SQLite store, so fakes refuse what it refuses
        check_name("namespace", namespace)
        for key, value in values.items():
            check_name("key", key)
            check_value(key, value)
        with self._lock:
            self._data.setdefault(namespace, {}).update(values)

    def erase(self, namespace: str, key: str) -> None:
        check_name("namespace", namespace)
        check_name("key", key)
        with self._lock:
            self._data.get(namespace, {}).pop(key, None)

    def erase_namespace(self, namespace: str) -> None:
        check_name("namespace", namespace)
        with self._lock:
            self._data.pop(namespace, None)


class FakeBrokerSession:
    """``BrokerSession`` in memory. ``up`` says whether the broker answers; ``refusal``
    makes it refuse CONNECT with that reason; ``drop(reason)`` ends a live session.
    ``registrations`` and ``availability`` record what was published, ``published`` the
    ``(topic, payload)`` pairs; ``connects`` counts good CONNACKs."""

    def __init__(
        self,
        local_ip: str = "192.0.2.10",
        registration_topic: str = "doser/device/registration",
        availability_topic: str = "doser/doser_A1B2C3/availability",
    ) -> None:
        self.registration_topic = registration_topic
        self.availability_topic = availability_topic
        self.published: list[tuple[str, str]] = []
        self.up = True
        self.refusal: str | None = None
        self.local_ip = local_ip
        self.connected = False
        self.connects = 0
        self.attempts = 0
        self.registrations: list[DeviceRegistration] = []
        self.availability: list[str] = []
        self._lost: str | None = None
        self._changed = threading.Condition()

    def connect(self, timeout_s: float) -> str:
        self.attempts += 1
        if not self.up:
            raise BrokerUnavailable("connection refused: broker down")
        if self.refusal is not None:
            raise BrokerUnavailable(f"CONNACK refused: {self.refusal}")
        with self._changed:
            self.connected, self._lost = True, None
            self.connects += 1
        self._publish_availability("online")
        return self.local_ip

    def wait_lost(self, timeout_s: float) -> str | None:
        with self._changed:
            self._changed.wait_for(lambda: self._lost is not None, timeout=timeout_s)
            return self._lost

    def register(self, registration: DeviceRegistration) -> None:
        if not self.connected:
            raise BrokerUnavailable("not connected")
        self.registrations.append(registration)
        self.published.append((self.registration_topic, registration.to_json()))

    def disconnect(self) -> None:
        if self.connected:
            self._publish_availability("offline")
        with self._changed:
            self.connected = False

    def drop(self, reason: str = "connection lost") -> None:
        """The broker vanished under a live session (the Last Will would fire)."""
        with self._changed:
            self.connected, self._lost = False, reason
            self._changed.notify_all()
        self._publish_availability("offline")  # the Last Will

    def _publish_availability(self, state: str) -> None:
        self.availability.append(state)
        self.published.append((self.availability_topic, state))


@dataclass
class FakeNetworkIdentity:
    """``NetworkIdentity`` with one fixed MAC for every address."""

    mac: str = "02:00:5E:A1:B2:C3"

    def mac_for(self, local_ip: str) -> str:
        return self.mac

    def device_mac(self) -> str:
        return self.mac


class ManualSleeper:
    """``Sleeper`` that records each wait (s) instead of sleeping and advances ``clock``
    when given. ``on_wait(n)`` runs after the n-th wait (1-based), e.g. to bring a fake
    broker back; ``stop_after`` requests shutdown after that many waits."""

    def __init__(
        self,
        clock: ManualClock | None = None,
        stop_after: int | None = None,
        on_wait: Callable[[int], None] | None = None,
    ) -> None:
        self.waits: list[float] = []
        self._clock = clock
        self._stop_after = stop_after
        self._on_wait = on_wait
        self._stopping = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        if self._clock is not None:
            self._clock.advance(seconds)
        if self._on_wait is not None:
            self._on_wait(len(self.waits))
        if self._stop_after is not None and len(self.waits) >= self._stop_after:
            self._stopping.set()
        return self.stopping
