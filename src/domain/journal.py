"""A dose journal row: what was asked, what flowed, when, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.events import DoseKind, DoseOutcome, StepRef


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """One dose in the journal. Volumes in ml, flow rate in ml/min, times timezone-aware UTC.

    ``actual_ml`` and ``ended_at`` are None while the dose runs (or if the daemon died
    before it ended). ``dispensed_ml`` is the progress journaled while it runs (ml).
    ``start_position_mm`` (mm) and ``ml_per_mm`` (ml/mm) let start-up settle a dose a crash
    interrupted from the controller's position. ``actual_upper_ml`` is set only when the
    actual volume could not be known: it flowed at most that much ("uncertain ≤ X ml").
    A continuous run's ``requested_ml`` is the most it was allowed to dispense. ``recipe``:
    the recipe run and step the dose belonged to (None for a dose asked for alone).
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
    kind: DoseKind = DoseKind.VOLUME
    start_position_mm: float | None = None
    ml_per_mm: float | None = None
    dispensed_ml: float = 0.0
    actual_upper_ml: float | None = None
    recipe: StepRef | None = None

    @property
    def uncertain(self) -> bool:
        """Whether the actual volume is only known as an upper bound."""
        return self.actual_upper_ml is not None
