"""Use case: publish latest-value telemetry: system status every 30 s idle / 5 s
dispensing / 1 s in an emergency, each pump's status when it changes, outbox health, and
the scale's weight while dispensing by weight.

Runs on its own network-plane thread; reads the control plane's snapshot, never waits on
it. Nothing here is queued: a value missed while disconnected is replaced by the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time

from application.ports import (
    Clock,
    DoseJournal,
    HostMetrics,
    Outbox,
    Sleeper,
    StatusBoard,
    TelemetryLink,
)
from application.pump_presets import PumpPresets
from domain.events import DoseOutcome
from domain.scale import ScaleView
from domain.status import PumpView, SystemState
from domain.telemetry import OutboxPolicy, scale_weight
from domain.telemetry_status import StatusCadence, pump_status, queue_status, system_status

log = logging.getLogger(__name__)
_TICK_S = 0.25  # how often pump changes are looked for (s)


class PublishStatus:
    """``dropped`` reports how many events a full outbox refused (``RecordTelemetry``)."""

    def __init__(
        self,
        *,
        link: TelemetryLink,
        board: StatusBoard,
        outbox: Outbox,
        journal: DoseJournal,
        host: HostMetrics,
        clock: Clock,
        sleeper: Sleeper,
        cadence: StatusCadence,
        outbox_policy: OutboxPolicy,
        dropped: Callable[[], int],
        presets: PumpPresets,
        scale: Callable[[], ScaleView] | None = None,
    ) -> None:
        self._link, self._board, self._outbox = link, board, outbox
        self._journal, self._host, self._clock = journal, host, clock
        self._sleeper, self._cadence, self._policy = sleeper, cadence, outbox_policy
        self._dropped = dropped
        self._presets = presets
        self._scale = scale
        self._started = clock.monotonic()
        self._generation = -1
        self._next_status = 0.0
        self._last_state: SystemState | None = None
        self._published_keys: dict[str, tuple[object, ...]] = {}

    def run(self) -> None:
        """Tick until shutdown."""
        while not self._sleeper.stopping:
            try:
                self.tick()
            except Exception:
                log.exception("telemetry: status tick failed")
            if self._sleeper.wait(_TICK_S):
                return

    def tick(self) -> None:
        """Publish what is due now (nothing while disconnected)."""
        if not self._link.connected:
            return
        snapshot = self._board.latest()
        now = self._clock.monotonic()
        if self._link.generation != self._generation:  # new session: re-publish everything
            self._generation = self._link.generation
            self._published_keys.clear()
            self._next_status = now
        if snapshot.state is not self._last_state or now >= self._next_status:
            self._last_state = snapshot.state
            self._next_status = now + self._cadence.interval_s(snapshot.state)
            depth = self._outbox.depth()
            self._link.publish_status(
                system_status(snapshot, now - self._started, self._host.memory_kib(), depth)
            )
            self._link.publish_queue_status(
                queue_status(
                    depth, self._policy.capacity, self._policy.warning(depth), self._dropped()
                )
            )
        for view in snapshot.pumps:
            self._publish_pump_if_changed(view)
        weight = scale_weight(self._scale()) if self._scale is not None else None
        if weight is not None:  # every tick (4 Hz) while dispensing by weight
            self._link.publish_scale_weight(weight)

    def _publish_pump_if_changed(self, view: PumpView) -> None:
        preset_ml = self._presets.preset(view.pump_id).volume_ml
        key = (view.state, view.dose_id, preset_ml)
        if self._published_keys.get(view.pump_id) == key:
            return  # nothing new; the journal is only read when something changed
        last_ml, today_ml = self._journal_figures(view.pump_id)
        payload = pump_status(view, last_ml, today_ml, preset_ml)
        if self._link.publish_pump_status(view.pump_id, payload):
            self._published_keys[view.pump_id] = key

    def _journal_figures(self, pump_id: str) -> tuple[float | None, float]:
        """The last dose finished today and today's total (ml); "today" is the UTC day."""
        now = self._clock.now()
        midnight = datetime.combine(now.date(), time(), now.tzinfo)
        doses = [
            r for r in self._journal.history(limit=1000, since=midnight) if r.pump_id == pump_id
        ]
        finished = [r for r in doses if r.outcome is not DoseOutcome.RUNNING]
        last = finished[0].actual_ml if finished else None
        return last, sum(r.actual_ml or 0.0 for r in finished)
