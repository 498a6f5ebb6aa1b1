"""Domain events a pump records while dosing; use cases drain them to the journal and ports."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DoseOutcome(enum.Enum):
    """How a dose ended (``running`` while it has not)."""

    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DoseStarted:
    """A dose was accepted and its motion is about to be sent. Volumes in ml, feeds in mm/min."""

    dose_id: str
    pump_id: str
    volume_ml: float
    flow_rate_ml_min: float
    distance_mm: float
    feed_mm_min: float


@dataclass(frozen=True, slots=True)
class DoseEnded:
    """A dose completed, was stopped, or failed; ``actual_ml`` is measured from axis travel (ml).

    ``reason`` says why a dose was stopped or failed (empty when completed).
    """

    dose_id: str
    pump_id: str
    requested_ml: float
    actual_ml: float
    outcome: DoseOutcome
    reason: str = ""


DoseEvent = DoseStarted | DoseEnded
