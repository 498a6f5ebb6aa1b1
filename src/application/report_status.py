"""Use case: report system status from the control plane's latest snapshot."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from application.ports import Clock, Outbox, StatusBoard
from application.safety_gate import SafetyGate
from domain.mqtt_link import LinkView
from domain.safety import PumpSafety, Usage
from domain.scale import ScaleView
from domain.status import SystemSnapshot, SystemState


@dataclass(frozen=True, slots=True)
class PumpSafetyView:
    """A pump's safety limits and what it dispensed in their windows (ml)."""

    limits: PumpSafety
    usage: Usage


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The latest snapshot, the daemon's uptime (s), the MQTT link (None: disabled), per
    pump its limits and usage (empty when no safety gate is wired), and the scale (None:
    not wired), and how many events and alarms wait in the outbox for the broker (None:
    MQTT disabled)."""

    snapshot: SystemSnapshot
    uptime_s: float
    mqtt: LinkView | None = None
    safety: Mapping[str, PumpSafetyView] = field(default_factory=dict)
    global_max_ml_per_day: float | None = None
    scale: ScaleView | None = None
    outbox_depth: int | None = None


class ReportStatus:
    """Reads the snapshot; never waits on the control plane, never touches the controller."""

    def __init__(
        self,
        board: StatusBoard,
        clock: Clock,
        mqtt_link: Callable[[], LinkView] | None = None,
        *,
        gate: SafetyGate | None = None,
        global_max_ml_per_day: float | None = None,
        scale: Callable[[], ScaleView] | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self._board = board
        self._outbox = outbox
        self._clock = clock
        self._mqtt_link = mqtt_link
        self._gate = gate
        self._global_max_ml_per_day = global_max_ml_per_day
        self._scale = scale
        self._started = clock.monotonic()

    def execute(self) -> StatusReport:
        """The latest snapshot and uptime (s); raises ``LookupError`` before the control
        plane's first publish (the runner publishes when it is built, so only in tests)."""
        mqtt = self._mqtt_link() if self._mqtt_link else None
        snapshot = self._board.latest()
        return StatusReport(
            snapshot,
            self._clock.monotonic() - self._started,
            mqtt,
            self._safety(snapshot),
            self._global_max_ml_per_day,
            self._scale() if self._scale is not None else None,
            self._outbox.depth() if self._outbox is not None and mqtt is not None else None,
        )

    def system_state(self) -> SystemState | None:
        """The system state of the latest snapshot (None before the first): a reference
        read, cheap enough to poll from an event loop."""
        try:
            return self._board.latest().state
        except LookupError:
            return None

    def _safety(self, snapshot: SystemSnapshot) -> dict[str, PumpSafetyView]:
        if self._gate is None:
            return {}
        gate = self._gate
        return {
            view.pump_id: PumpSafetyView(gate.limits_of(view.pump_id), gate.usage(view.pump_id))
            for view in snapshot.pumps
        }
