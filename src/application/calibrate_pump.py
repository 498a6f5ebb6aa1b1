"""Use cases of multi-point pump calibration: read, replace, extend or delete a pump's
calibration curve, and the calibration run (the pump moves a known distance, the user
weighs or reads what flowed, the measurement becomes a calibration point)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from application.calibration_book import CalibrationBook, CalibrationRun, PumpCalibration
from application.commands import StartCalibrationRun
from application.control_plane import ControlPlane
from application.ports import DoseJournal
from domain.calibration import CalibrationPoint, PointResidual
from domain.errors import InvalidCalibration
from domain.events import DoseOutcome

MAX_RUN_DISTANCE_MM = 10_000.0


@dataclass(frozen=True, slots=True)
class Measurement:
    """What a calibration run gave: the run (``distance_mm`` mm at ``feed_mm_min``
    mm/min), the ``measured_ml`` (ml), the calibration ``point`` made of them, and how far
    the calibration in force before it was off: ``predicted_ml`` (ml), ``residual_ml``
    (measured - predicted, ml), ``residual_percent`` (% of predicted); None without one."""

    run_id: str
    distance_mm: float
    feed_mm_min: float
    measured_ml: float
    point: CalibrationPoint
    predicted_ml: float | None
    residual_ml: float | None
    residual_percent: float | None


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """A pump's calibration, the leave-one-out residual of each point (flow-rate order,
    empty without a curve), and the measurement just recorded (if any)."""

    calibration: PumpCalibration
    residuals: list[PointResidual]
    measurement: Measurement | None = None


def _report(
    calibration: PumpCalibration, measurement: Measurement | None = None
) -> CalibrationReport:
    residuals = calibration.curve.residuals() if calibration.curve else []
    return CalibrationReport(calibration, residuals, measurement)


class ReadCalibration:
    """The calibration of one pump."""

    def __init__(self, book: CalibrationBook) -> None:
        self._book = book

    def execute(self, pump_id: str) -> CalibrationReport:
        """Raises ``UnknownPump``."""
        return _report(self._book.get(pump_id))


class ReplaceCalibration:
    """Store a whole new calibration curve for a pump."""

    def __init__(self, book: CalibrationBook) -> None:
        self._book = book

    def execute(self, pump_id: str, points: Sequence[tuple[float, float]]) -> CalibrationReport:
        """``points``: ``(flow rate ml/min, ml/mm)`` pairs, 1 to 32, flow rates at least 1 %
        apart. Raises ``UnknownPump`` or ``InvalidCalibration`` (field ``points`` or
        ``points[i].flowRate``/``points[i].mlPerMm``); nothing is stored then."""
        return _report(self._book.replace(pump_id, _points(points)))


class AddCalibrationPoint:
    """Add one calibration point to a pump's curve (a new curve when none is stored)."""

    def __init__(self, book: CalibrationBook) -> None:
        self._book = book

    def execute(self, pump_id: str, flow_rate_ml_min: float, ml_per_mm: float) -> CalibrationReport:
        """The point at ``flow_rate_ml_min`` (ml/min) measured ``ml_per_mm`` (ml/mm); it
        replaces a point within 1 % of its flow rate. Raises ``UnknownPump`` or
        ``InvalidCalibration`` (field ``flowRate``/``mlPerMm``/``points``)."""
        point = CalibrationPoint(flow_rate_ml_min, ml_per_mm)
        return _report(self._book.add_point(pump_id, point))


class DeleteCalibration:
    """Forget a pump's stored curve; it falls back to its configured ml/mm (if any)."""

    def __init__(self, book: CalibrationBook) -> None:
        self._book = book

    def execute(self, pump_id: str) -> CalibrationReport:
        """Raises ``UnknownPump``."""
        return _report(self._book.delete(pump_id))


class RunCalibration:
    """Start a calibration run: the control plane moves the pump's axis a known distance.

    ``timeout_s`` (s) bounds the wait for the control plane to accept the run.
    """

    def __init__(
        self, book: CalibrationBook, control: ControlPlane, timeout_s: float = 5.0
    ) -> None:
        self._book = book
        self._control = control
        self._timeout_s = timeout_s

    def execute(
        self,
        pump_id: str,
        distance_mm: float,
        *,
        flow_rate_ml_min: float | None = None,
        feed_mm_min: float | None = None,
    ) -> CalibrationRun:
        """Move ``distance_mm`` (mm, above 0, at most 10000) at either ``flow_rate_ml_min``
        (ml/min, turned into a feed with the pump's current calibration) or ``feed_mm_min``
        (mm/min): exactly one of them. Returns the run once the move is planned.

        Raises ``UnknownPump``; ``InvalidCalibration`` (field ``flowRate``, ``feedRate`` or
        ``distance``); ``NotCalibrated`` for a pump with no calibration at all (the run is
        checked against the pump's limits with the volume a nominal calibration predicts);
        and what the control plane raises (``PumpBusy``, ``ControllerUnavailable``, ...).
        """
        calibration = self._book.get(pump_id)
        if (flow_rate_ml_min is None) == (feed_mm_min is None):
            raise InvalidCalibration(
                "give either flowRate (ml/min) or feedRate (mm/min) for a calibration run",
                field="flowRate",
            )
        if not (math.isfinite(distance_mm) and 0 < distance_mm <= MAX_RUN_DISTANCE_MM):
            raise InvalidCalibration(
                f"the distance must be above 0 and at most {MAX_RUN_DISTANCE_MM:g} mm",
                field="distance",
            )
        if flow_rate_ml_min is not None:
            _check_positive(flow_rate_ml_min, "flowRate", "ml/min")
            feed_mm_min = calibration.calibration_at(flow_rate_ml_min).feed_mm_min(flow_rate_ml_min)
        assert feed_mm_min is not None  # exactly one of the two was given
        _check_positive(feed_mm_min, "feedRate", "mm/min")
        run_id: str = self._control.request(
            StartCalibrationRun(pump_id, distance_mm, feed_mm_min), self._timeout_s
        )
        if flow_rate_ml_min is not None:
            expected_ml: float | None = (
                distance_mm * calibration.calibration_at(flow_rate_ml_min).ml_per_mm
            )
        else:
            expected_ml = _expected_ml(calibration, distance_mm, feed_mm_min)
        run = CalibrationRun(run_id, pump_id, distance_mm, feed_mm_min, expected_ml)
        self._book.remember_run(run)
        return run


class RecordCalibrationRun:
    """Turn the volume the user measured after a calibration run into a calibration point."""

    def __init__(self, book: CalibrationBook, journal: DoseJournal) -> None:
        self._book = book
        self._journal = journal

    def execute(self, pump_id: str, run_id: str, measured_ml: float) -> CalibrationReport:
        """``measured_ml`` (ml) flowed during run ``run_id`` of pump ``pump_id``: the point
        is (feed x measured/distance ml/min, measured/distance ml/mm), added as by
        ``AddCalibrationPoint``. The report's measurement compares it with the
        calibration in force before.

        Raises ``UnknownPump``; ``InvalidCalibration`` with field ``measuredVolume`` (not
        finite above 0) or ``runId`` (unknown or forgotten, another pump's, still running,
        or stopped/failed/interrupted before its end).
        """
        before = self._book.get(pump_id)
        _check_positive(measured_ml, "measuredVolume", "ml")
        run = self._book.run(run_id)
        if run.pump_id != pump_id:
            raise InvalidCalibration(
                f"calibration run {run_id!r} was on pump {run.pump_id!r}, not {pump_id!r}",
                field="runId",
            )
        self._check_finished(run_id)
        ml_per_mm = measured_ml / run.distance_mm
        point = CalibrationPoint(run.feed_mm_min * ml_per_mm, ml_per_mm)
        predicted_ml = residual_ml = residual_percent = None
        if before.valid:
            predicted_ml = before.calibration_at(point.flow_rate_ml_min).volume_ml(run.distance_mm)
            residual_ml = measured_ml - predicted_ml
            residual_percent = residual_ml / predicted_ml * 100.0
        after = self._book.add_point(pump_id, point)
        measurement = Measurement(
            run_id,
            run.distance_mm,
            run.feed_mm_min,
            measured_ml,
            point,
            predicted_ml,
            residual_ml,
            residual_percent,
        )
        return _report(after, measurement)

    def _check_finished(self, run_id: str) -> None:
        record = self._journal.get(run_id)
        if record is None:
            raise InvalidCalibration(
                f"calibration run {run_id!r} is not in the dose journal; start a new run",
                field="runId",
            )
        if record.outcome is DoseOutcome.RUNNING:
            raise InvalidCalibration(
                f"calibration run {run_id!r} is still running; measure once it ended",
                field="runId",
            )
        if record.outcome is not DoseOutcome.COMPLETED:
            raise InvalidCalibration(
                f"calibration run {run_id!r} did not run to its end ({record.outcome.value}); "
                "start a new run",
                field="runId",
            )


def _points(pairs: Sequence[tuple[float, float]]) -> list[CalibrationPoint]:
    points = []
    for index, (flow_rate_ml_min, ml_per_mm) in enumerate(pairs):
        try:
            points.append(CalibrationPoint(flow_rate_ml_min, ml_per_mm))
        except InvalidCalibration as exc:
            raise InvalidCalibration(exc.message, field=f"points[{index}].{exc.field}") from None
    return points


def _check_positive(value: float, field: str, unit: str) -> None:
    if isinstance(value, bool) or not (math.isfinite(value) and value > 0):
        raise InvalidCalibration(f"{field} must be a finite number above 0 {unit}", field=field)


def _expected_ml(
    calibration: PumpCalibration, distance_mm: float, feed_mm_min: float
) -> float | None:
    """What a run at a feed should deliver (ml) under the current calibration, None
    without one.

    The flow rate of a feed depends on ml/mm, which depends on the flow rate: the fixed
    point flow = feed x ml/mm(flow) is found by iteration (ml/mm varies slowly with the
    flow rate, so a few steps settle it; a single-factor calibration needs one).
    """
    if not calibration.valid:
        return None
    ml_per_mm = calibration.calibration_at(feed_mm_min).ml_per_mm
    for _ in range(20):
        ml_per_mm = calibration.calibration_at(feed_mm_min * ml_per_mm).ml_per_mm
    return distance_mm * ml_per_mm
