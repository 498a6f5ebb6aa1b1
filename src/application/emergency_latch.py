"""The latched emergency stop: once engaged, nothing doses until someone resets it, also
across a daemon restart (the latch is kept in NVS)."""

from __future__ import annotations

import threading

from application.ports import Clock, NonVolatileStore
from domain.errors import EmergencyStopLatched
from domain.telemetry import iso_utc

NAMESPACE = "safety"


class EmergencyLatch:
    """Thread-safe; ``engage``/``release`` commit to NVS before they return."""

    def __init__(self, nvs: NonVolatileStore, clock: Clock) -> None:
        self._nvs = nvs
        self._clock = clock
        self._lock = threading.Lock()
        stored = nvs.get_all(NAMESPACE)
        self._engaged = stored.get("estop") is True
        self._reason = str(stored.get("estop_reason", ""))
        self._since = str(stored.get("estop_since", ""))

    @property
    def engaged(self) -> bool:
        """Whether dosing is latched off."""
        return self._engaged

    @property
    def reason(self) -> str:
        """Why and since when (ISO-8601 UTC) it is engaged; empty when released."""
        return f"{self._reason} since {self._since}" if self._engaged else ""

    def engage(self, reason: str) -> bool:
        """Latch; returns False when it already was (the first reason is kept)."""
        with self._lock:
            if self._engaged:
                return False
            since = iso_utc(self._clock.now())
            self._nvs.set_many(
                NAMESPACE, {"estop": True, "estop_reason": reason, "estop_since": since}
            )
            self._engaged, self._reason, self._since = True, reason, since
            return True

    def release(self) -> bool:
        """Unlatch; returns False when it was not engaged."""
        with self._lock:
            if not self._engaged:
                return False
            self._nvs.set_many(NAMESPACE, {"estop": False, "estop_reason": "", "estop_since": ""})
            self._engaged, self._reason, self._since = False, "", ""
            return True

    def ensure_released(self) -> None:
        """Raise ``EmergencyStopLatched`` while engaged."""
        if self._engaged:
            raise EmergencyStopLatched(
                f"emergency stop latched ({self.reason}); reset it before dosing"
            )
