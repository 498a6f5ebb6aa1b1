"""Use case: report system status from the control plane's latest snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports import Clock, StatusBoard
from domain.status import SystemSnapshot


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The latest snapshot plus the daemon's uptime (s)."""

    snapshot: SystemSnapshot
    uptime_s: float


class ReportStatus:
    """Reads the snapshot; never waits on the control plane, never touches the controller."""

    def __init__(self, board: StatusBoard, clock: Clock) -> None:
        self._board = board
        self._clock = clock
        self._started = clock.monotonic()

    def execute(self) -> StatusReport:
        """The latest snapshot and uptime (s); raises ``LookupError`` before the control
        plane's first publish (the runner publishes when it is built, so only in tests)."""
        return StatusReport(self._board.latest(), self._clock.monotonic() - self._started)
