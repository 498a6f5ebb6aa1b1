"""A peristaltic pump on one controller axis: its state machine and the dose it is running."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from transitions import Machine

from domain.calibration import Calibration
from domain.dose import Dose, PumpLimits
from domain.errors import PumpBusy, PumpFaulted
from domain.events import DoseEnded, DoseEvent, DoseKind, DoseOutcome, DoseStarted, StepRef

if TYPE_CHECKING:
    from transitions.core import TransitionConfigDict


class PumpState(enum.Enum):
    """Idle; dosing (axis moving); holding (feed hold, decelerating or at rest); fault."""

    IDLE = "idle"
    DOSING = "dosing"
    HOLDING = "holding"
    FAULT = "fault"


_IDLE, _DOSING, _HOLDING, _FAULT = PumpState

_TRANSITIONS: list[TransitionConfigDict] = [
    {"trigger": "begin", "source": _IDLE, "dest": _DOSING},
    {"trigger": "finish", "source": [_DOSING, _HOLDING], "dest": _IDLE},
    {"trigger": "hold", "source": _DOSING, "dest": _HOLDING},
    {"trigger": "hold", "source": _HOLDING, "dest": None},
    {"trigger": "release", "source": _HOLDING, "dest": _DOSING},
    {"trigger": "break_down", "source": "*", "dest": _FAULT},
    {"trigger": "recover", "source": _FAULT, "dest": _IDLE},
]


@dataclass(frozen=True, slots=True)
class PumpSpec:
    """How a pump is configured: id (the controller axis, e.g. ``"X"``), name, the config's
    single-point calibration (None: none; the multi-point one lives in NVS), limits."""

    pump_id: str
    name: str
    calibration: Calibration | None
    limits: PumpLimits


@dataclass(slots=True)
class ActiveDose:
    """The dose a pump runs now: where its axis started (mm), the calibration it was
    planned with, what kind of run it is, and how much has flowed (ml)."""

    dose: Dose
    start_position_mm: float
    calibration: Calibration
    kind: DoseKind = DoseKind.VOLUME
    dispensed_ml: float = 0.0

    @property
    def travelled_mm(self) -> float:
        """Axis travel so far (mm), from the dispensed volume."""
        return self.dispensed_ml / self.calibration.ml_per_mm


class Pump:
    """One pump. Public methods are the dosing verbs; each records events, none does I/O.

    Raises ``PumpBusy`` when asked to start while dosing, ``PumpFaulted`` while in fault.
    """

    state: PumpState
    trigger: Callable[..., bool]

    def __init__(self, spec: PumpSpec) -> None:
        self.spec = spec
        self.active: ActiveDose | None = None
        self.fault_reason = ""
        self.events: list[DoseEvent] = []
        self._machine = Machine(
            model=self,
            states=PumpState,
            transitions=_TRANSITIONS,
            initial=PumpState.IDLE,
            auto_transitions=False,
        )

    @property
    def pump_id(self) -> str:
        return self.spec.pump_id

    def plan(
        self, dose_id: str, volume_ml: float, flow_rate_ml_min: float, calibration: Calibration
    ) -> Dose:
        """Validate a request for this pump with ``calibration`` (the one in force at that
        flow rate; see ``Dose.plan``) and check it may start now."""
        self.ensure_ready()
        return Dose.plan(
            dose_id,
            self.pump_id,
            volume_ml,
            flow_rate_ml_min,
            calibration=calibration,
            limits=self.spec.limits,
        )

    def ensure_ready(self) -> None:
        """Raise ``PumpFaulted`` or ``PumpBusy`` unless the pump can start a dose now."""
        if self.state is PumpState.FAULT:
            raise PumpFaulted(f"pump {self.pump_id} is in fault: {self.fault_reason}")
        if self.state is not PumpState.IDLE:
            raise PumpBusy(f"pump {self.pump_id} is {self.state.value}")

    def start(
        self,
        dose: Dose,
        start_position_mm: float,
        calibration: Calibration,
        kind: DoseKind = DoseKind.VOLUME,
        recipe: StepRef | None = None,
    ) -> None:
        """The dose's motion is about to be sent; the axis is at ``start_position_mm`` (mm);
        ``calibration`` is the one ``dose`` was planned with; ``recipe`` the recipe run step
        it belongs to, if any."""
        self.ensure_ready()
        self.trigger("begin")
        self.active = ActiveDose(dose, start_position_mm, calibration, kind)
        self.events.append(
            DoseStarted(
                dose.dose_id,
                self.pump_id,
                dose.volume_ml,
                dose.flow_rate_ml_min,
                dose.distance_mm,
                dose.feed_mm_min,
                start_position_mm,
                calibration.ml_per_mm,
                kind,
                recipe,
            )
        )

    def progress(self, position_mm: float) -> float:
        """Record the axis position (mm); returns the volume dispensed so far (ml). A dose
        only moves forward: a position behind the last one (a controller that restarted
        at 0) never takes back what already flowed."""
        if self.active is None:
            return 0.0
        self.active.dispensed_ml = max(
            self.active.dispensed_ml, self._volume_since_start(position_mm)
        )
        return self.active.dispensed_ml

    def feed_hold(self) -> None:
        """A feed hold was issued; the axis decelerates to rest."""
        if self.state in (PumpState.DOSING, PumpState.HOLDING):
            self.trigger("hold")

    def resume(self) -> None:
        """A cycle start released a feed hold; the axis moves on."""
        if self.state is PumpState.HOLDING:
            self.trigger("release")

    def complete(self, position_mm: float) -> None:
        """The motion ran to its end at ``position_mm`` (mm)."""
        self._end(DoseOutcome.COMPLETED, position_mm, "")

    def stop(self, position_mm: float, reason: str = "stopped by request") -> None:
        """The motion was halted early; the axis rests at ``position_mm`` (mm)."""
        self._end(DoseOutcome.STOPPED, position_mm, reason)

    def fail(self, reason: str, position_mm: float | None = None) -> None:
        """The dose could not run (or not to its end); the pump itself stays usable."""
        self._end(DoseOutcome.FAILED, position_mm, reason)

    def fault(self, reason: str, position_mm: float | None = None) -> None:
        """The controller alarmed or the link dropped: fail any dose and latch the fault."""
        if self.active is not None:
            self._end(DoseOutcome.FAILED, position_mm, reason)
        self.fault_reason = reason
        self.trigger("break_down")

    def clear_fault(self) -> None:
        """The controller is back and its state known; the pump may dose again."""
        if self.state is PumpState.FAULT:
            self.fault_reason = ""
            self.trigger("recover")

    def pull_events(self) -> list[DoseEvent]:
        """Hand over the events recorded since the last call."""
        events, self.events = self.events, []
        return events

    def _end(self, outcome: DoseOutcome, position_mm: float | None, reason: str) -> None:
        active = self.active
        if active is None:
            return
        actual_ml = (
            active.dispensed_ml if position_mm is None else self._volume_since_start(position_mm)
        )
        self.active = None
        if self.state is not PumpState.FAULT:
            self.trigger("finish")
        self.events.append(
            DoseEnded(
                active.dose.dose_id,
                self.pump_id,
                active.dose.volume_ml,
                actual_ml,
                outcome,
                reason,
            )
        )

    def _volume_since_start(self, position_mm: float) -> float:
        assert self.active is not None
        travel_mm = max(0.0, position_mm - self.active.start_position_mm)
        return round(self.active.calibration.volume_ml(travel_mm), 6)
