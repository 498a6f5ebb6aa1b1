"""What the device tells the monitoring system over MQTT, on the topics of DESIGN §5: outbox
entries (dose events, alarms) with their acknowledgement, system, pump and queue status,
and command results. Topics, QoS and retain flags live here; when to send is the
application's."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from paho.mqtt.properties import Properties

from adapters.mqtt.paho_client import correlated
from application.ports import ReplyTo
from domain.telemetry import OutboxEntry


class _Session(Protocol):
    """The slice of ``PahoBrokerSession`` used here, so tests can pass a stub."""

    @property
    def generation(self) -> int: ...

    @property
    def connected(self) -> bool: ...

    def publish(
        self,
        topic: str,
        payload: str,
        *,
        qos: int,
        retain: bool,
        on_acked: Callable[[], None] | None = None,
        properties: Properties | None = None,
    ) -> bool: ...


class MqttTelemetry:
    """``TelemetryLink`` over a broker session. ``base`` is ``<base_topic>/<device id>``
    (e.g. ``doser/doser_A1B2C3``); every topic below it (DESIGN §5):

    - ``send``: ``{base}/<kind>`` (``dispense/event``, ``alarm``, …), QoS of the kind (1,
      alarms 2), not retained, the entry's message (payload plus ``seq``);
    - ``publish_status``: ``{base}/status``, QoS 0, retained;
    - ``publish_pump_status``: ``{base}/pump/<pump id>/status``, QoS 1, retained;
    - ``publish_queue_status``: ``{base}/queue/status``, QoS 0, not retained;
    - ``publish_command_result``: ``{base}/cmd/result``, or the MQTT 5 response topic with
      the command's correlation data, QoS 1, not retained.

    Payloads are JSON objects, UTF-8, non-ASCII kept as is. Every method returns False,
    sending nothing, while the session is not connected. Raises ``ValueError`` for an
    empty ``base`` or one with MQTT wildcards (``+``, ``#``).
    """

    def __init__(self, session: _Session, base: str) -> None:
        base = base.rstrip("/")
        if not base or "+" in base or "#" in base:
            raise ValueError(f"telemetry base topic {base!r}: empty or with a wildcard")
        self._session = session
        self._base = base

    @property
    def generation(self) -> int:
        return self._session.generation

    @property
    def connected(self) -> bool:
        return self._session.connected

    def send(self, entry: OutboxEntry, on_acked: Callable[[], None]) -> bool:
        """``on_acked`` runs on paho's network thread after the PUBACK (QoS 1) or PUBCOMP
        (QoS 2); it must be quick and must not wait for a thread that is sending."""
        return self._session.publish(
            f"{self._base}/{entry.kind.value}",
            _json(entry.message()),
            qos=entry.kind.qos,
            retain=False,
            on_acked=on_acked,
        )

    def publish_status(self, status: Mapping[str, Any]) -> bool:
        return self._publish("status", status, qos=0, retain=True)

    def publish_pump_status(self, pump_id: str, status: Mapping[str, Any]) -> bool:
        return self._publish(f"pump/{pump_id}/status", status, qos=1, retain=True)

    def publish_queue_status(self, status: Mapping[str, Any]) -> bool:
        return self._publish("queue/status", status, qos=0, retain=False)

    def publish_scale_weight(self, weight: Mapping[str, Any]) -> bool:
        return self._publish("scale/weight", weight, qos=0, retain=False)

    def publish_command_result(
        self, result: Mapping[str, Any], reply_to: ReplyTo | None = None
    ) -> bool:
        """On ``{base}/cmd/result``, or on ``reply_to.topic`` when the command named one (an
        MQTT 5 Response Topic), with ``reply_to.correlation_data``, if any, sent back as
        the PUBLISH's Correlation Data property (MQTT 5.0 §4.10.1) so the requester can
        match the answer to its request. Raises ``ValueError`` for correlation data on an
        MQTT 3.1.1 session, which cannot carry it (only MQTT 5 commands have any)."""
        if reply_to is None:
            return self._publish("cmd/result", result, qos=1, retain=False)
        payload = _json(result)
        if reply_to.correlation_data is None:
            return self._session.publish(reply_to.topic, payload, qos=1, retain=False)
        properties = correlated(reply_to.correlation_data)
        return self._session.publish(
            reply_to.topic, payload, qos=1, retain=False, properties=properties
        )

    def _publish(self, suffix: str, payload: Mapping[str, Any], *, qos: int, retain: bool) -> bool:
        topic = f"{self._base}/{suffix}"
        return self._session.publish(topic, _json(payload), qos=qos, retain=retain)


def _json(payload: Mapping[str, Any]) -> str:
    return json.dumps(dict(payload), ensure_ascii=False)
