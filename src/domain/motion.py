"""What the domain knows of a motion controller: its state and axis positions."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class ControllerState(enum.Enum):
    """Controller machine state (the Grbl 1.1 status report's first field)."""

    IDLE = "Idle"
    RUN = "Run"
    HOLD = "Hold"
    JOG = "Jog"
    ALARM = "Alarm"
    DOOR = "Door"
    CHECK = "Check"
    HOME = "Home"
    SLEEP = "Sleep"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class ControllerStatus:
    """One status report.

    ``positions_mm`` maps axis letter (``"X"``) to machine position in mm. ``hold_complete``
    is True once a feed hold has decelerated to a stop (Grbl ``Hold:0``), False while it is
    still decelerating (``Hold:1``), None outside a hold. ``feed_mm_min`` is the current
    feed when the controller reports it (Grbl ``FS:``), else None.
    """

    state: ControllerState
    positions_mm: Mapping[str, float] = field(default_factory=dict)
    hold_complete: bool | None = None
    feed_mm_min: float | None = None

    def position(self, axis: str) -> float:
        """Machine position (mm) of ``axis``; raises ``KeyError`` if not reported."""
        return self.positions_mm[axis]

    @property
    def stopped_in_hold(self) -> bool:
        """True when a feed hold has brought all motion to rest."""
        return self.state is ControllerState.HOLD and self.hold_complete is True
