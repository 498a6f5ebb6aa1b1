"""Pre-flight checks: every dose is checked before the motor starts, and a refusal by a
safety rule is journaled and alarmed, never silent. Control-plane only."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from application.calibration_book import CalibrationBook
from application.dose_recorder import DoseRecorder
from application.emergency_latch import EmergencyLatch
from application.ports import AlarmSink
from application.safety_gate import SafetyGate
from domain.calibration import Calibration
from domain.coordinated import slowest_duration_min
from domain.dose import Dose
from domain.errors import DoserError, LimitExceeded, LimitReached, NotCalibrated
from domain.events import DoseKind
from domain.pump import Pump
from domain.telemetry import Severity

log = logging.getLogger(__name__)


class Preflight:
    """The rules a dose must pass, in order: the emergency-stop latch, the pump's state, its
    calibration, its request limits (max single dose, max flow), then what already flowed
    and what is left (per hour, per day, all pumps per day, reservoir).

    ``calibrations`` None: the pumps' configured single-point calibration only; ``gate``
    None: no quota rules; ``alarms`` None: MQTT disabled (refusals are still journaled).
    """

    def __init__(
        self,
        recorder: DoseRecorder,
        *,
        latch: EmergencyLatch | None = None,
        calibrations: CalibrationBook | None = None,
        gate: SafetyGate | None = None,
        alarms: AlarmSink | None = None,
    ) -> None:
        self._recorder = recorder
        self._latch = latch
        self._calibrations = calibrations
        self._gate = gate
        self._alarms = alarms

    def ensure_released(self) -> None:
        """Raise ``EmergencyStopLatched`` while the emergency stop is latched."""
        if self._latch is not None:
            self._latch.ensure_released()

    def calibration(self, pump: Pump, flow_rate_ml_min: float) -> Calibration:
        """The calibration in force for ``pump`` at ``flow_rate_ml_min`` (ml/min).

        Raises ``NotCalibrated``.
        """
        if self._calibrations is not None:
            return self._calibrations.calibration_for(pump.pump_id, flow_rate_ml_min)
        if pump.spec.calibration is None:
            raise NotCalibrated(f"pump {pump.pump_id} has no calibration")
        return pump.spec.calibration

    def plan(
        self,
        pump: Pump,
        dose_id: str,
        volume_ml: float,
        flow_rate_ml_min: float,
        kind: DoseKind = DoseKind.VOLUME,
        *,
        check_quota: bool = True,
    ) -> tuple[Dose, Calibration]:
        """Check a dose of ``volume_ml`` (ml) at ``flow_rate_ml_min`` (ml/min) against every
        rule; returns the planned dose and the calibration it used.

        Raises ``EmergencyStopLatched``, ``PumpFaulted``, ``PumpBusy``, ``InvalidDose``,
        ``NotCalibrated``, ``LimitExceeded`` or ``LimitReached``; the last two are journaled
        as refused doses and alarmed first. ``check_quota`` False leaves the quota rules to
        the caller (a group checks its pumps' totals together).
        """
        self.ensure_released()
        pump.ensure_ready()
        calibration = self.calibration(pump, _positive_or_one(flow_rate_ml_min))
        try:
            dose = pump.plan(dose_id, volume_ml, flow_rate_ml_min, calibration)
            if self._gate is not None and check_quota:
                self._gate.check(pump.pump_id, volume_ml)
        except (LimitExceeded, LimitReached) as exc:
            self.refuse(pump.pump_id, dose_id, volume_ml, flow_rate_ml_min, exc=exc, kind=kind)
            raise
        return dose, calibration

    def plan_group(
        self, requests: Sequence[tuple[Pump, str, float, float]], kind: DoseKind = DoseKind.VOLUME
    ) -> list[tuple[Dose, Calibration]]:
        """Check doses on several pumps that run as one coordinated move (a recipe step):
        ``requests`` are (pump, dose id, volume ml, flow rate ml/min). Each is checked as
        ``plan`` at its own flow rate; the step then lasts as long as its slowest dose, so
        the others are re-planned at the flow rate that ends them together (never faster
        than asked, with the calibration in force at that rate), and the pumps' totals are
        checked together (``SafetyGate.check_many``). Raises as ``plan``."""
        if len(requests) == 1:
            pump, dose_id, volume, flow = requests[0]
            return [self.plan(pump, dose_id, volume, flow, kind)]
        for pump, dose_id, volume, flow in requests:
            self.plan(pump, dose_id, volume, flow, kind, check_quota=False)
        duration_min = slowest_duration_min([(volume, flow) for _, _, volume, flow in requests])
        planned = []
        for pump, dose_id, volume, _ in requests:
            flow = round(volume / duration_min, 6)
            planned.append(self.plan(pump, dose_id, volume, flow, kind, check_quota=False))
        if self._gate is not None:
            try:
                self._gate.check_many({pump.pump_id: v for pump, _, v, _ in requests})
            except LimitReached as exc:
                for (pump, dose_id, volume, _), (dose, _) in zip(requests, planned, strict=True):
                    self.refuse(
                        pump.pump_id, dose_id, volume, dose.flow_rate_ml_min, exc=exc, kind=kind
                    )
                raise
        return planned

    def check_steps(
        self, steps: Sequence[Sequence[tuple[Pump, float, float]]], *, name_steps: bool = True
    ) -> None:
        """Check a recipe's steps, each a list of (pump, volume ml, flow rate ml/min), as
        ``plan_group`` would plan them, without journaling anything; then every pump's
        total over all steps (and the sum over all pumps) against the quotas and
        reservoirs. Raises as ``plan``, the message prefixed with the step (1-based)
        when ``name_steps``."""
        self.ensure_released()
        totals: dict[str, float] = {}
        for index, step in enumerate(steps):
            try:
                for pump, _, _ in step:
                    pump.ensure_ready()
                duration_min = slowest_duration_min([(v, f) for _, v, f in step])
                for pump, volume, flow in step:
                    pump.plan("check", volume, flow, self.calibration(pump, flow))
                    effective = round(volume / duration_min, 6)
                    pump.plan("check", volume, effective, self.calibration(pump, effective))
                    totals[pump.pump_id] = totals.get(pump.pump_id, 0.0) + volume
            except DoserError as exc:
                if name_steps:
                    exc.message = f"step {index + 1}: {exc.message}"
                    exc.args = (exc.message,)
                raise
        if self._gate is not None:
            self._gate.check_many(totals)

    def plan_continuous(
        self, pump: Pump, dose_id: str, flow_rate_ml_min: float
    ) -> tuple[Dose, Calibration]:
        """Check a continuous run at ``flow_rate_ml_min`` (ml/min); returns it planned as a
        dose of the most it may dispense (ml): the pump's max single dose, or less when the
        quotas or the reservoir allow less now. Raises as ``plan``."""
        self.ensure_released()
        pump.ensure_ready()
        cap_ml = pump.spec.limits.max_dose_ml
        allowance = self._gate.allowance_ml(pump.pump_id) if self._gate is not None else None
        if self._gate is not None and allowance is not None and allowance < cap_ml:
            cap_ml = allowance
            try:  # nothing left at all: refused by the rule that has run out
                self._gate.check(pump.pump_id, max(cap_ml, 0.001))
            except LimitReached as exc:
                kind = DoseKind.CONTINUOUS
                self.refuse(pump.pump_id, dose_id, cap_ml, flow_rate_ml_min, exc=exc, kind=kind)
                raise
        return self.plan(pump, dose_id, cap_ml, flow_rate_ml_min, DoseKind.CONTINUOUS)

    def plan_calibration_run(
        self, pump: Pump, dose_id: str, distance_mm: float, feed_mm_min: float
    ) -> tuple[Dose, Calibration]:
        """Check a calibration run of ``distance_mm`` (mm) at ``feed_mm_min`` (mm/min) as a
        dose of the volume the current calibration predicts, so it too respects the limits
        and the reservoir (a pump needs a nominal calibration first). Raises as ``plan``."""
        calibration = self._calibration_for_feed(pump, feed_mm_min)
        volume_ml = round(calibration.volume_ml(distance_mm), 6)
        flow_ml_min = round(feed_mm_min * calibration.ml_per_mm, 6)
        dose, _ = self.plan(pump, dose_id, volume_ml, flow_ml_min, DoseKind.CALIBRATION)
        return dose, calibration

    def _calibration_for_feed(self, pump: Pump, feed_mm_min: float) -> Calibration:
        # ml/mm depends on the flow rate, which depends on ml/mm: two fixed-point steps from
        # the middle of the pump's range settle it well within a calibration's accuracy.
        flow = pump.spec.limits.max_flow_ml_min / 2
        calibration = self.calibration(pump, flow)
        for _ in range(2):
            flow = max(1e-6, feed_mm_min * calibration.ml_per_mm)
            calibration = self.calibration(pump, flow)
        return calibration

    def refuse(
        self,
        pump_id: str,
        dose_id: str,
        volume_ml: float,
        flow_rate_ml_min: float,
        *,
        exc: LimitExceeded | LimitReached,
        kind: DoseKind = DoseKind.VOLUME,
    ) -> None:
        """Journal a refused dose (0 ml) and raise a ``doseRefused`` alarm naming the rule."""
        log.warning("dose refused on pump %s by %s: %s", pump_id, exc.rule, exc.message)
        self._recorder.refused(
            dose_id,
            pump_id,
            _finite_or_zero(volume_ml),
            _finite_or_zero(flow_rate_ml_min),
            reason=f"{exc.rule}: {exc.message}",
            kind=kind,
        )
        if self._alarms is not None:
            self._alarms.raise_alarm(
                "doseRefused",
                exc.message,
                Severity.WARNING,
                pump=pump_id,
                rule=exc.rule,
                doseId=dose_id,
            )


def _positive_or_one(value: float) -> float:
    # The calibration lookup happens before Dose.plan validates the flow rate; a bad value
    # must reach Dose.plan to get its precise error, so look up with a harmless rate.
    number = _finite_or_zero(value)
    return number if number > 0 else 1.0


def _finite_or_zero(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return 0.0
    return number if math.isfinite(number) else 0.0
