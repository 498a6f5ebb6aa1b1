"""Where a pump's dose events go: the journal first (durable), then the event sink
(telemetry). Runs on the control plane, so both must be local and quick."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from application.ports import Clock, DoseEventSink, DoseJournal
from domain.events import DoseEnded, DoseEvent, DoseStarted
from domain.journal import DoseRecord

log = logging.getLogger(__name__)


class DoseRecorder:
    """Journals each event (intent before motion, outcome after) and forwards it to
    ``events`` when given, stamped with the clock's UTC time."""

    def __init__(self, journal: DoseJournal, clock: Clock, events: DoseEventSink | None) -> None:
        self._journal = journal
        self._clock = clock
        self._events = events

    def record(self, events: Iterable[DoseEvent]) -> None:
        """Journal, then forward, each event in order; storage errors propagate (the
        journal is the record of what moved)."""
        for event in events:
            log.info("dose event: %s", event)
            now = self._clock.now()
            if isinstance(event, DoseStarted):
                self._journal.dose_started(
                    DoseRecord(
                        event.dose_id,
                        event.pump_id,
                        event.volume_ml,
                        event.flow_rate_ml_min,
                        now,
                    )
                )
            elif isinstance(event, DoseEnded):
                self._journal.dose_ended(
                    event.dose_id,
                    actual_ml=event.actual_ml,
                    outcome=event.outcome,
                    ended_at=now,
                    reason=event.reason,
                )
            if self._events is not None:
                self._events.record(event, now)
