"""Use case: report system status from the control plane's latest snapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from application.ports import Clock, StatusBoard
from domain.mqtt_link import LinkView
from domain.status import SystemSnapshot


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The latest snapshot, the daemon's uptime (s) and the MQTT link (None: disabled)."""

    snapshot: SystemSnapshot
    uptime_s: float
    mqtt: LinkView | None = None


class ReportStatus:
    """Reads the snapshot; never waits on the control plane, never touches the controller."""

    def __init__(
        self,
        board: StatusBoard,
        clock: Clock,
        mqtt_link: Callable[[], LinkView] | None = None,
    ) -> None:
        self._board = board
        self._clock = clock
        self._mqtt_link = mqtt_link
        self._started = clock.monotonic()

    def execute(self) -> StatusReport:
        """The latest snapshot and uptime (s); raises ``LookupError`` before the control
        plane's first publish (the runner publishes when it is built, so only in tests)."""
        mqtt = self._mqtt_link() if self._mqtt_link else None
        return StatusReport(self._board.latest(), self._clock.monotonic() - self._started, mqtt)
