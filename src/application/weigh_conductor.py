"""Runs dispenses by weight on the control plane: the gravimetric controller's actions
become scale commands and bounded pump phases (doses of the ``DoseRunner``, journaled like
any other), its end becomes a ``weightDispenseComplete`` event, an alarm when it failed,
and a better in-flight estimate for the pump.

Control-plane only (DESIGN §2): it owns the scale as the runner owns the controller.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace

from application.dose_runner import DoseRunner
from application.inflight_book import InflightBook
from application.ports import AlarmSink, Clock, WeighEventSink
from application.scale_session import ScaleSession
from domain.errors import (
    DoserError,
    InvalidDose,
    PumpBusy,
    ScaleFault,
    ScaleUnavailable,
    UnknownScaleRun,
)
from domain.events import DoseOutcome
from domain.gravimetric import GravimetricDispense, StartFlow, StopFlow, TareScale, WeighAction
from domain.scale import ScaleReading, ScaleView, WeighRunView
from domain.telemetry import Severity
from domain.weighing import WeighFault, WeighOutcome, WeighPlan

log = logging.getLogger(__name__)
_REMEMBER = 32  # ended runs kept for ``get``

_ALARM_OF = {
    WeighFault.NOT_RISING: ("weightNotRising", Severity.CRITICAL),
    WeighFault.WEIGHT_FELL: ("weightFell", Severity.CRITICAL),
    WeighFault.SCALE_RANGE: ("scaleOutOfRange", Severity.WARNING),
    WeighFault.UNSETTLED: ("weightNotSettled", Severity.WARNING),
}


@dataclass(frozen=True, slots=True)
class WeighSettings:
    """Defaults of a dispense by weight (``[scale]`` config): tolerance and resolution (g),
    dribble flow (ml/min), settle timeout (s), largest target (g), and each pump's fluid
    density (g/ml, 1.0 when not given)."""

    tolerance_g: float = 0.05
    resolution_g: float = 0.01
    slow_flow_ml_min: float = 10.0
    settle_timeout_s: float = 10.0
    max_target_g: float = 150.0
    densities: Mapping[str, float] | None = None


@dataclass(slots=True)
class _Run:
    view: WeighRunView
    dispense: GravimetricDispense
    dose_id: str | None = None


class WeighConductor:
    """One dispense by weight at a time on the scale of ``session`` (an unconfigured scale
    refuses every request with ``ScaleUnavailable``)."""

    def __init__(
        self,
        runner: DoseRunner,
        session: ScaleSession,
        clock: Clock,
        inflight: InflightBook,
        settings: WeighSettings,
        *,
        events: WeighEventSink | None = None,
        alarms: AlarmSink | None = None,
    ) -> None:
        self._runner, self._session, self._clock = runner, session, clock
        self._inflight, self._settings = inflight, settings
        self._events, self._alarms = events, alarms
        self._run: _Run | None = None
        self._ended: OrderedDict[str, WeighRunView] = OrderedDict()
        self.view = ScaleView(configured=session.configured, connected=False,
                              detail=session.detail)

    @property
    def active(self) -> bool:
        """A dispense by weight is running (the control plane then polls fast)."""
        return self._run is not None

    def ensure_idle(self) -> None:
        """Raise ``PumpBusy`` while a dispense by weight owns the pumps and the scale."""
        if self._run is not None:
            raise PumpBusy(f"a dispense by weight runs on pump {self._run.view.pump_id}")

    def start(
        self,
        pump_id: str,
        target_g: float,
        tolerance_g: float | None,
        flow_rate_ml_min: float | None,
        origin: str,
    ) -> str:
        """Check and start a dispense by weight; returns its run id. The fast phase runs at
        ``flow_rate_ml_min`` (default: the pump's maximum), the dribble at the configured
        slow flow (never faster). Raises ``ScaleUnavailable``, ``ScaleFault``, ``PumpBusy``,
        ``InvalidDose`` (field ``targetGrams``/``tolerance``/``flowRate``) and whatever the
        pump's pre-flight raises for the whole target (limits, quotas, reservoir)."""
        self.ensure_idle()
        self._runner.ensure_released()
        if self._runner.dosing:
            raise PumpBusy("a pump is dosing; dispense by weight needs them all idle")
        reading = self.read()
        if not reading.in_range:
            raise ScaleFault(f"scale is {reading.status.value}", reason=reading.status.value)
        plan = self._plan(pump_id, target_g, tolerance_g, flow_rate_ml_min)
        # the whole target through the pump's limits first, with a margin for the top-ups
        self._runner.check_dose(pump_id, 1.05 * target_g / plan.density_g_ml, plan.fast_flow_ml_min)
        now = self._clock.monotonic()
        run_id = uuid.uuid4().hex
        view = WeighRunView(
            run_id, pump_id, origin, plan.target_g, plan.tolerance_g, "taring", 0.0,
            self._clock.now(),
        )
        self._run = _Run(view, GravimetricDispense(plan, now))
        self._publish(reading)
        return run_id

    def _plan(
        self, pump_id: str, target_g: float, tolerance_g: float | None, flow: float | None
    ) -> WeighPlan:
        settings = self._settings
        max_flow = self._runner.max_flow_ml_min(pump_id)
        if isinstance(target_g, int | float) and target_g > settings.max_target_g:
            raise InvalidDose(
                f"the target may be at most {settings.max_target_g:g} g", field="targetGrams"
            )
        fast = max_flow if flow is None else flow
        if fast > max_flow:
            raise InvalidDose(
                f"pump {pump_id} runs at most {max_flow:g} ml/min", field="flowRate"
            )
        return WeighPlan(
            pump_id,
            target_g,
            settings.tolerance_g if tolerance_g is None else tolerance_g,
            (settings.densities or {}).get(pump_id, 1.0),
            fast,
            min(settings.slow_flow_ml_min, fast),  # a bad fast flow: WeighPlan refuses it
            inflight_s=self._inflight.get(pump_id),
            resolution_g=settings.resolution_g,
            settle_timeout_s=settings.settle_timeout_s,
        )

    def abort(self, run_id: str, reason: str = "aborted by request") -> WeighRunView:
        """Abort the live run ``run_id`` (its pump phase halted); returns its view.
        Raises ``UnknownScaleRun`` when no such run is live."""
        run = self._run
        if run is None or run.view.run_id != run_id:
            if self.get(run_id) is not None:
                raise PumpBusy(f"the dispense by weight {run_id} has already ended")
            raise UnknownScaleRun(f"no dispense by weight {run_id!r}")
        self._end(run, reason)
        return self.get(run_id) or run.view

    def close(self) -> None:
        """Close the scale (at shutdown)."""
        self._session.close()

    def halt(self, reason: str) -> None:
        """The e-stop or shutdown: the runner already halted the pump; end the live run."""
        if self._run is not None:
            self._end(self._run, reason)

    def get(self, run_id: str) -> WeighRunView | None:
        """A live or recently ended run, or None."""
        if self._run is not None and self._run.view.run_id == run_id:
            return self._run.view
        return self._ended.get(run_id)

    def read(self) -> ScaleReading:
        """The newest reading (opening the scale if it is closed). Raises
        ``ScaleUnavailable``."""
        try:
            reading = self._session.latest()
        except ScaleUnavailable:
            self._publish(None)
            raise
        self._publish(reading)
        return reading

    def tare(self) -> float:
        """Tare the scale (g) when no dispense by weight runs. Raises ``PumpBusy``,
        ``ScaleUnavailable``, ``ScaleFault``."""
        self.ensure_idle()
        return self._session.tare()

    def zero(self) -> None:
        """Zero the scale when no dispense by weight runs. Raises as ``tare``."""
        self.ensure_idle()
        self._session.zero()

    def tick(self) -> None:
        """Follow the live run: one reading, one controller decision, one action."""
        run = self._run
        if run is None:  # idle: keep the link up and the status's weight fresh
            self._session.keep_open()
            if self._session.connected:
                with contextlib.suppress(ScaleUnavailable):
                    self.read()
            else:
                self._publish(None)
            return
        try:
            reading = self._session.latest()
        except ScaleUnavailable as exc:
            self._publish(None)
            alarm = ("scaleUnavailable", Severity.CRITICAL)
            self._end(run, f"scale unavailable: {exc.message}", alarm)
            return
        now = self._clock.monotonic()
        self._follow_dose(run, now)
        if self._run is None:
            return
        self._act(run, run.dispense.observe(reading, now), now)
        self._publish(reading)
        if run.dispense.result is not None:
            self._finish(run)

    def _follow_dose(self, run: _Run, now: float) -> None:
        if run.dose_id is None or not run.dispense.flowing:
            return
        ended = self._runner.ended(run.dose_id)
        if ended is None:
            return
        if ended.outcome is DoseOutcome.FAILED:
            self._end(run, f"pump phase failed: {ended.reason}")
            return
        run.dispense.flow_ended(ended.actual_ml, now)

    def _act(self, run: _Run, action: WeighAction | None, now: float) -> None:
        pump_id = run.view.pump_id
        if isinstance(action, TareScale):
            try:
                self._session.tare()
            except ScaleFault as exc:
                if exc.reason != "unstable":
                    run.dispense.abort(f"scale refused the tare: {exc.message}", now)
                    return
                run.dispense.tare_refused()
            except ScaleUnavailable as exc:
                run.dispense.abort(f"scale unavailable: {exc.message}", now)
            else:
                run.dispense.tared(now)
        elif isinstance(action, StartFlow):
            try:
                run.dose_id = self._runner.start(pump_id, action.volume_ml, action.flow_rate_ml_min)
            except DoserError as exc:  # journaled and alarmed by the runner already
                run.dispense.abort(f"{action.phase.value} phase refused: {exc.message}", now)
            else:
                run.dispense.flow_started(now)
        elif isinstance(action, StopFlow):
            self._stop_pump(run, action.reason)
            self._follow_dose(run, now)

    def _stop_pump(self, run: _Run, reason: str) -> None:
        try:
            self._runner.stop(run.view.pump_id, reason)
        except DoserError as exc:  # the runner faulted the pump and recorded why
            log.warning("could not stop pump %s: %s", run.view.pump_id, exc.message)

    def _end(self, run: _Run, reason: str, alarm: tuple[str, Severity] | None = None) -> None:
        now = self._clock.monotonic()
        if run.dispense.flowing:
            self._stop_pump(run, reason)
            self._follow_dose(run, now)
        run.dispense.abort(reason, now)
        self._finish(run, alarm)

    def _finish(self, run: _Run, alarm: tuple[str, Severity] | None = None) -> None:
        result = run.dispense.result
        if result is None or self._run is not run:
            return
        if run.dispense.flowing:  # ended by the controller while a phase still ran
            self._stop_pump(run, result.reason or "dispense by weight ended")
        self._run = None
        view = replace(run.view, phase=run.dispense.phase.value, net_g=result.actual_g,
                       result=result)
        self._ended[view.run_id] = view
        while len(self._ended) > _REMEMBER:
            self._ended.popitem(last=False)
        self.view = replace(self.view, run=view)
        observed = run.dispense.observed_inflight_s
        if observed is not None:
            self._inflight.learn(view.pump_id, observed)
        if self._events is not None:
            self._events.weight_completed(view, self._clock.now())
        alarm = alarm or _ALARM_OF.get(result.fault)
        if alarm is None and result.outcome is WeighOutcome.OUT_OF_TOLERANCE:
            alarm = ("weightOutOfTolerance", Severity.WARNING)
        if alarm is not None and self._alarms is not None:
            self._alarms.raise_alarm(
                alarm[0], f"dispense by weight on pump {view.pump_id}: {result.reason}",
                alarm[1], pumpId=view.pump_id, runId=view.run_id,
                targetWeight_g=result.target_g, actualWeight_g=round(result.actual_g, 4),
            )

    def _publish(self, reading: ScaleReading | None) -> None:
        run = self._run
        run_view = self.view.run
        if run is not None:
            run_view = replace(run.view, phase=run.dispense.phase.value,
                               net_g=run.dispense.net_g)
            run.view = run_view
        session = self._session
        if reading is None:
            reading = self.view.reading if session.connected else None
        self.view = ScaleView(session.configured, session.connected, reading,
                              session.detail, run_view)
