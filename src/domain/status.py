"""Immutable snapshots of the system that the control plane publishes for everyone else."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from domain.pump import Pump, PumpState
from domain.safety import ReservoirLevel


class SystemState(enum.Enum):
    """The user's system states (DESIGN §4)."""

    IDLE = "IDLE"
    DISPENSING = "DISPENSING"
    EMERGENCY = "EMERGENCY"


@dataclass(frozen=True, slots=True)
class PumpDetails:
    """What the control plane knows of a pump beyond its state machine: where its
    calibration comes from (``nvs`` multi-point, ``config`` single-point, ``none``),
    whether it is valid, and its reservoir (None: not tracked)."""

    calibration_source: str = "config"
    calibrated: bool = True
    reservoir: ReservoirLevel | None = None


@dataclass(frozen=True, slots=True)
class PumpView:
    """A pump as others see it. Volumes in ml, flow rates in ml/min, calibration in ml/mm
    (``ml_per_mm``: the configured single point, None when not configured)."""

    pump_id: str
    name: str
    state: PumpState
    dose_id: str | None
    requested_ml: float | None
    dispensed_ml: float | None
    flow_rate_ml_min: float | None
    ml_per_mm: float | None
    max_flow_ml_min: float
    max_dose_ml: float
    fault_reason: str
    details: PumpDetails = PumpDetails()

    @classmethod
    def of(cls, pump: Pump, details: PumpDetails | None = None) -> PumpView:
        """Copy what others may see of ``pump`` now."""
        active = pump.active
        calibration = active.calibration if active else pump.spec.calibration
        return cls(
            pump_id=pump.pump_id,
            name=pump.spec.name,
            state=pump.state,
            dose_id=active.dose.dose_id if active else None,
            requested_ml=active.dose.volume_ml if active else None,
            dispensed_ml=active.dispensed_ml if active else None,
            flow_rate_ml_min=active.dose.flow_rate_ml_min if active else None,
            ml_per_mm=calibration.ml_per_mm if calibration else None,
            max_flow_ml_min=pump.spec.limits.max_flow_ml_min,
            max_dose_ml=pump.spec.limits.max_dose_ml,
            fault_reason=pump.fault_reason,
            details=details or PumpDetails(calibrated=pump.spec.calibration is not None),
        )


@dataclass(frozen=True, slots=True)
class ControllerView:
    """The controller link: connected or not, its last reported state, and why if down."""

    connected: bool
    state: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SystemSnapshot:
    """Everything a status reader needs, copied at one instant by the control plane."""

    state: SystemState
    pumps: tuple[PumpView, ...]
    controller: ControllerView

    @classmethod
    def of(
        cls,
        pumps: list[Pump],
        controller: ControllerView,
        *,
        emergency: bool = False,
        details: Mapping[str, PumpDetails] | None = None,
    ) -> SystemSnapshot:
        """Snapshot ``pumps`` (with their ``details`` by pump id, when given) and the link:
        EMERGENCY while the emergency stop is latched, else DISPENSING while any pump
        doses or holds, else IDLE."""
        dispensing = any(p.state in (PumpState.DOSING, PumpState.HOLDING) for p in pumps)
        state = SystemState.DISPENSING if dispensing else SystemState.IDLE
        return cls(
            state=SystemState.EMERGENCY if emergency else state,
            pumps=tuple(PumpView.of(p, (details or {}).get(p.pump_id)) for p in pumps),
            controller=controller,
        )
