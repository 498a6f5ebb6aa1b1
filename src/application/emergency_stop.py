"""Use cases: the emergency stop and its reset, the same from every interface.

The stop first writes a real-time feed hold straight to the controller (Grbl ``!``, from
the calling thread, bypassing every queue), latches (in NVS, so a restart keeps it),
then lets the control plane bring the axes to rest, flush the planner and journal what
flowed, and raises an alarm. While latched, every dose is refused until the reset.
"""

from __future__ import annotations

import logging
from typing import Literal

from application.commands import HaltAll, RefreshStatus
from application.control_plane import ControlPlane
from application.emergency_latch import EmergencyLatch
from application.ports import AlarmSink, MotionController
from domain.errors import DoserError
from domain.telemetry import Severity

log = logging.getLogger(__name__)


# When an orderly shutdown (SIGTERM) latches the emergency stop: only when it cut a dose
# short (a person should look before anything doses again), always, or never.
ShutdownLatch = Literal["if_dosing", "always", "never"]


class EmergencyStop:
    """The one stop path of every interface (HTTP, MQTT, shutdown signals).

    ``alarms`` may be None (MQTT disabled). ``timeout_s`` (s) bounds the wait for the axes
    to come to rest and the planner to be flushed."""

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

    def hold_now(self) -> None:
        """Write the real-time feed hold (Grbl ``!``) straight to the serial line from the
        calling thread, bypassing every queue. Never raises (logged when the controller
        cannot be reached)."""
        try:
            self._controller.feed_hold()
        except DoserError as exc:
            log.error("emergency stop: feed hold not sent: %s", exc.message)

    def execute(self, source: str) -> None:
        """Stop everything now and latch; ``source`` names the interface (http, mqtt, ...).
        Never raises: a controller that cannot be reached is logged, the latch holds
        anyway."""
        self.hold_now()  # first, before anything can queue behind it
        newly = self._latch.engage(f"emergency stop from {source}")
        log.critical("emergency stop from %s: latched", source)
        self._halt(f"emergency stop from {source}")
        if newly and self._alarms is not None:
            self._alarms.raise_alarm(
                "emergencyStop",
                f"emergency stop from {source}: all pumps stopped, dosing latched off",
                Severity.CRITICAL,
                source=source,
            )

    def shutdown(self, source: str, latch: ShutdownLatch) -> list[str]:
        """The same stop for an orderly shutdown (``source``: the signal's name): feed hold
        first, every running dose brought to rest and journaled as stopped; the latch is
        engaged per ``latch``. Returns the pumps whose dose was cut short. Never raises."""
        self.hold_now()
        confirmed = self._halt(f"daemon shutting down ({source})")
        # Unconfirmed: whether a dose ran is unknown, so latch as if one did.
        halted = ["?"] if confirmed is None else confirmed
        if latch == "always" or (latch == "if_dosing" and halted):
            reason = f"shutdown ({source}) while dosing on {', '.join(halted) or 'nothing'}"
            if self._latch.engage(reason):
                log.critical("%s: emergency stop latched", reason)
                if self._alarms is not None:
                    self._alarms.raise_alarm(
                        "emergencyStop",
                        f"{reason}: doses stopped, dosing latched off until reset",
                        Severity.CRITICAL,
                        source=source,
                        pumps=halted,
                    )
        return confirmed or []

    def _halt(self, reason: str) -> list[str] | None:
        try:
            halted: list[str] = self._control.request(HaltAll(reason), self._timeout_s)
        except DoserError as exc:
            log.error("emergency stop: halt not confirmed: %s", exc.message)
            return None
        return halted


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
