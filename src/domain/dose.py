"""A dose: a volume (ml) at a flow rate (ml/min) on one pump, validated against its limits."""

from __future__ import annotations

import math
from dataclasses import dataclass

from domain.calibration import Calibration
from domain.errors import InvalidDose, LimitExceeded

# Grbl reports and accepts positions to 0.001 mm (interface.md: MPos has 3 decimals in mm
# mode); a move shorter than that is not sent at all.
AXIS_RESOLUTION_MM = 0.001


@dataclass(frozen=True, slots=True)
class PumpLimits:
    """What one pump may be asked to do: flow rate (ml/min) and single dose (ml) ceilings."""

    max_flow_ml_min: float
    max_dose_ml: float

    def __post_init__(self) -> None:
        for name in ("max_flow_ml_min", "max_dose_ml"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value}")


@dataclass(frozen=True, slots=True)
class Dose:
    """An accepted dose request in user units and in controller units.

    ``volume_ml`` (ml) and ``flow_rate_ml_min`` (ml/min) as requested; ``distance_mm`` (mm)
    and ``feed_mm_min`` (mm/min) after calibration, rounded to the axis resolution.
    Build one with :meth:`plan`.
    """

    dose_id: str
    pump_id: str
    volume_ml: float
    flow_rate_ml_min: float
    distance_mm: float
    feed_mm_min: float

    @classmethod
    def plan(
        cls,
        dose_id: str,
        pump_id: str,
        volume_ml: float,
        flow_rate_ml_min: float,
        *,
        calibration: Calibration,
        limits: PumpLimits,
    ) -> Dose:
        """Validate a request and convert it to axis travel and feed.

        Raises ``InvalidDose`` (with ``field`` = ``"volume"`` or ``"flowRate"``) when a value
        is not a finite positive number or the volume is below what one axis step (0.001 mm)
        can deliver; its subclass ``LimitExceeded`` (``rule`` = ``"max_flow"`` or
        ``"max_dose"``) when the flow rate exceeds ``limits.max_flow_ml_min`` or the volume
        exceeds ``limits.max_dose_ml``.
        """
        _require_positive("volume", volume_ml, "ml")
        _require_positive("flowRate", flow_rate_ml_min, "ml/min")
        if flow_rate_ml_min > limits.max_flow_ml_min:
            raise LimitExceeded(
                f"flow rate {flow_rate_ml_min:g} ml/min exceeds pump {pump_id}'s maximum of "
                f"{limits.max_flow_ml_min:g} ml/min",
                field="flowRate",
                rule="max_flow",
            )
        if volume_ml > limits.max_dose_ml:
            raise LimitExceeded(
                f"volume {volume_ml:g} ml exceeds pump {pump_id}'s maximum single dose of "
                f"{limits.max_dose_ml:g} ml",
                field="volume",
                rule="max_dose",
            )
        distance_mm = round(calibration.distance_mm(volume_ml), 3)
        if distance_mm < AXIS_RESOLUTION_MM:
            raise InvalidDose(
                f"volume {volume_ml:g} ml is below pump {pump_id}'s resolution of "
                f"{calibration.volume_ml(AXIS_RESOLUTION_MM):g} ml",
                field="volume",
            )
        return cls(
            dose_id=dose_id,
            pump_id=pump_id,
            volume_ml=volume_ml,
            flow_rate_ml_min=flow_rate_ml_min,
            distance_mm=distance_mm,
            feed_mm_min=round(calibration.feed_mm_min(flow_rate_ml_min), 3),
        )


def _require_positive(field: str, value: float, unit: str) -> None:
    # bool is an int subclass; a JSON true must not become a 1 ml dose.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidDose(f"{field} must be a number in {unit}, got {value!r}", field=field)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float (10**400)
        finite = False
    if not finite:
        raise InvalidDose(f"{field} must be finite, got {value!r}", field=field)
    if value <= 0:
        raise InvalidDose(f"{field} must be greater than 0 {unit}, got {value:g}", field=field)
