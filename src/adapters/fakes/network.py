"""A fake MQTT broker session, network identity and a sleeper that records its waits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from adapters.fakes.storage import ManualClock
from domain.errors import BrokerUnavailable
from domain.registration import DeviceRegistration


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
