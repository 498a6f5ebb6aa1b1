"""The one MQTT session with the monitoring broker (paho-mqtt 2.x, MQTT 3.1.1), driven by the
connection supervisor: bounded connect, Last Will, ``online``/``offline`` availability,
registration publish, loss detection, clean disconnect. Retry and backoff are not here:
paho's own reconnect is switched off and the supervisor calls ``connect`` again."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from adapters.mqtt.broker_url import check_ca_file, parse_broker_url
from adapters.mqtt.local_address import local_address
from adapters.mqtt.session_state import Phase, SessionState
from domain.errors import BrokerUnavailable
from domain.registration import DeviceRegistration

_log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
# How often wait_lost re-checks paho's own state, for losses that skip on_disconnect (s).
_POLL_S = 0.5


class PahoBrokerSession:
    """``BrokerSession`` over one reused paho ``Client``: clean session, no automatic
    reconnect, Last Will ``offline`` (QoS 1, retained) on ``availability_topic``.

    ``url``: ``ws://``, ``wss://``, ``mqtt://`` or ``mqtts://`` (see ``parse_broker_url``);
    ``ca_file``: PEM CA bundle for wss/mqtts, empty for the system CAs; ``keepalive_s``: MQTT
    keep alive (s); ``close_timeout_s``: how long ``disconnect`` waits for the broker to
    acknowledge ``offline`` and for paho's thread to end (s). Empty ``username`` sends no
    credentials. Raises ``ValueError`` for a bad URL or an unusable CA file. Opens nothing.
    """

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        username: str = "",
        password: str = "",
        ca_file: str = "",
        keepalive_s: int = 30,
        availability_topic: str,
        registration_topic: str,
        close_timeout_s: float = 2.0,
    ) -> None:
        self._address = parse_broker_url(url)
        self._keepalive_s = keepalive_s
        self._availability_topic = availability_topic
        self._registration_topic = registration_topic
        self._close_timeout_s = close_timeout_s
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
            transport=self._address.transport,
            reconnect_on_failure=False,
        )
        if self._address.transport == "websockets":
            client.ws_set_options(path=self._address.path)
        if self._address.tls:
            check_ca_file(ca_file)
            client.tls_set(ca_certs=ca_file or None)
        if username:
            client.username_pw_set(username, password or None)
        # MQTT 3.1.1 §3.1.2.5: the broker publishes the Will when the network connection
        # closes without a DISCONNECT packet (keep-alive expiry, socket error).
        client.will_set(availability_topic, OFFLINE, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        self._client = client

        self._op_lock = threading.Lock()  # one connect or disconnect at a time
        self._state = SessionState()

    def connect(self, timeout_s: float) -> str:
        """Open the transport, send CONNECT, wait for a successful CONNACK, publish
        ``online`` (QoS 1, retained) and return the connection's local IP address.

        Each phase (TCP connect, TLS handshake, WebSocket handshake; not the DNS look-up,
        which the resolver bounds) is bounded by ``timeout_s`` (s) and the CONNACK wait by
        what is left of it. Raises ``BrokerUnavailable`` when the broker is
        unreachable, a handshake or the CONNACK times out, the connection closes first, or
        the CONNACK refuses us; the message then carries the broker's reason (MQTT 3.1.1
        §3.2.2.3 return codes as paho names them, e.g. "Not authorized"). Raises
        ``ValueError`` when ``timeout_s`` is not positive.
        """
        if timeout_s <= 0:
            raise ValueError(f"connect timeout must be positive, not {timeout_s}")
        cancels = self._state.cancels()
        with self._op_lock:
            # Leave paho closed (its thread ends by itself after a loss, but its state and
            # any half-open socket remain) so the same Client can connect afresh.
            self._abandon()
            self._state.begin(cancels)
            where = f"{self._address.host}:{self._address.port}"
            _log.info("connecting to MQTT broker %s (%s)", where, self._address.scheme)
            deadline = time.monotonic() + timeout_s
            if self._client.connect_timeout != timeout_s:
                self._client.connect_timeout = timeout_s  # paho allows this only when closed
            try:
                self._client.connect(
                    self._address.host, self._address.port, keepalive=self._keepalive_s
                )
            except (OSError, ValueError) as exc:
                # OSError covers refused/unreachable, timeouts, TLS and WebSocket handshake
                # errors; ValueError a certificate that does not match the host name.
                # paho drops a socket whose TLS or WebSocket handshake failed without
                # closing it; clearing the finished frames frees (and closes) it now rather
                # than whenever this exception is collected.
                traceback.clear_frames(exc.__traceback__)
                self._abandon()
                _log.warning("MQTT broker %s: cannot connect: %s", where, exc)
                raise BrokerUnavailable(f"broker {where}: cannot connect: {exc}") from exc
            self._client.loop_start()
            accepted, outcome = self._state.wait_settled(deadline - time.monotonic())
            if not accepted:
                self._abandon()
                reason = _explain(outcome, timeout_s)
                _log.warning("MQTT broker %s: %s", where, reason)
                raise BrokerUnavailable(f"broker {where}: {reason}")
            try:
                ip = local_address(self._client.socket(), self._address.host, self._address.port)
            except OSError as exc:
                self._abandon()
                raise BrokerUnavailable(f"broker {where}: no local address ({exc})") from exc
            info = self._client.publish(self._availability_topic, ONLINE, qos=1, retain=True)
            _log.info("connected to MQTT broker %s from %s", where, ip)
            _wait_published(info, max(deadline - time.monotonic(), 0.0))
            return ip

    def wait_lost(self, timeout_s: float) -> str | None:
        """Block up to ``timeout_s`` (s). Returns why the session dropped as soon as it does
        (``connection lost (<paho's reason>)``, e.g. "Keep alive timeout" when the broker
        stopped answering, "Unspecified error" for a closed or failed socket), or None if
        it is still up, or was closed by ``disconnect``, when the time is over."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            reason = self._state.wait_lost(min(remaining, _POLL_S))
            if reason is not None:
                return reason
            if self._state.phase is Phase.CONNECTED and not self._client.is_connected():
                # A socket closed under paho's select() makes paho stop without calling
                # on_disconnect; its state still shows the connection is gone.
                self._state.dropped("socket closed")
            elif remaining <= 0:
                return None

    def register(self, registration: DeviceRegistration) -> None:
        """Publish ``registration.to_json()`` on the registration topic, QoS 1, not retained
        (DESIGN §5). Does not wait for the PUBACK. Thread-safe (paho's publish is).
        Raises ``BrokerUnavailable`` when the session is not connected."""
        if not self._connected():
            raise BrokerUnavailable("not connected to the MQTT broker")
        payload = registration.to_json()
        info = self._client.publish(self._registration_topic, payload, qos=1, retain=False)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise BrokerUnavailable(f"registration not sent: {mqtt.error_string(info.rc)}")
        _log.info("registration published on %s", self._registration_topic)

    def disconnect(self) -> None:
        """Publish ``offline`` (QoS 1, retained), wait up to ``close_timeout_s`` for its
        PUBACK, send DISCONNECT and stop paho's thread. A DISCONNECT makes the broker drop
        the Last Will (MQTT 3.1.1 §3.14.4), hence the explicit ``offline``. Idempotent; safe
        before any connect; cuts short a ``connect`` waiting for its CONNACK."""
        self._state.cancel()
        with self._op_lock:
            was_connected = self._connected()
            if was_connected:
                info = self._client.publish(self._availability_topic, OFFLINE, qos=1, retain=True)
                _wait_published(info, self._close_timeout_s)
            self._abandon()
            if was_connected:
                _log.info("disconnected from MQTT broker")

    def _connected(self) -> bool:
        return self._state.phase is Phase.CONNECTED and self._client.is_connected()

    def _abandon(self) -> None:
        """End the current connection, whatever its state, and stop paho's thread."""
        self._state.closing()
        self._client.disconnect()  # queues DISCONNECT; paho's thread sends it and closes
        if not self._state.socket_closed.wait(self._close_timeout_s):
            # The DISCONNECT could not be written (peer not reading): close the socket so
            # paho's loop fails out instead of waiting to send it.
            sock = self._client.socket()
            if sock is not None:
                sock.close()
        self._client.loop_stop()
        self._state.closed()

    # paho callbacks, on paho's network thread (signatures: paho 2.x CallbackAPIVersion 2).

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._state.connack(reason)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        # MQTT 3.1.1 has no server DISCONNECT: paho names the local cause ("Keep alive
        # timeout", "Unspecified error" for a closed or failed socket). Ignored while closing.
        self._state.dropped(str(reason))

    def _on_socket_open(self, _c: Any, _u: Any, _sock: Any) -> None:
        self._state.socket_closed.clear()

    def _on_socket_close(self, _c: Any, _u: Any, _sock: Any) -> None:
        self._state.socket_closed.set()


def _explain(outcome: ReasonCode | str | None, timeout_s: float) -> str:
    if outcome is None:
        return f"no CONNACK within {timeout_s:g} s"
    if isinstance(outcome, ReasonCode):
        if not outcome.is_failure:
            return "connection closed right after CONNACK"
        return f"connection refused: {outcome}"
    return outcome


def _wait_published(info: mqtt.MQTTMessageInfo, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` (s) for a QoS 1 PUBACK; a miss is logged, not raised: the
    loss it means shows up in ``wait_lost``."""
    try:
        info.wait_for_publish(timeout_s)
    except (RuntimeError, ValueError) as exc:
        _log.warning("publish not sent: %s", exc)
        return
    if not info.is_published():
        _log.warning("no PUBACK within %g s", timeout_s)
