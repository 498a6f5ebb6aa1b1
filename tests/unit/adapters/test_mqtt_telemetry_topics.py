"""Which topic, QoS and retain flag each telemetry message gets (DESIGN §5), checked against
a recording stand-in for the broker session. No broker: the integration tests cover the
wire."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.mqtt.telemetry import MqttTelemetry
from application.ports import ReplyTo
from domain.telemetry import MessageKind, OutboxEntry

BASE = "doser/doser_A1B2C3"


@dataclass
class RecordingSession:
    connected: bool = True
    generation: int = 3
    published: list[tuple[str, Any, int, bool]] = field(default_factory=list)
    callbacks: list[Callable[[], None] | None] = field(default_factory=list)

    def publish(
        self,
        topic: str,
        payload: str,
        *,
        qos: int,
        retain: bool,
        on_acked: Callable[[], None] | None = None,
    ) -> bool:
        if not self.connected:
            return False
        self.published.append((topic, json.loads(payload), qos, retain))
        self.callbacks.append(on_acked)
        return True


@pytest.mark.parametrize(
    ("kind", "topic", "qos"),
    [
        (MessageKind.DISPENSE_EVENT, f"{BASE}/dispense/event", 1),
        (MessageKind.DISPENSE_COMPLETE, f"{BASE}/dispense/complete", 1),
        (MessageKind.RECIPE_START, f"{BASE}/recipe/start", 1),
        (MessageKind.RECIPE_COMPLETE, f"{BASE}/recipe/complete", 1),
        (MessageKind.WEIGHT_COMPLETE, f"{BASE}/weight/complete", 1),
        (MessageKind.ALARM, f"{BASE}/alarm", 2),
    ],
)
def test_an_outbox_entry_goes_to_its_kind_topic_with_its_qos_and_seq(
    kind: MessageKind, topic: str, qos: int
) -> None:
    session = RecordingSession()
    acked: list[int] = []

    sent = MqttTelemetry(session, BASE).send(
        OutboxEntry(41, kind, {"eventType": "x"}), lambda: acked.append(41)
    )

    assert sent
    assert session.published == [(topic, {"eventType": "x", "seq": 41}, qos, False)]
    callback = session.callbacks[0]
    assert callback is not None
    callback()
    assert acked == [41]


def test_status_topics_have_their_qos_and_retain_flags() -> None:
    session = RecordingSession()
    telemetry = MqttTelemetry(session, BASE + "/")

    telemetry.publish_status({"state": "idle"})
    telemetry.publish_pump_status("pump-1", {"state": "dosing"})
    telemetry.publish_queue_status({"depth": 2})
    telemetry.publish_command_result({"correlationId": "c-1", "ok": True})
    telemetry.publish_command_result({"correlationId": "c-2"}, ReplyTo("ops/replies/7"))

    assert session.published == [
        (f"{BASE}/status", {"state": "idle"}, 0, True),
        (f"{BASE}/pump/pump-1/status", {"state": "dosing"}, 1, True),
        (f"{BASE}/queue/status", {"depth": 2}, 0, False),
        (f"{BASE}/cmd/result", {"correlationId": "c-1", "ok": True}, 1, False),
        ("ops/replies/7", {"correlationId": "c-2"}, 1, False),
    ]


def test_connection_state_and_generation_are_the_sessions() -> None:
    session = RecordingSession(connected=False, generation=5)
    telemetry = MqttTelemetry(session, BASE)

    assert (telemetry.connected, telemetry.generation) == (False, 5)
    assert not telemetry.publish_status({"state": "idle"})


@pytest.mark.parametrize("base", ["", "/", "doser/+", "doser/#"])
def test_a_base_topic_that_is_empty_or_has_wildcards_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="base topic"):
        MqttTelemetry(RecordingSession(), base)
