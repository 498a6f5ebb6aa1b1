"""Alarms about the controller link: one when it is lost (not one per reconnect attempt),
one when it is back, one per controller alarm (Grbl ``ALARM:N``)."""

from __future__ import annotations

from application.ports import AlarmSink
from domain.telemetry import Severity


class LinkAlarms:
    """Raises the link's alarms on ``alarms`` (None: MQTT disabled, nothing is raised, the
    bookkeeping still runs). Control-plane only."""

    def __init__(self, alarms: AlarmSink | None) -> None:
        self._alarms = alarms
        self._lost = False

    def lost(self, detail: str) -> None:
        """The link is down (or could not be opened); alarms once until ``restored``."""
        if self._lost:
            return
        self._lost = True
        self._raise(
            "controllerLinkLost",
            f"controller link lost: {detail}; pumps in fault, dosing refused until it is back",
            Severity.CRITICAL,
        )

    def restored(self) -> None:
        """The link is up and the controller's state read; alarms only after a loss."""
        if self._lost:
            self._lost = False
            self._raise("controllerLinkRestored", "controller link is back", Severity.INFO)

    def controller_alarm(self, state: str, failed_pumps: list[str]) -> None:
        """The controller went into ``state`` (Alarm); the doses of ``failed_pumps`` failed."""
        self._raise(
            "controllerAlarm",
            f"controller in {state}; running doses failed: {failed_pumps}",
            Severity.CRITICAL,
            pumps=failed_pumps,
        )

    def _raise(self, alarm_type: str, message: str, severity: Severity, **details: object) -> None:
        if self._alarms is not None:
            self._alarms.raise_alarm(alarm_type, message, severity, **details)
