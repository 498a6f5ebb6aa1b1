"""Commands the network plane hands to the control plane (plain values, thread-safe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from domain.recipe import Recipe


@dataclass(frozen=True, slots=True)
class StartDose:
    """Dose ``volume_ml`` (ml) at ``flow_rate_ml_min`` (ml/min) on pump ``pump_id``."""

    pump_id: str
    volume_ml: float
    flow_rate_ml_min: float


@dataclass(frozen=True, slots=True)
class StartContinuous:
    """Run pump ``pump_id`` at ``flow_rate_ml_min`` (ml/min) until stopped, as bounded
    segments renewed while the daemon is healthy (the dead man)."""

    pump_id: str
    flow_rate_ml_min: float


@dataclass(frozen=True, slots=True)
class StartCalibrationRun:
    """Move pump ``pump_id``'s axis ``distance_mm`` (mm) at ``feed_mm_min`` (mm/min) so the
    user can measure what flowed."""

    pump_id: str
    distance_mm: float
    feed_mm_min: float


@dataclass(frozen=True, slots=True)
class StopPump:
    """Halt pump ``pump_id``'s dose now (feed hold, then flush); no-op when idle."""

    pump_id: str


@dataclass(frozen=True, slots=True)
class HaltAll:
    """Halt every running dose (feed hold, rest, flush) and journal what flowed; the
    result is the list of pump ids whose dose was cut short."""

    reason: str


@dataclass(frozen=True, slots=True)
class ExecuteRecipe:
    """Check ``recipe`` whole and start its first step; ``origin`` says who asked (``http``,
    ``mqtt``, ``schedule:<id>``). The result is the run id."""

    recipe: Recipe
    origin: str


@dataclass(frozen=True, slots=True)
class SteerRecipeRun:
    """``action`` (``pause``, ``resume`` or ``abort``) on the live run ``run_id``; the result
    is the run's record after it."""

    run_id: str
    action: Literal["pause", "resume", "abort"]


@dataclass(frozen=True, slots=True)
class StartWeighDispense:
    """Dispense ``target_g`` (g) on pump ``pump_id`` by weight; ``tolerance_g`` (g) and
    the fast-phase ``flow_rate_ml_min`` (ml/min) default when None. The result is the run
    id."""

    pump_id: str
    target_g: float
    tolerance_g: float | None
    flow_rate_ml_min: float | None
    origin: str


@dataclass(frozen=True, slots=True)
class AbortWeighDispense:
    """Abort the live dispense by weight ``run_id``; the result is its view after."""

    run_id: str


@dataclass(frozen=True, slots=True)
class StartScaleCalibration:
    """Calibrate pump ``pump_id`` from the scale at ``flow_rates_ml_min`` (ml/min), about
    ``volume_ml`` (ml) per point. The result is the run id."""

    pump_id: str
    flow_rates_ml_min: tuple[float, ...]
    volume_ml: float


@dataclass(frozen=True, slots=True)
class ScaleCommand:
    """``action`` on the scale: ``read`` (the newest reading), ``tare`` (the tare weight,
    g) or ``zero``. Refused while a dispense by weight runs (except ``read``)."""

    action: Literal["read", "tare", "zero"]


@dataclass(frozen=True, slots=True)
class RefreshStatus:
    """Publish a fresh snapshot now (after a change the control plane does not see)."""


Command = (
    StartDose
    | StartContinuous
    | StartCalibrationRun
    | StopPump
    | HaltAll
    | ExecuteRecipe
    | SteerRecipeRun
    | StartWeighDispense
    | AbortWeighDispense
    | StartScaleCalibration
    | ScaleCommand
    | RefreshStatus
)
