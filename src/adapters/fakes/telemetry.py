"""Fakes of the telemetry side of MQTT: the link that publishes, the command source, the
Home Assistant announcer, and an alarm sink that records."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from application.ports import ReplyTo
from domain.telemetry import OutboxEntry, Severity


class FakeTelemetryLink:
    """``TelemetryLink`` in memory. ``up`` says whether a session is connected;
    ``reconnect()`` starts a new generation. Sent entries wait in ``unacked`` until
    ``ack_all()`` (or at once with ``auto_ack``); ``delivered`` records every send,
    duplicates included; ``published`` records ``(kind, payload)`` of the other methods."""

    def __init__(self, auto_ack: bool = True) -> None:
        self.up = True
        self.auto_ack = auto_ack
        self.delivered: list[OutboxEntry] = []
        self.published: list[tuple[str, Any]] = []
        self.unacked: dict[int, Callable[[], None]] = {}
        self._generation = 1
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def connected(self) -> bool:
        return self.up

    def reconnect(self) -> None:
        """A new session: what was in flight is forgotten (the drainer must resend)."""
        with self._lock:
            self._generation += 1
            self.unacked.clear()
            self.up = True

    def send(self, entry: OutboxEntry, on_acked: Callable[[], None]) -> bool:
        if not self.up:
            return False
        with self._lock:
            self.delivered.append(entry)
            self.unacked[entry.seq] = on_acked
        if self.auto_ack:
            self.ack_all()
        return True

    def ack_all(self) -> None:
        with self._lock:
            callbacks, self.unacked = list(self.unacked.values()), {}
        for callback in callbacks:
            callback()

    def publish_status(self, status: Mapping[str, Any]) -> bool:
        return self._publish("status", dict(status))

    def publish_pump_status(self, pump_id: str, status: Mapping[str, Any]) -> bool:
        return self._publish(f"pump/{pump_id}/status", dict(status))

    def publish_queue_status(self, status: Mapping[str, Any]) -> bool:
        return self._publish("queue/status", dict(status))

    def publish_scale_weight(self, weight: Mapping[str, Any]) -> bool:
        return self._publish("scale/weight", dict(weight))

    def publish_command_result(
        self, result: Mapping[str, Any], reply_to: ReplyTo | None = None
    ) -> bool:
        return self._publish(reply_to.topic if reply_to else "cmd/result", dict(result))

    def _publish(self, what: str, payload: Any) -> bool:
        if not self.up:
            return False
        with self._lock:
            self.published.append((what, payload))
        return True


class FakeCommandSource:
    """The command side of a broker: ``deliver(request)`` hands a command to the handler
    the way the MQTT adapter does after parsing topic and JSON."""

    def __init__(self, handler: Callable[[Any], None]) -> None:
        self._handler = handler
        self.started = False

    def start(self) -> None:
        self.started = True

    def deliver(self, request: Any) -> None:
        self._handler(request)


class FakeAnnouncer:
    """Home Assistant discovery in memory: counts announcements."""

    def __init__(self, messages: Callable[[], list[tuple[str, str]]]) -> None:
        self._messages = messages
        self.announced: list[list[tuple[str, str]]] = []
        self.started = False

    def start(self) -> None:
        self.started = True

    def announce(self) -> None:
        self.announced.append(self._messages())


@dataclass
class RecordingAlarms:
    """``AlarmSink`` that keeps every alarm: ``raised`` holds (type, severity, details) in
    order, ``messages`` the texts for people."""

    raised: list[tuple[str, Severity, dict[str, Any]]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def raise_alarm(
        self, alarm_type: str, message: str, severity: Severity, **details: Any
    ) -> None:
        self.raised.append((alarm_type, severity, details))
        self.messages.append(message)

    def types(self) -> list[str]:
        """The alarm types raised, in order."""
        return [alarm_type for alarm_type, _, _ in self.raised]
