"""The one MQTT session with the monitoring broker (paho-mqtt 2.x, MQTT 3.1.1 or 5), driven by
the connection supervisor: bounded connect, Last Will, ``online``/``offline`` availability,
registration publish, loss detection, clean disconnect; and, for the telemetry and command
adapters, publishing with acknowledgement callbacks, subscriptions held across reconnects
and a generation number per connection. Retry and backoff are not here: paho's own
reconnect is switched off and the supervisor calls ``connect`` again."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties

from adapters.mqtt.acks import PublishAcks, wait_published
from adapters.mqtt.broker_url import parse_broker_url
from adapters.mqtt.local_address import local_address
from adapters.mqtt.paho_client import OFFLINE, MqttProtocol, build_client
from adapters.mqtt.session_state import Phase, SessionState, explain
from adapters.mqtt.subscriptions import MessageHandler, Subscriptions
from domain.errors import BrokerUnavailable
from domain.registration import DeviceRegistration

_log = logging.getLogger(__name__)

ONLINE = "online"


class PahoBrokerSession:
    """``BrokerSession`` over one reused paho ``Client``: a fresh broker session on every
    connection (MQTT 3.1.1 clean session; MQTT 5 clean start, no Session Expiry Interval,
    so the broker ends it with the connection), no automatic reconnect, Last Will
    ``offline`` (QoS 1, retained) on ``availability_topic``. Also the transport under
    ``MqttTelemetry`` and ``MqttCommands`` (``publish``, ``subscribe``).

    ``url``: ``ws://``, ``wss://``, ``mqtt://`` or ``mqtts://`` (see ``parse_broker_url``);
    ``ca_file``: PEM CA bundle for wss/mqtts, empty for the system CAs; ``keepalive_s``: MQTT
    keep alive (s); ``close_timeout_s``: how long ``disconnect`` waits for the broker to
    acknowledge ``offline`` and for paho's thread to end (s). Empty ``username`` sends no
    credentials. ``protocol``: "3.1.1", or "5" for MQTT 5, whose commands may name a
    response topic and correlation data for their result (``subscribe``, ``publish``).
    Raises ``ValueError`` for a bad URL, an unusable CA file or an unknown protocol. Opens
    nothing.
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
        protocol: MqttProtocol = "3.1.1",
    ) -> None:
        self._address = parse_broker_url(url)
        self._mqtt5 = protocol == "5"
        self._keepalive_s = keepalive_s
        self._availability_topic = availability_topic
        self._registration_topic = registration_topic
        self._close_timeout_s = close_timeout_s
        client = build_client(
            self._address,
            client_id=client_id,
            username=username,
            password=password,
            ca_file=ca_file,
            availability_topic=availability_topic,
            protocol=protocol,
        )
        self._acks = PublishAcks(client)
        self._subscriptions = Subscriptions()
        self._state = SessionState()
        client.on_connect = self._state.on_connect
        client.on_disconnect = self._state.on_disconnect
        client.on_socket_open = self._state.on_socket_open
        client.on_socket_close = self._state.on_socket_close
        client.on_publish = self._acks.on_publish
        client.on_subscribe = self._subscriptions.on_subscribe
        self._client = client

        self._op_lock = threading.Lock()  # one connect or disconnect at a time
        self._generation = 0
        self._ready = False  # connect() finished: subscribed, online published

    @property
    def generation(self) -> int:
        """0 before the first successful ``connect``; +1 on each one."""
        return self._generation

    @property
    def connected(self) -> bool:
        """True from the end of a successful ``connect`` until the session drops or is
        closed (so a publisher never sees the new connection with the old generation)."""
        return self._ready and self._connected()

    def connect(self, timeout_s: float) -> str:
        """Open the transport, send CONNECT, wait for a successful CONNACK, subscribe every
        ``subscribe``d filter again and wait for the SUBACK, publish ``online`` (QoS 1,
        retained), then count a new ``generation`` and return the local IP address.
        Acknowledgement callbacks of the earlier connection are dropped (see ``publish``).

        Each phase (TCP connect, TLS handshake, WebSocket handshake; not the DNS look-up,
        which the resolver bounds) is bounded by ``timeout_s`` (s) and the CONNACK wait by
        what is left of it, as are the SUBACK and PUBACK waits. Raises ``BrokerUnavailable``
        when the broker is unreachable, a handshake, the CONNACK or the SUBACK times out,
        the connection closes first, or the CONNACK refuses us; the message then carries
        the broker's reason as paho names it (MQTT 3.1.1 §3.2.2.3 return codes, MQTT 5.0
        §3.2.2.2 reason codes: e.g. "Not authorized", "Bad user name or password"). A
        filter the SUBACK refuses is logged, not raised: telemetry still flows. Raises
        ``ValueError`` when ``timeout_s`` is not positive.
        """
        if timeout_s <= 0:
            raise ValueError(f"connect timeout must be positive, not {timeout_s}")
        cancels = self._state.cancels()
        with self._op_lock:
            # Leave paho closed (its thread ends by itself after a loss, but its state and
            # any half-open socket remain) so the same Client can connect afresh.
            self._abandon()
            self._acks.forget()  # the caller sends again when it sees the new generation
            self._state.begin(cancels)
            where = f"{self._address.host}:{self._address.port}"
            _log.info("connecting to MQTT broker %s (%s)", where, self._address.scheme)
            deadline = time.monotonic() + timeout_s
            if self._client.connect_timeout != timeout_s:
                self._client.connect_timeout = timeout_s  # paho allows this only when closed
            try:
                self._client.connect(
                    self._address.host,
                    self._address.port,
                    keepalive=self._keepalive_s,
                    # MQTT 5: clean start on every connect, said outright (paho's default
                    # means "on the first connect only"); MQTT 3.1.1 takes clean session
                    # from the Client and paho refuses any other value here.
                    clean_start=True if self._mqtt5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
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
                reason = explain(outcome, timeout_s)
                _log.warning("MQTT broker %s: %s", where, reason)
                raise BrokerUnavailable(f"broker {where}: {reason}")
            try:
                ip = local_address(self._client.socket(), self._address.host, self._address.port)
            except OSError as exc:
                self._abandon()
                raise BrokerUnavailable(f"broker {where}: no local address ({exc})") from exc
            problem = self._subscriptions.renew(
                self._client,
                deadline - time.monotonic(),
                lambda: self._connected() and self._state.cancels() == cancels,
            )
            if problem:
                self._abandon()
                _log.warning("MQTT broker %s: %s", where, problem)
                raise BrokerUnavailable(f"broker {where}: {problem}")
            info = self._client.publish(self._availability_topic, ONLINE, qos=1, retain=True)
            _log.info("connected to MQTT broker %s from %s", where, ip)
            wait_published(info, max(deadline - time.monotonic(), 0.0))
            self._generation += 1
            self._ready = True
            return ip

    def wait_lost(self, timeout_s: float) -> str | None:
        """Block up to ``timeout_s`` (s). Returns why the session dropped as soon as it does
        (``connection lost (<paho's reason>)``, e.g. "Keep alive timeout" when the broker
        stopped answering, "Unspecified error" for a closed or failed socket), or None if
        it is still up, or was closed by ``disconnect``, when the time is over."""
        return self._state.wait_lost(timeout_s, self._client.is_connected)

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
        PUBACK, send DISCONNECT and stop paho's thread. A DISCONNECT (under MQTT 5 with
        reason "Normal disconnection") makes the broker drop the Last Will (MQTT 3.1.1
        §3.14.4, MQTT 5.0 §3.14.2.1), hence the explicit ``offline``. Idempotent; safe
        before any connect; cuts short a ``connect`` waiting for its CONNACK."""
        self._state.cancel()
        with self._op_lock:
            was_connected = self._connected()
            if was_connected:
                info = self._client.publish(self._availability_topic, OFFLINE, qos=1, retain=True)
                wait_published(info, self._close_timeout_s)
            self._abandon()
            if was_connected:
                _log.info("disconnected from MQTT broker")

    def publish(
        self,
        topic: str,
        payload: str,
        *,
        qos: int,
        retain: bool,
        on_acked: Callable[[], None] | None = None,
        properties: Properties | None = None,
    ) -> bool:
        """Publish ``payload`` (UTF-8) on ``topic``, with MQTT 5 PUBLISH ``properties``
        (e.g. Correlation Data) if given; False, with nothing sent, when not
        ``connected`` or paho refuses it. Thread-safe; does not wait. ``on_acked`` runs on
        paho's network thread when paho reports the message done: PUBACK (QoS 1), PUBCOMP
        (QoS 2), written (QoS 0); paho holds its outgoing-message lock meanwhile, so it must
        be quick and never wait for a thread that is inside ``publish``. A new connection
        drops the callbacks: paho re-sends unacknowledged QoS 1/2 messages itself and the
        caller, seeing the new ``generation``, sends them too, so a subscriber may see a
        duplicate, never a loss (see ``acks``). Raises ``ValueError`` for a topic with
        wildcards, a QoS other than 0, 1, 2, or ``properties`` on an MQTT 3.1.1 session
        (which has nowhere to put them: paho would drop them without a word)."""
        if properties is not None and not self._mqtt5:
            raise ValueError('PUBLISH properties need MQTT 5 (mqtt.protocol = "5")')
        if not self.connected:
            return False
        info = self._acks.publish(topic, payload, qos, retain, on_acked, properties=properties)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def subscribe(self, topic_filter: str, qos: int, handler: MessageHandler) -> None:
        """Hold ``topic_filter`` at ``qos`` on every connection: subscribed now if
        connected, and again by every ``connect`` before it returns. Matching messages go to
        ``handler(topic, payload, reply_to)`` on paho's network thread (keep it short: it
        delays every other message); ``reply_to`` is where an MQTT 5 message asked for its
        answer (Response Topic, Correlation Data), None without one and always under MQTT
        3.1.1 (see ``subscriptions.reply_to_of``). An exception from ``handler`` is
        logged, never raised into paho. The same filter again replaces its handler."""
        self._subscriptions.add(self._client, topic_filter, qos, handler)
        if self._connected():  # from the CONNACK on: a connect under way may have renewed
            self._subscriptions.send_one(self._client, topic_filter)

    def _connected(self) -> bool:
        return self._state.phase is Phase.CONNECTED and self._client.is_connected()

    def _abandon(self) -> None:
        """End the current connection, whatever its state, and stop paho's thread."""
        self._ready = False
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
