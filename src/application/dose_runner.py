"""Runs doses on the motion controller: start, follow, halt, recover. Control-plane only.

Everything here runs on the control-plane thread (DESIGN §2), which owns the controller.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from application.dose_recorder import DoseRecorder
from application.emergency_latch import EmergencyLatch
from application.ports import Clock, DoseEventSink, DoseJournal, MotionController, StatusBoard
from domain.errors import (
    ControllerUnavailable,
    DoserError,
    PumpBusy,
    UnknownPump,
)
from domain.motion import ControllerState, ControllerStatus
from domain.pump import Pump, PumpSpec
from domain.status import ControllerView, SystemSnapshot

log = logging.getLogger(__name__)


class DoseRunner:
    """Owns the pumps and the controller; one dose (one coordinated move) at a time.

    ``hold_timeout_s`` (s) bounds how long a feed hold may take to come to rest before the
    pumps are faulted. ``events`` (optional) receives every dose event after the journal;
    ``latch`` (optional), the emergency stop: while engaged every dose is refused.
    """

    def __init__(
        self,
        controller: MotionController,
        pumps: Iterable[PumpSpec],
        journal: DoseJournal,
        clock: Clock,
        board: StatusBoard,
        *,
        poll_interval_s: float = 0.05,
        hold_timeout_s: float = 10.0,
        events: DoseEventSink | None = None,
        latch: EmergencyLatch | None = None,
    ) -> None:
        self._controller = controller
        self._pumps = {spec.pump_id: Pump(spec) for spec in pumps}
        self._recorder = DoseRecorder(journal, clock, events)
        self._latch = latch
        self._clock = clock
        self._board = board
        self._poll_interval_s = poll_interval_s
        self._hold_timeout_s = hold_timeout_s
        self._link = ControllerView(connected=False, state="disconnected")
        self.publish()

    @property
    def connected(self) -> bool:
        """Whether the controller link is up."""
        return self._link.connected

    @property
    def dosing(self) -> bool:
        """Whether any pump runs a dose (the control plane then polls at the fast rate)."""
        return any(p.active is not None for p in self._pumps.values())

    def connect(self) -> bool:
        """Open the controller link; on success clear link faults. Returns whether it is up."""
        try:
            self._controller.open()
            status = self._controller.status()
        except DoserError as exc:
            log.warning("controller not connected: %s", exc.message)
            self._link = ControllerView(False, "disconnected", exc.message)
            self.publish()
            return False
        self._link = ControllerView(True, status.state.value)
        for pump in self._pumps.values():
            if pump.pump_id in status.positions_mm:
                pump.clear_fault()
            else:
                pump.fault(f"the controller reports no axis {pump.pump_id}")
        self.publish()
        return True

    def close(self) -> None:
        """Close the controller link (at shutdown)."""
        self._controller.close()
        self._link = ControllerView(False, "closed")
        self.publish()

    def start(self, pump_id: str, volume_ml: float, flow_rate_ml_min: float) -> str:
        """Validate and start a dose; returns its dose id once the move is planned.

        Raises ``UnknownPump``, ``EmergencyStopLatched``, ``InvalidDose``, ``PumpBusy``,
        ``PumpFaulted``, ``ControllerUnavailable``, ``ControllerRejected``.
        """
        pump = self._pump(pump_id)
        if self._latch is not None:
            self._latch.ensure_released()
        if not self._link.connected:
            raise ControllerUnavailable(f"controller is not connected: {self._link.detail}")
        dose = pump.plan(uuid.uuid4().hex, volume_ml, flow_rate_ml_min)
        busy = [p.pump_id for p in self._pumps.values() if p.active is not None]
        if busy:
            raise PumpBusy(f"the controller is running pump {busy[0]}'s dose; one at a time")
        status = self._read_status()
        if status.state is not ControllerState.IDLE:
            raise PumpBusy(f"controller is {status.state.value}, not Idle")
        pump.start(dose, status.position(pump.pump_id))
        self._drain(pump)
        try:
            self._controller.start_move({pump.pump_id: dose.distance_mm}, dose.feed_mm_min)
        except ControllerUnavailable as exc:
            self._lose_link(exc.message)
            raise
        except Exception as exc:  # refused (error:N) or a bug: either way nothing runs
            pump.fail(str(exc), status.position(pump.pump_id))
            self._drain(pump)
            raise
        finally:
            self.publish()
        return dose.dose_id

    def stop(self, pump_id: str, reason: str = "stopped by request") -> None:
        """Halt ``pump_id``'s dose (feed hold, wait for rest, flush); no-op when idle."""
        pump = self._pump(pump_id)
        if pump.active is not None:
            self._halt([pump], reason)

    def stop_all(self, reason: str) -> None:
        """Halt every running dose (emergency stop, shutdown) and leave the controller idle:
        a feed hold sent while nothing ran still parks Grbl in Hold (protocol.c), which
        the flush clears, so dosing can resume after a reset."""
        if self._link.connected:
            self._halt([p for p in self._pumps.values() if p.active is not None], reason)

    def tick(self) -> None:
        """Poll the controller once: follow running doses, detect completion and alarms."""
        if not self._link.connected:
            return
        status = self._read_status()
        self._link = ControllerView(True, status.state.value)
        active = [p for p in self._pumps.values() if p.active is not None]
        if status.state is ControllerState.ALARM:
            self._on_alarm(status)
            return
        for pump in active:
            pump.progress(status.position(pump.pump_id))
        if active and status.state is not ControllerState.HOLD and self._controller.motion_done():
            final = self._read_status()
            for pump in active:
                pump.complete(final.position(pump.pump_id))
                self._drain(pump)
        self.publish()

    def publish(self) -> None:
        """Publish an immutable snapshot of pumps and link."""
        emergency = self._latch is not None and self._latch.engaged
        self._board.publish(
            SystemSnapshot.of(list(self._pumps.values()), self._link, emergency=emergency)
        )

    def _halt(self, pumps: list[Pump], reason: str) -> None:
        try:
            self._controller.feed_hold()
        except ControllerUnavailable as exc:
            self._lose_link(exc.message)
            raise
        for pump in pumps:
            pump.feed_hold()
        self.publish()
        deadline = self._clock.monotonic() + self._hold_timeout_s
        status = self._read_status()
        while not (status.stopped_in_hold or status.state is ControllerState.IDLE):
            if status.state is ControllerState.ALARM:
                self._on_alarm(status)
                return
            if self._clock.monotonic() > deadline:
                self._fault_all("feed hold did not come to rest in time", status)
                return
            for pump in pumps:
                pump.progress(status.position(pump.pump_id))
            self._clock.sleep(self._poll_interval_s)
            status = self._read_status()
        self._controller.flush()
        final = self._read_status()
        for pump in pumps:
            pump.stop(final.position(pump.pump_id), reason)
            self._drain(pump)
        self.publish()

    def _on_alarm(self, status: ControllerStatus) -> None:
        log.warning("controller alarm; failing running doses, then unlocking")
        self._fault_all(f"controller in {status.state.value}", status)
        # A pump axis has no home to lose: after journaling the failed dose, unlock so the
        # pumps can dose again (relative moves only, actual volumes come from MPos deltas).
        try:
            self._controller.unlock()
            status = self._read_status()
            self._link = ControllerView(True, status.state.value)
            if status.state is ControllerState.IDLE:
                for pump in self._pumps.values():
                    if pump.pump_id in status.positions_mm:
                        pump.clear_fault()
        except DoserError as exc:
            self._link = ControllerView(True, ControllerState.ALARM.value, exc.message)
        self.publish()

    def _fault_all(self, reason: str, status: ControllerStatus | None) -> None:
        for pump in self._pumps.values():
            position = status.positions_mm.get(pump.pump_id) if status else None
            pump.fault(reason, position)
            self._drain(pump)
        self.publish()

    def _read_status(self) -> ControllerStatus:
        try:
            return self._controller.status()
        except ControllerUnavailable as exc:
            self._lose_link(exc.message)
            raise

    def _lose_link(self, detail: str) -> None:
        log.warning("controller link lost: %s", detail)
        self._link = ControllerView(False, "disconnected", detail)
        self._fault_all(f"controller link lost: {detail}", None)
        self._controller.close()

    def _pump(self, pump_id: str) -> Pump:
        try:
            return self._pumps[pump_id]
        except KeyError:
            known = ", ".join(sorted(self._pumps))
            raise UnknownPump(f"no pump {pump_id!r}; configured pumps: {known}") from None

    def _drain(self, pump: Pump) -> None:
        self._recorder.record(pump.pull_events())
