"""Use case: put dose events and alarms into the durable outbox before anything is sent.

Runs on the control plane (dose events) and any thread (alarms); never raises into its
caller, because a telemetry problem must not disturb motion control. A full outbox drops
the new event and raises one ``outboxOverflow`` alarm (alarms have headroom), never
silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from application.ports import Clock, Outbox
from domain.events import DoseEnded, DoseEvent, DoseStarted
from domain.recipe_run import RecipeRunRecord
from domain.scale import WeighRunView
from domain.telemetry import (
    MessageKind,
    OutboxPolicy,
    Severity,
    alarm,
    dispense_completed,
    dispense_started,
    recipe_completed,
    recipe_started,
    weight_completed,
)

log = logging.getLogger(__name__)


class RecordTelemetry:
    """``DoseEventSink``, ``RecipeEventSink``, ``WeighEventSink`` and ``AlarmSink`` onto the
    outbox. ``notify``
    wakes the drainer after an append. ``dropped`` counts events refused because the outbox
    was full."""

    def __init__(
        self,
        outbox: Outbox,
        policy: OutboxPolicy,
        clock: Clock,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._policy = policy
        self._clock = clock
        self._notify = notify
        self._lock = threading.Lock()
        self._started: dict[str, tuple[datetime, float]] = {}
        self._overflowing = False
        self.dropped = 0

    def dropped_count(self) -> int:
        """Events refused so far because the outbox was full."""
        return self.dropped

    def record(self, event: DoseEvent, at: datetime) -> None:
        """A dose started (``dispenseStart``) or ended (``dispenseComplete``)."""
        if isinstance(event, DoseStarted):
            self._started[event.dose_id] = (at, event.flow_rate_ml_min)
            self._append(MessageKind.DISPENSE_EVENT, dispense_started(event, at))
        elif isinstance(event, DoseEnded):
            started_at, flow = self._started.pop(event.dose_id, (at, 0.0))
            self._append(
                MessageKind.DISPENSE_COMPLETE, dispense_completed(event, flow, started_at, at)
            )

    def recipe_started(self, record: RecipeRunRecord) -> None:
        """The user's ``recipeStart`` event."""
        self._append(MessageKind.RECIPE_START, recipe_started(record))

    def recipe_ended(self, record: RecipeRunRecord, at: datetime) -> None:
        """The user's ``recipeComplete`` event (also for an aborted or failed run)."""
        self._append(MessageKind.RECIPE_COMPLETE, recipe_completed(record, at))

    def weight_completed(self, run: WeighRunView, at: datetime) -> None:
        """The user's ``weightDispenseComplete`` event (also for an aborted run)."""
        self._append(MessageKind.WEIGHT_COMPLETE, weight_completed(run, at))

    def raise_alarm(
        self, alarm_type: str, message: str, severity: Severity, **details: Any
    ) -> None:
        """Queue an alarm (QoS 2 on the wire, sent before events in an emergency)."""
        payload = alarm(alarm_type, message, severity, self._clock.now(), **details)
        self._append(MessageKind.ALARM, payload)

    def _append(self, kind: MessageKind, payload: dict[str, Any]) -> None:
        try:
            with self._lock:
                self._append_locked(kind, payload)
        except Exception:
            log.exception("telemetry: could not store a %s message", kind.value)
            return
        if self._notify is not None:
            self._notify()

    def _append_locked(self, kind: MessageKind, payload: dict[str, Any]) -> None:
        depth = self._outbox.depth()
        if depth < self._policy.capacity:
            self._overflowing = False
        if self._policy.accepts(kind, depth):
            self._outbox.append(kind, payload)
            return
        self.dropped += 1
        log.error("telemetry: outbox full (%d), %s dropped", depth, kind.value)
        if not self._overflowing:
            self._overflowing = True
            overflow = alarm(
                "outboxOverflow",
                f"outbox full ({depth} messages): new events are being dropped",
                Severity.CRITICAL,
                self._clock.now(),
                depth=depth,
                capacity=self._policy.capacity,
            )
            if self._policy.accepts(MessageKind.ALARM, depth):
                self._outbox.append(MessageKind.ALARM, overflow)
