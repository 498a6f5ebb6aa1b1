"""Where a pump's dose events go: the journal first (durable), then the reservoir
bookkeeping, then the event sink (telemetry). Runs on the control plane, so every step
must be local and quick."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from application.ports import AlarmSink, Clock, DoseEventSink, DoseJournal
from application.reservoirs import Reservoirs
from domain.events import DoseEnded, DoseEvent, DoseKind, DoseOutcome, DoseStarted
from domain.journal import DoseRecord
from domain.recovery import Settlement
from domain.telemetry import Severity

log = logging.getLogger(__name__)


class DoseRecorder:
    """Journals each event (intent before motion, progress while it runs, outcome after),
    takes what flowed out of the pump's reservoir (alarming once when it turns low) and
    forwards the event to ``events`` when given, stamped with the clock's UTC time."""

    def __init__(
        self,
        journal: DoseJournal,
        clock: Clock,
        events: DoseEventSink | None,
        *,
        reservoirs: Reservoirs | None = None,
        alarms: AlarmSink | None = None,
    ) -> None:
        self._journal = journal
        self._clock = clock
        self._events = events
        self._reservoirs = reservoirs
        self._alarms = alarms

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
                        kind=event.kind,
                        start_position_mm=event.start_position_mm,
                        ml_per_mm=event.ml_per_mm,
                        recipe=event.recipe,
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
                self._consume(event.pump_id, event.actual_ml)
            if self._events is not None:
                self._events.record(event, now)

    def progress(self, dose_id: str, dispensed_ml: float) -> None:
        """Journal a running dose's progress (ml), so a crash leaves the least that flowed."""
        self._journal.dose_progress(dose_id, dispensed_ml=dispensed_ml)

    def refused(
        self,
        dose_id: str,
        pump_id: str,
        volume_ml: float,
        flow_rate_ml_min: float,
        *,
        reason: str,
        kind: DoseKind = DoseKind.VOLUME,
    ) -> None:
        """Journal a dose a safety rule refused before anything moved (0 ml)."""
        now = self._clock.now()
        self._journal.dose_started(
            DoseRecord(
                dose_id,
                pump_id,
                volume_ml,
                flow_rate_ml_min,
                now,
                outcome=DoseOutcome.REFUSED,
                actual_ml=0.0,
                ended_at=now,
                reason=reason,
                kind=kind,
            )
        )

    def interrupted(self, record: DoseRecord, settlement: Settlement) -> None:
        """Journal how a dose a crash interrupted is settled; the reservoir loses the most
        that may have flowed (its upper bound when uncertain)."""
        self._journal.dose_ended(
            record.dose_id,
            actual_ml=settlement.actual_ml,
            outcome=DoseOutcome.INTERRUPTED,
            ended_at=self._clock.now(),
            reason=settlement.reason,
            actual_upper_ml=settlement.actual_upper_ml,
        )
        upper = settlement.actual_upper_ml
        self._consume(record.pump_id, settlement.actual_ml if upper is None else upper)

    def _consume(self, pump_id: str, volume_ml: float) -> None:
        if self._reservoirs is None or volume_ml <= 0:
            return
        level, turned_low = self._reservoirs.consume(pump_id, volume_ml)
        if turned_low and level is not None and self._alarms is not None:
            self._alarms.raise_alarm(
                "reservoirLow",
                f"pump {pump_id}'s reservoir is low: {level.level_ml:g} ml of "
                f"{level.capacity_ml:g} ml left",
                Severity.WARNING,
                pump=pump_id,
                level_ml=level.level_ml,
            )
