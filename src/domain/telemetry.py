"""Telemetry the device sends: dose events and alarms in the user's field names, the
outbox that keeps them until the broker acknowledged them, and how fast to drain it.

Pure: payloads are plain dicts ready for JSON; topics, QoS mapping on the wire and the
store belong to adapters.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.events import DoseEnded, DoseOutcome, DoseStarted
from domain.recipe_run import RecipeRunRecord, RunState
from domain.scale import ScaleView, WeighRunView
from domain.status import SystemState
from domain.weighing import WeighOutcome


class MessageKind(enum.Enum):
    """What an outbox entry is; adapters map each kind to its topic (DESIGN §5)."""

    DISPENSE_EVENT = "dispense/event"
    DISPENSE_COMPLETE = "dispense/complete"
    RECIPE_START = "recipe/start"
    RECIPE_COMPLETE = "recipe/complete"
    WEIGHT_COMPLETE = "weight/complete"
    ALARM = "alarm"

    @property
    def is_alarm(self) -> bool:
        """Alarms go first in an emergency and may use the outbox's headroom."""
        return self is MessageKind.ALARM

    @property
    def qos(self) -> int:
        """Alarms QoS 2 (exactly once to the broker), events QoS 1 (DESIGN §5)."""
        return 2 if self.is_alarm else 1


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A stored message: ``seq`` is monotonic per device and survives restarts; the
    published payload is ``payload`` plus ``seq``."""

    seq: int
    kind: MessageKind
    payload: Mapping[str, Any]

    def message(self) -> dict[str, Any]:
        """The JSON object to publish."""
        return {**self.payload, "seq": self.seq}


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``, e.g. ``2026-11-21T14:03:07.125Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dispense_started(event: DoseStarted, at: datetime) -> dict[str, Any]:
    """The user's ``dispenseStart`` event (volumes in ml, flow in ml/min); a recipe step's
    dose also names its run and step (1-based)."""
    payload = {
        "eventType": "dispenseStart",
        "doseId": event.dose_id,
        "pump": event.pump_id,
        "volume_ml": event.volume_ml,
        "flowRate_ml_min": event.flow_rate_ml_min,
        "timestamp": iso_utc(at),
    }
    if event.recipe is not None:
        payload |= {"recipeRunId": event.recipe.run_id, "recipeStep": event.recipe.step + 1}
    return payload


def dispense_completed(
    event: DoseEnded, flow_rate_ml_min: float, started_at: datetime, at: datetime
) -> dict[str, Any]:
    """The user's ``dispenseComplete`` event: requested and actual volume (ml), duration
    (s), ``success`` only when the dose ran to its end; ``outcome``/``reason`` say why not."""
    return {
        "eventType": "dispenseComplete",
        "doseId": event.dose_id,
        "pump": event.pump_id,
        "volume_ml": event.requested_ml,
        "actualVolume_ml": round(event.actual_ml, 4),
        "flowRate_ml_min": flow_rate_ml_min,
        "duration_sec": round((at - started_at).total_seconds(), 3),
        "success": event.outcome is DoseOutcome.COMPLETED,
        "outcome": event.outcome.value,
        "reason": event.reason,
        "timestamp": iso_utc(at),
    }


class Severity(enum.Enum):
    """How bad an alarm is, as the monitoring system shows it."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


def alarm(
    alarm_type: str, message: str, severity: Severity, at: datetime, **details: Any
) -> dict[str, Any]:
    """An alarm payload: ``alarmType`` (e.g. ``outboxOverflow``), text, severity, time."""
    return {
        "eventType": "alarm",
        "alarmType": alarm_type,
        "severity": severity.value,
        "message": message,
        "timestamp": iso_utc(at),
        **details,
    }


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    """Bounds of the outbox: ``capacity`` events; alarms may use ``alarm_headroom`` more so
    an overflow alarm always fits; a warning at ``warn_fraction`` full (the user's 80 %)."""

    capacity: int = 10_000
    alarm_headroom: int = 100
    warn_fraction: float = 0.8

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.alarm_headroom < 1:
            raise ValueError("outbox capacity and alarm headroom must be at least 1")
        if not 0 < self.warn_fraction <= 1:
            raise ValueError("warn_fraction must be within (0, 1]")

    def accepts(self, kind: MessageKind, depth: int) -> bool:
        """Whether an entry of ``kind`` fits when ``depth`` entries are stored."""
        limit = self.capacity + (self.alarm_headroom if kind.is_alarm else 0)
        return depth < limit

    def warning(self, depth: int) -> bool:
        """Whether ``depth`` entries reach the warning level (80 % of capacity)."""
        return depth >= self.capacity * self.warn_fraction


@dataclass(frozen=True, slots=True)
class DrainStep:
    """How many entries to send now (``batch``), alarms first or in seq order, and how long
    to pause (s) before the next step."""

    batch: int
    pause_s: float
    alarms_first: bool = False


@dataclass(frozen=True, slots=True)
class DrainPolicy:
    """The user's task-management priorities: IDLE drains fast (10 every 10 ms),
    DISPENSING throttles (1 per 100 ms), EMERGENCY sends alarms first (fast)."""

    idle: DrainStep = field(default_factory=lambda: DrainStep(10, 0.010))
    dispensing: DrainStep = field(default_factory=lambda: DrainStep(1, 0.100))
    emergency: DrainStep = field(default_factory=lambda: DrainStep(10, 0.010, True))

    def step(self, state: SystemState) -> DrainStep:
        """The batch and pause for the system ``state``."""
        if state is SystemState.EMERGENCY:
            return self.emergency
        if state is SystemState.DISPENSING:
            return self.dispensing
        return self.idle


def recipe_started(record: RecipeRunRecord) -> dict[str, Any]:
    """The user's ``recipeStart`` event: recipeId, recipeName, steps, estimatedDuration_sec
    (s), plus the run id and who started it."""
    recipe = record.recipe
    return {
        "eventType": "recipeStart",
        "runId": record.run_id,
        "recipeId": recipe.recipe_id,
        "recipeName": recipe.name,
        "steps": len(recipe.steps),
        "estimatedDuration_sec": round(recipe.estimated_duration_s, 1),
        "origin": record.origin,
        "timestamp": iso_utc(record.started_at),
    }


def recipe_completed(record: RecipeRunRecord, at: datetime) -> dict[str, Any]:
    """The user's ``recipeComplete`` event, sent for every ending: ``success`` only when
    every step ran to its end; ``outcome`` (completed, aborted, failed, interrupted),
    ``stepsCompleted``, what flowed per pump (ml) and in total, ``duration_sec`` (s)."""
    recipe = record.recipe
    return {
        "eventType": "recipeComplete",
        "runId": record.run_id,
        "recipeId": recipe.recipe_id,
        "recipeName": recipe.name,
        "steps": len(recipe.steps),
        "stepsCompleted": record.steps_completed,
        "estimatedDuration_sec": round(recipe.estimated_duration_s, 1),
        "duration_sec": round((at - record.started_at).total_seconds(), 3),
        "success": record.state is RunState.COMPLETED,
        "outcome": record.state.value,
        "reason": record.reason,
        "dispensed_ml": dict(record.dispensed_ml),
        "totalVolume_ml": record.total_ml,
        "timestamp": iso_utc(at),
    }


def weight_completed(run: WeighRunView, at: datetime) -> dict[str, Any]:
    """The user's ``weightDispenseComplete`` event, sent for every ending: target and
    actual weight (g), ``accuracy_percent`` (100 * (1 - |error| / target)), ``duration_sec``
    (s), plus the error and tolerance (g), ``outcome`` (completed, out_of_tolerance,
    aborted), the pump volume by calibration (ml), top-up pulses, the run id and origin."""
    result = run.result
    if result is None:
        raise ValueError(f"dispense by weight {run.run_id} has not ended")
    return {
        "eventType": "weightDispenseComplete",
        "runId": run.run_id,
        "pumpId": run.pump_id,
        "targetWeight_g": result.target_g,
        "actualWeight_g": round(result.actual_g, 4),
        "error_g": round(result.error_g, 4),
        "tolerance_g": result.tolerance_g,
        "accuracy_percent": round(result.accuracy_percent, 3),
        "duration_sec": round(result.duration_s, 3),
        "success": result.outcome is WeighOutcome.COMPLETED,
        "outcome": result.outcome.value,
        "reason": result.reason,
        "dispensed_ml": round(result.dispensed_ml, 4),
        "topups": result.topups,
        "origin": run.origin,
        "timestamp": iso_utc(at),
    }


def scale_weight(view: ScaleView) -> dict[str, Any] | None:
    """``{b}/scale/weight`` while dispensing by weight: the net weight (g), stable or not,
    and the run's target and phase; None when there is nothing to say."""
    run, reading = view.run, view.reading
    if run is None or run.result is not None or reading is None:
        return None
    return {
        "weight_g": round(reading.grams, 4) if reading.in_range else None,
        "unit": "g",
        "stable": reading.stable,
        "status": reading.status.value,
        "runId": run.run_id,
        "pumpId": run.pump_id,
        "targetWeight_g": run.target_g,
        "phase": run.phase,
    }
