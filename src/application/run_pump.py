"""Use case: run a pump continuously at a flow rate until stopped (the dead man bounds it)."""

from __future__ import annotations

from application.commands import StartContinuous
from application.control_plane import ControlPlane


class RunPump:
    """Start a continuous run of ``flow_rate_ml_min`` (ml/min) on a pump.

    The run is sent as bounded segments renewed while the daemon is healthy: if the daemon
    hangs or dies, the pump stops within the configured dead-man time. It stops on
    ``StopPump``, an emergency stop, or when it reaches the pump's max single dose or what
    its quotas and reservoir allow. ``timeout_s`` (s) bounds the wait for the control plane.
    """

    def __init__(self, control: ControlPlane, timeout_s: float = 5.0) -> None:
        self._control = control
        self._timeout_s = timeout_s

    def execute(self, pump_id: str, flow_rate_ml_min: float) -> str:
        """Returns the run's dose id once its first segment is planned.

        Raises ``UnknownPump``, ``EmergencyStopLatched``, ``InvalidDose``,
        ``LimitExceeded``, ``LimitReached``, ``NotCalibrated``, ``PumpBusy``,
        ``PumpFaulted``, ``ControllerUnavailable`` or ``ControllerRejected``.
        """
        dose_id: str = self._control.request(
            StartContinuous(pump_id, flow_rate_ml_min), self._timeout_s
        )
        return dose_id
