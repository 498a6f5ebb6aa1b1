"""Pump calibration: how many ml one mm of axis travel moves, as one linear factor
(``Calibration``) or as a curve of calibration points over the flow rate
(``CalibrationCurve``), because tubing delivers a little less per mm at high speed."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import InvalidCalibration


@dataclass(frozen=True, slots=True)
class Calibration:
    """Linear calibration of one pump's axis.

    ``ml_per_mm`` is the volume (ml) delivered by 1 mm of axis travel, measured by the user
    (e.g. 0.05 ml/mm). Converts volumes and flow rates to controller units and back.

    Raises ``ValueError`` when ``ml_per_mm`` is not a positive finite number.
    """

    ml_per_mm: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ml_per_mm) and self.ml_per_mm > 0):
            raise ValueError(f"ml_per_mm must be a positive finite number, got {self.ml_per_mm}")

    def distance_mm(self, volume_ml: float) -> float:
        """Axis travel (mm) that delivers ``volume_ml`` (ml)."""
        return volume_ml / self.ml_per_mm

    def feed_mm_min(self, flow_rate_ml_min: float) -> float:
        """Axis feed (mm/min) that gives ``flow_rate_ml_min`` (ml/min)."""
        return flow_rate_ml_min / self.ml_per_mm

    def volume_ml(self, distance_mm: float) -> float:
        """Volume (ml) delivered by ``distance_mm`` (mm) of travel."""
        return distance_mm * self.ml_per_mm


MAX_POINTS = 32
# Two calibration points closer than this (relative to the larger flow rate) measure the
# same operating point: keeping both would make the curve's slope between them noise.
SAME_FLOW_FRACTION = 0.01


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    """One measurement: at ``flow_rate_ml_min`` (ml/min) the pump moved ``ml_per_mm`` (ml
    per mm of axis travel).

    Raises ``InvalidCalibration`` (field ``flowRate`` or ``mlPerMm``) unless both are
    finite numbers above 0 (a bool is not a number here).
    """

    flow_rate_ml_min: float
    ml_per_mm: float

    def __post_init__(self) -> None:
        flow = _positive(self.flow_rate_ml_min, "flowRate", "the flow rate", "ml/min")
        ml_per_mm = _positive(self.ml_per_mm, "mlPerMm", "ml per mm", "ml/mm")
        object.__setattr__(self, "flow_rate_ml_min", flow)
        object.__setattr__(self, "ml_per_mm", ml_per_mm)


@dataclass(frozen=True, slots=True)
class PointResidual:
    """How well the other points predict ``point`` (leave-one-out).

    ``predicted_ml_per_mm`` (ml/mm): the curve of the other points at the point's flow rate;
    ``residual_percent`` (%): (measured - predicted) / predicted * 100. Both None when the
    curve has no other point.
    """

    point: CalibrationPoint
    predicted_ml_per_mm: float | None
    residual_percent: float | None


@dataclass(frozen=True, slots=True)
class CalibrationCurve:
    """Multi-point calibration of one pump: ml/mm as a function of the flow rate (ml/min).

    ``points`` (1 to ``MAX_POINTS``, kept sorted by flow rate, no two within 1 % of each
    other) are joined piecewise-linearly; outside the end points the nearest end point's
    ml/mm holds (clamped, never extrapolated). Raises ``InvalidCalibration`` (field
    ``points`` or ``flowRate``) when the points break those rules.
    """

    points: tuple[CalibrationPoint, ...]

    def __post_init__(self) -> None:
        points = tuple(sorted(self.points, key=lambda p: p.flow_rate_ml_min))
        if not points:
            raise InvalidCalibration("a calibration needs at least one point", field="points")
        if len(points) > MAX_POINTS:
            raise InvalidCalibration(
                f"a calibration holds at most {MAX_POINTS} points, got {len(points)}",
                field="points",
            )
        for lower, upper in itertools.pairwise(points):
            if _same_flow(lower.flow_rate_ml_min, upper.flow_rate_ml_min):
                raise InvalidCalibration(
                    f"calibration points at {lower.flow_rate_ml_min:g} and "
                    f"{upper.flow_rate_ml_min:g} ml/min are within 1 % of each other; "
                    "keep one point per flow rate",
                    field="flowRate",
                )
        object.__setattr__(self, "points", points)

    @classmethod
    def of(cls, points: Iterable[CalibrationPoint]) -> CalibrationCurve:
        """The curve through ``points`` (any order); raises as the class does."""
        return cls(tuple(points))

    def ml_per_mm_at(self, flow_rate_ml_min: float) -> float:
        """ml/mm at ``flow_rate_ml_min`` (ml/min): interpolated between the two neighbouring
        points, the end point's value outside them. Raises ``InvalidCalibration`` (field
        ``flowRate``) for NaN."""
        if math.isnan(flow_rate_ml_min):
            raise InvalidCalibration("the flow rate must be a number", field="flowRate")
        first, last = self.points[0], self.points[-1]
        if flow_rate_ml_min <= first.flow_rate_ml_min:
            return first.ml_per_mm
        if flow_rate_ml_min >= last.flow_rate_ml_min:
            return last.ml_per_mm
        flows = [p.flow_rate_ml_min for p in self.points]
        upper_index = bisect.bisect_right(flows, flow_rate_ml_min)
        lower, upper = self.points[upper_index - 1], self.points[upper_index]
        share = (flow_rate_ml_min - lower.flow_rate_ml_min) / (
            upper.flow_rate_ml_min - lower.flow_rate_ml_min
        )
        return lower.ml_per_mm + share * (upper.ml_per_mm - lower.ml_per_mm)

    def at(self, flow_rate_ml_min: float) -> Calibration:
        """The linear calibration to use for a dose at ``flow_rate_ml_min`` (ml/min)."""
        return Calibration(self.ml_per_mm_at(flow_rate_ml_min))

    def with_point(self, point: CalibrationPoint) -> CalibrationCurve:
        """A new curve with ``point`` added; it replaces every point within 1 % of its flow
        rate (a re-measurement). Raises ``InvalidCalibration`` when that makes more than
        ``MAX_POINTS`` points."""
        kept = [
            p for p in self.points if not _same_flow(p.flow_rate_ml_min, point.flow_rate_ml_min)
        ]
        return CalibrationCurve.of([*kept, point])

    def residuals(self) -> list[PointResidual]:
        """Leave-one-out residual of every point, in flow-rate order."""
        if len(self.points) == 1:
            return [PointResidual(self.points[0], None, None)]
        residuals = []
        for index, point in enumerate(self.points):
            others = CalibrationCurve(self.points[:index] + self.points[index + 1 :])
            predicted = others.ml_per_mm_at(point.flow_rate_ml_min)
            percent = (point.ml_per_mm - predicted) / predicted * 100.0
            residuals.append(PointResidual(point, predicted, percent))
        return residuals


def _same_flow(a: float, b: float) -> bool:
    return abs(a - b) <= SAME_FLOW_FRACTION * max(a, b)


def _positive(value: object, field: str, what: str, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCalibration(f"{what} must be a number in {unit}", field=field)
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.inf
    if not (math.isfinite(number) and number > 0):
        raise InvalidCalibration(
            f"{what} must be a finite number above 0 {unit}, got {value!r}", field=field
        )
    return number
