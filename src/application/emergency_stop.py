"""Use cases: the emergency stop and its reset, the same from every interface.

The stop first writes a real-time feed hold straight to the controller (Grbl ``!``, from
the calling thread, bypassing every queue), latches (in NVS, so a restart keeps it),
then lets the control plane bring the axes to rest, flush the planner and journal what
flowed, and raises an alarm. While latched, every dose is refused until the reset.
"""

from __future__ import annotations

import logging

from application.commands import HaltAll, RefreshStatus
from application.control_plane import ControlPlane
from application.emergency_latch import EmergencyLatch
from application.ports import AlarmSink, MotionController
from domain.errors import DoserError
from domain.telemetry import Severity

log = logging.getLogger(__name__)


class EmergencyStop:
    """``alarms`` may be None (MQTT disabled). ``timeout_s`` (s) bounds the wait for the
    axes to come to rest and the planner to be flushed."""

    def __init__(
        self,
        controller: MotionController,
        latch: EmergencyLatch,
        control: ControlPlane,
        alarms: AlarmSink | None,
        timeout_s: float = 15.0,
    ) -> None:
        self._controller = controller
        self._latch = latch
        self._control = control
        self._alarms = alarms
        self._timeout_s = timeout_s

    def execute(self, source: str) -> None:
        """Stop everything now; ``source`` names the interface (http, mqtt, ...). Never
        raises: a controller that cannot be reached is logged, the latch holds anyway."""
        try:
            self._controller.feed_hold()  # first, before anything can queue behind it
        except DoserError as exc:
            log.error("emergency stop: feed hold not sent: %s", exc.message)
        newly = self._latch.engage(f"emergency stop from {source}")
        log.critical("emergency stop from %s: latched", source)
        try:
            self._control.request(HaltAll(f"emergency stop from {source}"), self._timeout_s)
        except DoserError as exc:
            log.error("emergency stop: halt not confirmed: %s", exc.message)
        if newly and self._alarms is not None:
            self._alarms.raise_alarm(
                "emergencyStop",
                f"emergency stop from {source}: all pumps stopped, dosing latched off",
                Severity.CRITICAL,
                source=source,
            )


class ResetEmergencyStop:
    """Release the latch so dosing may resume (nothing starts by itself)."""

    def __init__(
        self, latch: EmergencyLatch, control: ControlPlane, alarms: AlarmSink | None
    ) -> None:
        self._latch = latch
        self._control = control
        self._alarms = alarms

    def execute(self, source: str) -> bool:
        """Returns whether it was latched. Raises ``ControllerUnavailable`` only if the
        control plane does not answer (the latch is released anyway)."""
        released = self._latch.release()
        if released:
            log.warning("emergency stop reset from %s", source)
            if self._alarms is not None:
                self._alarms.raise_alarm(
                    "emergencyStopReset",
                    f"emergency stop reset from {source}",
                    Severity.INFO,
                    source=source,
                )
        self._control.request(RefreshStatus(), 5.0)
        return released
