"""Domain events a pump records while dosing; use cases drain them to the journal and ports."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DoseOutcome(enum.Enum):
    """How a dose ended (``running`` while it has not).

    ``refused``: a safety rule refused it before anything moved (actual 0 ml);
    ``interrupted``: the daemon died while it ran; settled at the next start from the
    controller's position (or marked uncertain with an upper bound).
    """

    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"
    REFUSED = "refused"
    INTERRUPTED = "interrupted"


class DoseKind(enum.Enum):
    """What the motion was for: a volume dose, a continuous run (bounded segments renewed
    while the daemon is healthy), or a calibration run (a known axis distance)."""

    VOLUME = "volume"
    CONTINUOUS = "continuous"
    CALIBRATION = "calibration"


@dataclass(frozen=True, slots=True)
class StepRef:
    """Which recipe run (id) and step (0-based) a dose belongs to."""

    run_id: str
    step: int


@dataclass(frozen=True, slots=True)
class DoseStarted:
    """A dose was accepted and its motion is about to be sent. Volumes in ml, feeds in mm/min.

    ``start_position_mm`` (mm, the axis MPos before the move) and ``ml_per_mm`` (the
    calibration used) are journaled so a dose a crash interrupted can be settled from the
    controller's position at the next start.
    """

    dose_id: str
    pump_id: str
    volume_ml: float
    flow_rate_ml_min: float
    distance_mm: float
    feed_mm_min: float
    start_position_mm: float | None = None
    ml_per_mm: float | None = None
    kind: DoseKind = DoseKind.VOLUME
    recipe: StepRef | None = None


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
