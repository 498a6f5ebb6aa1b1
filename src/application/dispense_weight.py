"""Use cases of the scale: dispense a target mass by weight (start, abort, follow),
calibrate a pump from the scale, and read, tare or zero the scale. Each goes through the
control plane, which owns the scale."""

from __future__ import annotations

from application.commands import (
    AbortWeighDispense,
    ScaleCommand,
    StartScaleCalibration,
    StartWeighDispense,
)
from application.control_plane import ControlPlane
from application.scale_calibrator import ScaleCalibrationView, ScaleCalibrator
from application.weigh_conductor import WeighConductor
from domain.errors import UnknownScaleRun
from domain.scale import ScaleReading, ScaleView, WeighRunView


class DispenseWeight:
    """Dispense by weight. ``timeout_s`` (s) bounds the wait for the control plane."""

    def __init__(
        self, control: ControlPlane, weigher: WeighConductor, timeout_s: float = 5.0
    ) -> None:
        self._control, self._weigher, self._timeout_s = control, weigher, timeout_s

    def execute(
        self,
        pump_id: str,
        target_g: float,
        tolerance_g: float | None = None,
        flow_rate_ml_min: float | None = None,
        origin: str = "http",
    ) -> str:
        """Start dispensing ``target_g`` (g) on ``pump_id``; returns the run id once the
        scale is read and the whole target passed the pump's pre-flight (the run then goes
        on by itself: tare, fast phase, dribble, top-ups).

        Raises ``ScaleUnavailable``, ``ScaleFault``, ``UnknownPump``, ``InvalidDose``
        (field ``targetGrams``, ``tolerance`` or ``flowRate``), ``PumpBusy``,
        ``EmergencyStopLatched``, ``NotCalibrated``, ``LimitExceeded``, ``LimitReached``,
        ``ControllerUnavailable``; nothing moves when it raises.
        """
        command = StartWeighDispense(pump_id, target_g, tolerance_g, flow_rate_ml_min, origin)
        run_id: str = self._control.request(command, self._timeout_s)
        return run_id

    def abort(self, run_id: str) -> WeighRunView:
        """Abort a live run (its pump halted); returns the ended run. Raises
        ``UnknownScaleRun``, ``PumpBusy`` (it already ended)."""
        view: WeighRunView = self._control.request(AbortWeighDispense(run_id), self._timeout_s)
        return view

    def get(self, run_id: str) -> WeighRunView:
        """A live or recent run (the last 32). Raises ``UnknownScaleRun``."""
        view = self._weigher.get(run_id)
        if view is None:
            raise UnknownScaleRun(f"no dispense by weight {run_id!r}")
        return view


class OperateScale:
    """Read, tare or zero the scale. ``timeout_s`` (s) bounds the wait for the control
    plane (a tare waits for a stable weight, up to 2 s)."""

    def __init__(
        self, control: ControlPlane, weigher: WeighConductor, timeout_s: float = 5.0
    ) -> None:
        self._control, self._weigher, self._timeout_s = control, weigher, timeout_s

    def read(self) -> ScaleReading:
        """The newest reading. Raises ``ScaleUnavailable``."""
        reading: ScaleReading = self._control.request(ScaleCommand("read"), self._timeout_s)
        return reading

    def tare(self) -> float:
        """Tare; returns the tare weight (g). Raises ``ScaleUnavailable``, ``ScaleFault``,
        ``PumpBusy`` (while a dispense by weight runs)."""
        grams: float = self._control.request(ScaleCommand("tare"), self._timeout_s)
        return grams

    def zero(self) -> None:
        """Zero the scale. Raises as ``tare``."""
        self._control.request(ScaleCommand("zero"), self._timeout_s)

    def view(self) -> ScaleView:
        """The scale as the control plane last saw it (never waits)."""
        return self._weigher.view


class CalibrateFromScale:
    """Calibrate a pump from the scale. ``timeout_s`` (s) bounds the wait for the control
    plane."""

    def __init__(
        self, control: ControlPlane, calibrator: ScaleCalibrator, timeout_s: float = 5.0
    ) -> None:
        self._control, self._calibrator, self._timeout_s = control, calibrator, timeout_s

    def execute(
        self, pump_id: str, flow_rates_ml_min: tuple[float, ...], volume_ml: float = 10.0
    ) -> str:
        """Start: at each flow rate (ml/min) the pump moves about ``volume_ml`` (ml) into
        the beaker, which is weighed; the points then go into the pump's calibration.
        Returns the run id. Raises ``InvalidCalibration`` (field ``flowRates``/``volume``),
        ``UnknownPump``, ``NotCalibrated``, ``ScaleUnavailable``, ``ScaleFault``,
        ``PumpBusy``, ``EmergencyStopLatched``, the limit refusals."""
        command = StartScaleCalibration(pump_id, tuple(flow_rates_ml_min), volume_ml)
        run_id: str = self._control.request(command, self._timeout_s)
        return run_id

    def get(self, run_id: str) -> ScaleCalibrationView:
        """A live or recent run. Raises ``UnknownScaleRun``."""
        return self._calibrator.get(run_id)
