"""Use case: keep the MQTT session up with the user's backoff, and register on connect.

Runs on its own thread in the network plane (DESIGN §2): it blocks in the broker session
and in interruptible sleeps, never in the control plane. Failed connects and dropped
sessions alike wait 30, 60, 120, … 3600 s (``BackoffPolicy``), forever, and the wait
resets after a good CONNACK. Shutdown cuts any wait short.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from application.ports import BrokerSession, Sleeper
from application.register_device import RegisterDevice
from domain.errors import BrokerUnavailable
from domain.mqtt_link import ConnectionLost, LinkView, MqttLink, RegistrationDue

log = logging.getLogger(__name__)

# While connected, how often (s) the supervisor looks up from waiting on the session to
# see whether shutdown was requested.
_HOLD_SLICE_S = 0.25


class ConnectionSupervisor:
    """Drives ``MqttLink`` against a ``BrokerSession``.

    ``connect_timeout_s`` (s) bounds one attempt (TCP, TLS/WebSocket handshake, CONNACK);
    ``on_connected`` runs after every good CONNACK (it must not raise or block long).
    ``profile_changed`` and ``view`` may be called from any thread.
    """

    def __init__(
        self,
        session: BrokerSession,
        link: MqttLink,
        register: RegisterDevice,
        sleeper: Sleeper,
        *,
        connect_timeout_s: float = 10.0,
        on_connected: Callable[[], None] | None = None,
    ) -> None:
        self._session = session
        self._link = link
        self._register = register
        self._sleeper = sleeper
        self._connect_timeout_s = connect_timeout_s
        self._on_connected = on_connected
        self._lock = threading.Lock()  # the link is shared with HTTP-thread callers
        self._local_ip = ""

    def run(self) -> None:
        """Connect, hold, back off and reconnect until shutdown; then disconnect cleanly."""
        try:
            while not self._sleeper.stopping:
                if self._connect_once():
                    reason = self._hold()
                    if reason is None:
                        break
                    with self._lock:
                        delay_s = self._link.connection_lost(reason)
                        self._act()
                else:
                    delay_s = self._link.next_delay_s
                if self._sleeper.wait(delay_s):
                    break
        finally:
            with self._lock:
                self._link.stop()
            self._session.disconnect()

    def profile_changed(self) -> None:
        """The device's name or location changed: re-register now if connected."""
        with self._lock:
            self._link.profile_changed()
            self._act()

    def view(self) -> LinkView:
        """The link's state for status readers."""
        with self._lock:
            return self._link.view()

    def _connect_once(self) -> bool:
        with self._lock:
            self._link.connecting()
        try:
            local_ip = self._session.connect(self._connect_timeout_s)
        except Exception as exc:  # BrokerUnavailable, or an adapter bug: back off alike
            if not isinstance(exc, BrokerUnavailable):
                log.exception("mqtt: unexpected error while connecting")
            with self._lock:
                self._link.connect_failed(str(exc))
                self._act()
            return False
        with self._lock:
            self._local_ip = local_ip
            self._link.connect_accepted()
            self._act()
        return True

    def _hold(self) -> str | None:
        """Wait while connected; the drop reason, or None when shutdown was requested."""
        while not self._sleeper.stopping:
            reason = self._session.wait_lost(_HOLD_SLICE_S)
            if reason is not None:
                return reason
        return None

    def _act(self) -> None:
        """Act on the link's events (called with the lock held)."""
        for event in self._link.pull_events():
            if isinstance(event, RegistrationDue):
                try:
                    registration = self._register.execute(self._local_ip)
                except BrokerUnavailable as exc:
                    log.warning("registration not sent: %s", exc.message)
                else:
                    log.info("registered: %s", registration.to_json())
            elif isinstance(event, ConnectionLost):
                log.warning(
                    "mqtt: %s; failure %d, next attempt in %.1f s",
                    event.reason,
                    event.failures,
                    event.delay_s,
                )
            else:
                log.info("mqtt: connected")
                if self._on_connected is not None:
                    self._on_connected()  # e.g. Home Assistant discovery
