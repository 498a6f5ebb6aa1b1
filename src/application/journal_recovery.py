"""Start-up settlement of doses a crash or power loss left unfinished in the journal.

Each is marked ``interrupted`` with the volume read from the controller's position where
it can be known, "uncertain ≤ X ml" where not, and alarmed. Nothing is ever resumed or
repeated: the dose is over, a person decides what to do next.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from application.dose_recorder import DoseRecorder
from application.ports import AlarmSink, DoseJournal
from domain.recovery import settle_all
from domain.telemetry import Severity

log = logging.getLogger(__name__)


def settle_unfinished(
    journal: DoseJournal,
    recorder: DoseRecorder,
    positions_mm: Mapping[str, float] | None,
    alarms: AlarmSink | None,
) -> int:
    """Settle every unfinished dose against ``positions_mm`` (axis → MPos, mm; None when
    the controller's positions are unknown). Returns how many were settled. Storage errors
    propagate (the journal must not be left half-settled silently)."""
    unfinished = journal.unfinished()
    for record, settlement in settle_all(unfinished, positions_mm):
        log.warning("dose %s on pump %s: %s", record.dose_id, record.pump_id, settlement.reason)
        recorder.interrupted(record, settlement)
        if alarms is not None:
            alarms.raise_alarm(
                "doseInterrupted",
                f"dose {record.dose_id} on pump {record.pump_id} was interrupted: "
                f"{settlement.reason}",
                Severity.WARNING,
                pump=record.pump_id,
                doseId=record.dose_id,
                actualVolume_ml=settlement.actual_ml,
                uncertain=settlement.actual_upper_ml is not None,
                upperBound_ml=settlement.actual_upper_ml,
            )
    return len(unfinished)
