"""A dose journal row: what was asked, what flowed, when, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.events import DoseOutcome


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """One dose in the journal. Volumes in ml, flow rate in ml/min, times timezone-aware UTC.

    ``actual_ml`` and ``ended_at`` are None while the dose runs (or if the daemon died
    before it ended).
    """

    dose_id: str
    pump_id: str
    requested_ml: float
    flow_rate_ml_min: float
    started_at: datetime
    outcome: DoseOutcome = DoseOutcome.RUNNING
    actual_ml: float | None = None
    ended_at: datetime | None = None
    reason: str = ""
