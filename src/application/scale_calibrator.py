"""Runs calibrations from the scale on the control plane: for each flow rate, tare, move
the pump's axis a known distance (a calibration run, journaled), wait for the weight to
settle, and turn the mass into a calibration point; at the end the points go into the
pump's multi-point calibration, with their residuals."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from application.calibration_book import CalibrationBook
from application.dose_runner import DoseRunner
from application.ports import AlarmSink, Clock
from application.scale_session import ScaleSession
from domain.calibration import PointResidual
from domain.errors import DoserError, PumpBusy, ScaleFault, ScaleUnavailable, UnknownScaleRun
from domain.events import DoseOutcome
from domain.gravimetric import TareScale
from domain.scale_calibration import (
    CalibrationPhase,
    ScaleCalibrationPlan,
    ScaleCalibrationRun,
    WeighedPoint,
)
from domain.telemetry import Severity

_REMEMBER = 16


@dataclass(frozen=True, slots=True)
class ScaleCalibrationView:
    """A calibration from the scale as others see it: ``phase`` (taring, moving,
    settling, done, aborted); the weighed ``points``; per point the calibration in force
    before (ml/mm) and how far the measurement was from it (%); once done, the leave-one-
    out ``residuals`` of the pump's whole curve; ``reason`` when aborted."""

    run_id: str
    pump_id: str
    flow_rates_ml_min: tuple[float, ...]
    started_at: datetime
    phase: str
    points: tuple[WeighedPoint, ...] = ()
    before_ml_per_mm: tuple[float, ...] = ()
    residuals: tuple[PointResidual, ...] = ()
    reason: str = ""

    @property
    def deviations_percent(self) -> tuple[float, ...]:
        """Per weighed point: (measured - calibration before) / before * 100 (%)."""
        return tuple(
            (p.point.ml_per_mm - b) / b * 100.0
            for p, b in zip(self.points, self.before_ml_per_mm, strict=False)
        )


@dataclass(slots=True)
class _Job:
    view: ScaleCalibrationView
    run: ScaleCalibrationRun
    dose_id: str | None = None


class ScaleCalibrator:
    """One calibration from the scale at a time. ``densities``: pump id → fluid density
    (g/ml, 1.0 when absent); ``resolution_g`` (g) and ``settle_timeout_s`` (s) as the
    scale's settings."""

    def __init__(
        self,
        runner: DoseRunner,
        session: ScaleSession,
        book: CalibrationBook,
        clock: Clock,
        *,
        densities: Mapping[str, float] | None = None,
        resolution_g: float = 0.01,
        settle_timeout_s: float = 10.0,
        alarms: AlarmSink | None = None,
    ) -> None:
        self._runner, self._session, self._book, self._clock = runner, session, book, clock
        self._densities = densities or {}
        self._resolution_g, self._settle_timeout_s = resolution_g, settle_timeout_s
        self._alarms = alarms
        self._job: _Job | None = None
        self._ended: OrderedDict[str, ScaleCalibrationView] = OrderedDict()

    @property
    def active(self) -> bool:
        return self._job is not None

    def ensure_idle(self) -> None:
        """Raise ``PumpBusy`` while a calibration from the scale runs."""
        if self._job is not None:
            raise PumpBusy(f"pump {self._job.view.pump_id} is being calibrated from the scale")

    def start(self, pump_id: str, flow_rates_ml_min: Sequence[float], volume_ml: float) -> str:
        """Check and start; returns the run id. Raises ``InvalidCalibration`` (field
        ``flowRates``/``volume``), ``UnknownPump``, ``NotCalibrated`` (a move needs a
        nominal calibration), ``ScaleUnavailable``, ``ScaleFault``, ``PumpBusy``, and what
        the pump's pre-flight raises for the whole volume (limits, quotas, e-stop)."""
        self.ensure_idle()
        if self._runner.dosing:
            raise PumpBusy("a pump is dosing; calibration from the scale needs them all idle")
        reading = self._session.latest()
        if not reading.in_range:
            raise ScaleFault(f"scale is {reading.status.value}", reason=reading.status.value)
        plan = ScaleCalibrationPlan(
            pump_id, tuple(flow_rates_ml_min), volume_ml,
            self._densities.get(pump_id, 1.0), self._resolution_g, self._settle_timeout_s,
        )
        nominal = [
            self._book.calibration_for(pump_id, f).ml_per_mm for f in plan.flow_rates_ml_min
        ]
        total = volume_ml * len(nominal)
        self._runner.check_dose(pump_id, total, max(plan.flow_rates_ml_min))
        view = ScaleCalibrationView(
            uuid.uuid4().hex, pump_id, plan.flow_rates_ml_min, self._clock.now(), "taring",
            before_ml_per_mm=tuple(nominal),
        )
        self._job = _Job(view, ScaleCalibrationRun(plan, nominal))
        return view.run_id

    def get(self, run_id: str) -> ScaleCalibrationView:
        """A live or recent run. Raises ``UnknownScaleRun``."""
        if self._job is not None and self._job.view.run_id == run_id:
            return self._job.view
        try:
            return self._ended[run_id]
        except KeyError:
            raise UnknownScaleRun(f"no calibration from the scale {run_id!r}") from None

    def halt(self, reason: str) -> None:
        """The e-stop or shutdown: the runner already halted the pump; end the run."""
        if self._job is not None:
            self._job.run.abort(reason)
            self._finish(self._job)

    def tick(self) -> None:
        """Follow the live run: one reading, one decision, one action."""
        job = self._job
        if job is None:
            return
        run = job.run
        try:
            reading = self._session.latest()
        except ScaleUnavailable as exc:
            run.abort(f"scale unavailable: {exc.message}")
            self._finish(job)
            return
        now = self._clock.monotonic()
        if run.moving and job.dose_id is not None:
            ended = self._runner.ended(job.dose_id)
            if ended is not None:
                run.move_ended(ended.outcome is DoseOutcome.COMPLETED, now, ended.reason)
        action = run.observe(reading, now)
        if isinstance(action, TareScale):
            self._tare(job)
        job.view = replace(job.view, phase=run.phase.value, points=tuple(run.points))
        if run.ended:
            self._finish(job)

    def _tare(self, job: _Job) -> None:
        try:
            self._session.tare()
        except ScaleFault as exc:
            if exc.reason == "unstable":
                job.run.tare_refused()
                return
            job.run.abort(f"scale refused the tare: {exc.message}")
            return
        except ScaleUnavailable as exc:
            job.run.abort(f"scale unavailable: {exc.message}")
            return
        move = job.run.tared()
        try:
            job.dose_id = self._runner.start_calibration_run(
                job.view.pump_id, move.distance_mm, move.feed_mm_min
            )
        except DoserError as exc:
            job.run.abort(f"point {move.index + 1} refused: {exc.message}")

    def _finish(self, job: _Job) -> None:
        if self._job is not job:
            return
        self._job = None
        run = job.run
        if run.moving:
            self._runner.stop(job.view.pump_id, run.reason or "calibration ended")
        residuals: tuple[PointResidual, ...] = ()
        reason = run.reason
        if run.phase is CalibrationPhase.DONE:
            try:
                calibration = self._book.get(job.view.pump_id)
                for weighed in run.points:
                    calibration = self._book.add_point(job.view.pump_id, weighed.point)
                residuals = tuple(calibration.curve.residuals()) if calibration.curve else ()
            except DoserError as exc:
                reason = f"points not stored: {exc.message}"
        view = replace(job.view, phase=run.phase.value, points=tuple(run.points),
                       residuals=residuals, reason=reason)
        self._ended[view.run_id] = view
        while len(self._ended) > _REMEMBER:
            self._ended.popitem(last=False)
        if reason and self._alarms is not None:
            self._alarms.raise_alarm(
                "scaleCalibrationFailed", f"calibration of pump {view.pump_id} from the scale: "
                f"{reason}", Severity.WARNING, pumpId=view.pump_id, runId=view.run_id,
            )
