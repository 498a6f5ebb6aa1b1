"""Use case: dispense a volume on one pump."""

from __future__ import annotations

from application.commands import StartDose
from application.control_plane import ControlPlane


class DispenseVolume:
    """Start a dose of ``volume_ml`` (ml) at ``flow_rate_ml_min`` (ml/min) on a pump.

    ``timeout_s`` (s) bounds the wait for the control plane to accept it.
    """

    def __init__(self, control: ControlPlane, timeout_s: float = 5.0) -> None:
        self._control = control
        self._timeout_s = timeout_s

    def execute(self, pump_id: str, volume_ml: float, flow_rate_ml_min: float) -> str:
        """Returns the dose id once the move is planned (the dose then runs on its own).

        Raises ``UnknownPump``, ``InvalidDose``, ``PumpBusy``, ``PumpFaulted``,
        ``ControllerUnavailable`` or ``ControllerRejected``; nothing moves when it raises.
        """
        dose_id: str = self._control.request(
            StartDose(pump_id, volume_ml, flow_rate_ml_min), self._timeout_s
        )
        return dose_id
