"""MQTT 5 request/response against a real mosquitto: a command that names a Response Topic
gets its result there, with its Correlation Data (MQTT 5.0 §4.10); one that names none gets
it on ``{b}/cmd/result``. The device side is the real session (``protocol="5"``),
``MqttCommands`` and ``MqttTelemetry``; the monitoring side a paho MQTT 5 client."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from adapters.mqtt.commands import CommandRequest, MqttCommands
from adapters.mqtt.session import PahoBrokerSession
from adapters.mqtt.telemetry import MqttTelemetry
from application.ports import ReplyTo
from support.mosquitto import Mosquitto

pytestmark = pytest.mark.slow

BASE = "doser/doser_A1B2C3"
RESULTS = f"{BASE}/cmd/result"
REPLIES = "client/replies/abc"
CORRELATION = b"\x01\x02"
TIMEOUT_S = 2.0
WAIT_S = 10.0  # a ceiling for "it arrives", not a speed target


class Reply(NamedTuple):
    """One message the requester received: topic, JSON body, Correlation Data (or None)."""

    topic: str
    body: dict[str, Any]
    correlation_data: bytes | None


class Requester:
    """The monitoring system as an MQTT 5 client (clean start): sends commands with or
    without a Response Topic and Correlation Data and records what arrives on ``filters``.
    A context manager: connected and subscribed (SUBACK received) on entry."""

    def __init__(self, broker: Mosquitto, filters: list[str]) -> None:
        self._broker, self._filters = broker, filters
        self._replies: list[Reply] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"requester-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message

    def __enter__(self) -> Requester:
        self._client.connect(self._broker.host, self._broker.port, keepalive=30, clean_start=True)
        self._client.loop_start()
        if not self._subscribed.wait(WAIT_S):
            self.__exit__()
            raise AssertionError(f"requester: no SUBACK for {self._filters} within {WAIT_S} s")
        return self

    def __exit__(self, *_: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def send(
        self,
        topic: str,
        body: dict[str, Any],
        *,
        response_topic: str | None = None,
        correlation_data: bytes | None = None,
    ) -> None:
        """Publish one command (QoS 1) and wait for its PUBACK."""
        properties = Properties(PacketTypes.PUBLISH)
        if response_topic is not None:
            properties.ResponseTopic = response_topic
        if correlation_data is not None:
            properties.CorrelationData = correlation_data
        info = self._client.publish(topic, json.dumps(body), qos=1, properties=properties)
        info.wait_for_publish(WAIT_S)
        assert info.is_published(), f"no PUBACK for the command on {topic}"

    @property
    def replies(self) -> list[Reply]:
        with self._changed:
            return list(self._replies)

    def wait_for(self, predicate: Callable[[Reply], bool]) -> Reply:
        """The first reply (so far or within ``WAIT_S``) that matches."""
        deadline = time.monotonic() + WAIT_S
        with self._changed:
            while True:
                for reply in self._replies:
                    if predicate(reply):
                        return reply
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching reply within {WAIT_S} s: {self._replies}")
                self._changed.wait(remaining)

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        assert not reason.is_failure, f"requester refused: {reason}"
        client.subscribe([(name, SubscribeOptions(qos=1)) for name in self._filters])

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        data = getattr(message.properties, "CorrelationData", None)
        reply = Reply(message.topic, json.loads(message.payload), data)
        with self._changed:
            self._replies.append(reply)
            self._changed.notify_all()


@dataclass
class Device:
    """The daemon's side: every command it answered, in order."""

    requests: queue.Queue[CommandRequest]


@pytest.fixture(params=["tcp", "ws"])
def device(mosquitto: Mosquitto, request: pytest.FixtureRequest) -> Iterator[Device]:
    """An MQTT 5 session that answers every command at once, as ``HandleCommand`` does:
    ``publish_command_result(result, request.reply_to)``."""
    session = PahoBrokerSession(
        url=mosquitto.tcp_url if request.param == "tcp" else mosquitto.ws_url,
        client_id="doser_A1B2C3",
        keepalive_s=5,
        availability_topic=f"{BASE}/availability",
        registration_topic="doser/device/registration",
        protocol="5",
    )
    telemetry = MqttTelemetry(session, BASE)
    requests: queue.Queue[CommandRequest] = queue.Queue()

    def answer(command: CommandRequest) -> None:
        requests.put(command)
        correlation_id = (command.body or {}).get("correlationId")
        result = {"correlationId": correlation_id, "ok": True, "error": None}
        assert telemetry.publish_command_result(result, command.reply_to)

    MqttCommands(session, BASE, answer).start()
    session.connect(TIMEOUT_S)
    try:
        yield Device(requests)
    finally:
        session.disconnect()


def next_request(device: Device) -> CommandRequest:
    try:
        return device.requests.get(timeout=WAIT_S)
    except queue.Empty:
        raise AssertionError(f"no command reached the device within {WAIT_S} s") from None


def test_a_result_goes_to_the_commands_response_topic_with_its_correlation_data(
    mosquitto: Mosquitto, device: Device
) -> None:
    with Requester(mosquitto, ["client/replies/#", RESULTS]) as requester:
        requester.send(
            f"{BASE}/cmd/pump-1/stop",
            {"correlationId": "c-1"},
            response_topic=REPLIES,
            correlation_data=CORRELATION,
        )
        reply = requester.wait_for(lambda r: r.topic == REPLIES)
        # A later result on the result topic: were c-1's there too, it would be there
        # first (a broker keeps one publisher's order on a topic, MQTT 5.0 §4.6).
        requester.send(f"{BASE}/cmd/pump-1/stop", {"correlationId": "c-2"})
        requester.wait_for(lambda r: r.topic == RESULTS)

    assert reply == Reply(REPLIES, {"correlationId": "c-1", "ok": True, "error": None}, CORRELATION)
    assert [r.body["correlationId"] for r in requester.replies if r.topic == RESULTS] == ["c-2"]
    assert next_request(device).reply_to == ReplyTo(REPLIES, CORRELATION)


def test_a_command_without_a_response_topic_is_answered_on_the_result_topic(
    mosquitto: Mosquitto, device: Device
) -> None:
    with Requester(mosquitto, ["client/replies/#", RESULTS]) as requester:
        requester.send(f"{BASE}/cmd/emergency-stop", {"correlationId": "c-3"})
        reply = requester.wait_for(lambda r: r.body.get("correlationId") == "c-3")

    assert reply == Reply(RESULTS, {"correlationId": "c-3", "ok": True, "error": None}, None)
    assert next_request(device).reply_to is None


def test_a_response_topic_without_correlation_data_is_answered_without_any(
    mosquitto: Mosquitto, device: Device
) -> None:
    with Requester(mosquitto, ["client/replies/#"]) as requester:
        requester.send(f"{BASE}/cmd/pump-1/stop", {"correlationId": "c-4"}, response_topic=REPLIES)
        reply = requester.wait_for(lambda r: r.topic == REPLIES)

    assert (reply.body["correlationId"], reply.correlation_data) == ("c-4", None)
    assert next_request(device).reply_to == ReplyTo(REPLIES)
