"""The MQTT 5 seams of the MQTT adapters, without a broker: reading a command's Response Topic
and Correlation Data, sending the Correlation Data back with the result, refusing PUBLISH
properties on an MQTT 3.1.1 session, naming MQTT 5 CONNACK refusals, the ``protocol``
choice. The integration tests cover the wire."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from adapters.mqtt.paho_client import correlated
from adapters.mqtt.session import PahoBrokerSession
from adapters.mqtt.session_state import explain
from adapters.mqtt.subscriptions import reply_to_of
from adapters.mqtt.telemetry import MqttTelemetry
from application.ports import ReplyTo

BASE = "doser/doser_A1B2C3"


def command(response_topic: str | None = None, correlation_data: bytes | None = None) -> Any:
    """An incoming MQTT 5 PUBLISH as paho hands it to ``on_message``."""
    message = mqtt.MQTTMessage(topic=f"{BASE}/cmd/emergency-stop".encode())
    message.properties = Properties(PacketTypes.PUBLISH)
    if response_topic is not None:
        message.properties.ResponseTopic = response_topic
    if correlation_data is not None:
        message.properties.CorrelationData = correlation_data
    return message


def test_an_mqtt5_command_names_its_response_topic_and_correlation_data() -> None:
    message = command("client/replies/abc", b"\x01\x02")

    assert reply_to_of(message) == ReplyTo("client/replies/abc", b"\x01\x02")


def test_a_response_topic_without_correlation_data_is_a_reply_to_without_any() -> None:
    assert reply_to_of(command("client/replies/abc")) == ReplyTo("client/replies/abc", None)


def test_a_command_without_properties_or_without_a_response_topic_has_no_reply_to() -> None:
    mqtt311 = mqtt.MQTTMessage(topic=f"{BASE}/cmd/emergency-stop".encode())

    assert reply_to_of(mqtt311) is None
    assert reply_to_of(command(correlation_data=b"\x01")) is None


@pytest.mark.parametrize("topic", ["client/replies/#", "client/+/abc", "client/\x00"])
def test_a_response_topic_we_could_not_publish_on_is_ignored(topic: str) -> None:
    assert reply_to_of(command(topic, b"\x01")) is None


@dataclass
class RecordingSession:
    connected: bool = True
    generation: int = 1
    published: list[tuple[str, Any, int, bool, bytes | None]] = field(default_factory=list)

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
        data = getattr(properties, "CorrelationData", None)
        self.published.append((topic, json.loads(payload), qos, retain, data))
        return True


def test_a_result_for_a_response_topic_carries_the_correlation_data_back() -> None:
    session = RecordingSession()
    telemetry = MqttTelemetry(session, BASE)
    result = {"correlationId": "c-1", "ok": True, "error": None}

    telemetry.publish_command_result(result, ReplyTo("client/replies/abc", b"\x01\x02"))
    telemetry.publish_command_result(result, ReplyTo("client/replies/abc"))
    telemetry.publish_command_result(result)

    assert session.published == [
        ("client/replies/abc", result, 1, False, b"\x01\x02"),
        ("client/replies/abc", result, 1, False, None),
        (f"{BASE}/cmd/result", result, 1, False, None),
    ]


def test_correlation_data_survives_packing_as_a_publish_property() -> None:
    packed = correlated(b"\x00\x01\xff").pack()
    unpacked = Properties(PacketTypes.PUBLISH)
    unpacked.unpack(packed)

    assert unpacked.CorrelationData == b"\x00\x01\xff"


def session(protocol: str) -> PahoBrokerSession:
    return PahoBrokerSession(
        url="mqtt://127.0.0.1:1",  # never dialled
        client_id="doser_A1B2C3",
        availability_topic=f"{BASE}/availability",
        registration_topic="doser/device/registration",
        protocol=protocol,  # type: ignore[arg-type]
    )


def test_an_mqtt311_session_refuses_publish_properties_it_could_not_send() -> None:
    with pytest.raises(ValueError, match="MQTT 5"):
        session("3.1.1").publish(
            "client/replies/abc", "{}", qos=1, retain=False, properties=correlated(b"\x01")
        )


def test_an_mqtt5_session_takes_publish_properties() -> None:
    # Not connected, so nothing is sent: the point is that the properties are accepted.
    assert not session("5").publish(
        "client/replies/abc", "{}", qos=1, retain=False, properties=correlated(b"\x01")
    )


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="MQTT protocol"):
        session("3.1")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (0x86, "Bad user name or password"),
        (0x87, "Not authorized"),
        (0x8C, "Bad authentication method"),
    ],
)
def test_an_mqtt5_connack_refusal_is_explained_with_its_reason(code: int, reason: str) -> None:
    refusal = ReasonCode(PacketTypes.CONNACK, identifier=code)

    assert explain(refusal, 2.0) == f"connection refused: {reason}"
