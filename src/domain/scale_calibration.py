"""Calibration from the scale: the pump moves a known axis distance at each of several flow
rates into the beaker; each settled mass, over the fluid's density, gives a calibration
point (ml per mm at that flow rate) for the pump's multi-point curve.

Pure: readings and times come in, actions go out, like the gravimetric controller.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from domain.calibration import CalibrationPoint
from domain.errors import InvalidCalibration
from domain.gravimetric import MIN_SETTLE_S, TareScale
from domain.scale import ScaleReading

MAX_RATES = 8
MIN_MASS_RESOLUTIONS = 100  # a point weighs at least 100 scale steps: 1 % at worst


@dataclass(frozen=True, slots=True)
class ScaleCalibrationPlan:
    """Calibrate ``pump_id`` at ``flow_rates_ml_min`` (ml/min, 1 to 8, ascending after
    construction), moving about ``volume_ml`` (ml) per point by the current calibration;
    ``density_g_ml`` (g/ml) turns the mass back into volume; ``resolution_g`` (g) the
    scale's; ``settle_timeout_s`` (s) how long a stable weight may take. Raises
    ``InvalidCalibration`` (field ``flowRates`` or ``volume``)."""

    pump_id: str
    flow_rates_ml_min: tuple[float, ...]
    volume_ml: float
    density_g_ml: float
    resolution_g: float = 0.01
    settle_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        rates = self.flow_rates_ml_min
        if not 1 <= len(rates) <= MAX_RATES or not all(
            isinstance(r, int | float) and not isinstance(r, bool) and math.isfinite(r) and r > 0
            for r in rates
        ):
            raise InvalidCalibration(
                f"flowRates must be 1 to {MAX_RATES} flow rates above 0 ml/min", field="flowRates"
            )
        object.__setattr__(self, "flow_rates_ml_min", tuple(sorted(float(r) for r in rates)))
        least = MIN_MASS_RESOLUTIONS * self.resolution_g / self.density_g_ml
        if not (math.isfinite(self.volume_ml) and self.volume_ml >= least):
            raise InvalidCalibration(
                f"volume must be at least {least:g} ml (100 scale steps)", field="volume"
            )


@dataclass(frozen=True, slots=True)
class MoveAxis:
    """Move the pump's axis ``distance_mm`` (mm) at ``feed_mm_min`` (mm/min): point
    ``index`` at ``flow_rate_ml_min`` (ml/min) by the calibration in force."""

    index: int
    distance_mm: float
    feed_mm_min: float
    flow_rate_ml_min: float


@dataclass(frozen=True, slots=True)
class WeighedPoint:
    """One measured point: the move (mm at mm/min), the settled mass (g), the volume it
    means (ml) and the calibration point (flow rate ml/min = ml/mm * feed)."""

    distance_mm: float
    feed_mm_min: float
    mass_g: float
    volume_ml: float
    point: CalibrationPoint


class CalibrationPhase(enum.Enum):
    """Where a calibration from the scale stands (per point: taring, moving, settling);
    DONE and ABORTED are final."""

    TARING = "taring"
    MOVING = "moving"
    SETTLING = "settling"
    DONE = "done"
    ABORTED = "aborted"


class ScaleCalibrationRun:
    """Point by point: tare, move, settle, weigh. Feed readings to ``observe``; report the
    move with ``move_started``/``move_ended`` and the tare with ``tared``. ``points``
    grows as points are weighed; ``reason`` says why an aborted run stopped."""

    def __init__(self, plan: ScaleCalibrationPlan, ml_per_mm: list[float]) -> None:
        """``ml_per_mm`` (ml/mm): the calibration in force at each flow rate of the plan
        (in its sorted order), which sets each move's distance and feed."""
        if len(ml_per_mm) != len(plan.flow_rates_ml_min):
            raise ValueError("one calibration per flow rate")
        self.plan = plan
        self._nominal = ml_per_mm
        self.phase = CalibrationPhase.TARING
        self.points: list[WeighedPoint] = []
        self.reason = ""
        self._tare_asked = False
        self._move: MoveAxis | None = None
        self._moved_at = 0.0

    @property
    def ended(self) -> bool:
        """DONE or ABORTED."""
        return self.phase in (CalibrationPhase.DONE, CalibrationPhase.ABORTED)

    @property
    def moving(self) -> bool:
        """A point's move runs."""
        return self.phase is CalibrationPhase.MOVING

    def observe(self, reading: ScaleReading, now_s: float) -> TareScale | MoveAxis | None:
        """Take one reading; return what to do now, if anything."""
        if self.ended:
            return None
        if not reading.in_range:
            self.abort(f"scale {reading.status.value}")
            return None
        if self.phase is CalibrationPhase.TARING:
            if reading.stable and not self._tare_asked:
                self._tare_asked = True
                return TareScale()
            return None
        if self.phase is CalibrationPhase.SETTLING:
            self._settle(reading, now_s)
        return None

    def tared(self) -> MoveAxis:
        """The scale took the tare: the point's move, to send now."""
        index = len(self.points)
        flow = self.plan.flow_rates_ml_min[index]
        nominal = self._nominal[index]
        self._move = MoveAxis(index, self.plan.volume_ml / nominal, flow / nominal, flow)
        self.phase = CalibrationPhase.MOVING
        return self._move

    def tare_refused(self) -> None:
        """Not stable in time: ask again at the next stable reading."""
        self._tare_asked = False

    def move_ended(self, completed: bool, now_s: float, reason: str = "") -> None:
        """The move ran to its end (``completed``) or was cut short (the run aborts: a
        partial move's distance is not known to the step)."""
        if not self.moving:
            return
        if not completed:
            self.abort(f"the move of point {len(self.points) + 1} did not complete: {reason}")
            return
        self.phase, self._moved_at = CalibrationPhase.SETTLING, now_s

    def abort(self, reason: str) -> None:
        """End now (e-stop, a refused move, a lost scale, a request)."""
        if not self.ended:
            self.phase, self.reason = CalibrationPhase.ABORTED, reason

    def _settle(self, reading: ScaleReading, now_s: float) -> None:
        waited = now_s - self._moved_at
        if waited > self.plan.settle_timeout_s:
            self.abort(f"the weight did not settle within {self.plan.settle_timeout_s:g} s")
            return
        move = self._move
        if move is None or not reading.stable or waited < MIN_SETTLE_S * 2:
            return
        volume = reading.grams / self.plan.density_g_ml
        if volume <= 0:
            self.abort(f"point {move.index + 1}: nothing arrived ({reading.grams:g} g)")
            return
        ml_per_mm = volume / move.distance_mm
        point = CalibrationPoint(ml_per_mm * move.feed_mm_min, ml_per_mm)
        self.points.append(
            WeighedPoint(move.distance_mm, move.feed_mm_min, reading.grams, volume, point)
        )
        if len(self.points) == len(self.plan.flow_rates_ml_min):
            self.phase = CalibrationPhase.DONE
        else:
            self.phase, self._tare_asked = CalibrationPhase.TARING, False
