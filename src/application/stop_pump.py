"""Use case: stop a pump mid-dose."""

from __future__ import annotations

from application.commands import StopPump as StopPumpCommand
from application.control_plane import ControlPlane


class StopPump:
    """Halt a pump's running dose (feed hold, then flush); idempotent when it is idle.

    The dose is journaled as stopped with the volume actually delivered (ml).
    ``timeout_s`` (s) bounds the wait, which includes the deceleration.
    """

    def __init__(self, control: ControlPlane, timeout_s: float = 15.0) -> None:
        self._control = control
        self._timeout_s = timeout_s

    def execute(self, pump_id: str) -> None:
        """Raises ``UnknownPump`` or ``ControllerUnavailable``."""
        self._control.request(StopPumpCommand(pump_id), self._timeout_s)
