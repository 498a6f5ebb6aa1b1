"""An observer on the broker for tests: a paho client on the plain MQTT port that subscribes
to a topic filter and records every message it receives, so a test can wait for one."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode


class Received(NamedTuple):
    """One message as the subscriber saw it (``payload`` decoded as UTF-8)."""

    topic: str
    payload: str
    retain: bool


class Subscriber:
    """Use as a context manager: connected and subscribed (SUBACK received) on entry,
    disconnected on exit. After a drop, paho reconnects it (1-2 s) and it subscribes again.

    ``durable`` (the default, as a monitoring system would connect): a persistent session
    (clean session false, fixed client id), so a persistent broker keeps the subscription
    across its restart and queues QoS 1/2 messages published before this client is back.
    ``username``/``password`` for a broker with users.
    """

    def __init__(
        self,
        host: str,
        port: int,
        topic_filter: str,
        *,
        qos: int = 1,
        username: str = "",
        password: str = "",
        durable: bool = True,
        client_id: str = "",
    ) -> None:
        self._host, self._port = host, port
        self._filter, self._qos = topic_filter, qos
        self._messages: list[Received] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._refusal = ""
        if durable and not client_id:
            client_id = f"observer-{uuid.uuid4().hex[:8]}"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=not durable,
            protocol=mqtt.MQTTv311,
        )
        # back within ~0.1 s of a broker restart, so figures and waits are not its backoff
        self._client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)  # type: ignore[arg-type]
        if username:
            self._client.username_pw_set(username, password or None)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def __enter__(self) -> Subscriber:
        self._client.connect(self._host, self._port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(10.0) or self._refusal:
            self.__exit__()
            why = self._refusal or "no SUBACK within 10 s"
            raise AssertionError(f"cannot subscribe to {self._filter!r}: {why}")
        return self

    def __exit__(self, *_: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def messages(self) -> list[Received]:
        with self._changed:
            return list(self._messages)

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 10.0) -> Received:
        """The first message (received so far or within ``timeout`` s) that matches.
        Raises ``AssertionError`` listing what did arrive when none does."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self._messages:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no matching message on {self._filter!r} within {timeout} s; "
                        f"received {self._messages!r}"
                    )
                self._changed.wait(remaining)

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            self._refusal = f"connection refused: {reason}"
            self._subscribed.set()  # wake __enter__ to fail at once
        else:
            client.subscribe(self._filter, qos=self._qos)

    def _on_subscribe(self, *_: Any) -> None:
        self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        received = Received(msg.topic, msg.payload.decode("utf-8"), bool(msg.retain))
        with self._changed:
            self._messages.append(received)
            self._changed.notify_all()
