"""Runs doses on the motion controller: start, follow, halt, recover. Control-plane only.

Everything here runs on the control-plane thread (DESIGN §2), which owns the controller.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from application.calibration_book import CalibrationBook
from application.dose_recorder import DoseRecorder
from application.emergency_latch import EmergencyLatch
from application.journal_recovery import settle_unfinished
from application.link_alarms import LinkAlarms
from application.ports import (
    AlarmSink,
    Clock,
    DoseEventSink,
    DoseJournal,
    MotionController,
    StatusBoard,
)
from application.preflight import Preflight
from application.reservoirs import Reservoirs
from application.safety_gate import SafetyGate
from domain.calibration import Calibration
from domain.coordinated import CoordinatedMove
from domain.dead_man import DeadManRun
from domain.dose import Dose
from domain.errors import (
    ControllerUnavailable,
    DoserError,
    JournalRecoveryPending,
    PumpBusy,
    UnknownPump,
)
from domain.events import DoseEnded, DoseKind, StepRef
from domain.motion import ControllerState, ControllerStatus
from domain.pump import Pump, PumpSpec
from domain.recipe import Recipe
from domain.status import ControllerView, PumpDetails, SystemSnapshot

log = logging.getLogger(__name__)
_REMEMBER_ENDED = 256  # ended doses kept for ``ended``: a recipe asks within a poll or two


@dataclass(slots=True)
class _Continuous:
    pump: Pump
    run: DeadManRun


class DoseRunner:
    """Owns the pumps and the controller; one dose (one coordinated move) at a time.

    ``hold_timeout_s`` (s) bounds how long a feed hold may take to come to rest before the
    pumps are faulted. ``events`` (optional) receives every dose event after the journal;
    ``latch`` (optional), the emergency stop: while engaged every dose is refused;
    ``calibrations`` (optional) the multi-point calibrations (else the configured ones);
    ``gate`` (optional) the quota rules; ``reservoirs`` (optional) what is left per pump;
    ``alarms`` (optional) where refusals, link losses and interrupted doses are reported.
    ``dead_man_s`` (s) bounds how long a continuous run goes on without renewal;
    ``progress_interval_s`` (s) how often a running dose's progress is journaled.
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
        calibrations: CalibrationBook | None = None,
        gate: SafetyGate | None = None,
        reservoirs: Reservoirs | None = None,
        alarms: AlarmSink | None = None,
        dead_man_s: float = 5.0,
        progress_interval_s: float = 1.0,
    ) -> None:
        self._controller = controller
        self._pumps = {spec.pump_id: Pump(spec) for spec in pumps}
        self._journal = journal
        self._recorder = DoseRecorder(journal, clock, events, reservoirs=reservoirs, alarms=alarms)
        self._preflight = Preflight(
            self._recorder, latch=latch, calibrations=calibrations, gate=gate, alarms=alarms
        )
        self._latch = latch
        self._calibrations = calibrations
        self._reservoirs = reservoirs
        self._alarms = alarms
        self._clock = clock
        self._board = board
        self._poll_interval_s = poll_interval_s
        self._hold_timeout_s = hold_timeout_s
        self._dead_man_s = dead_man_s
        self._progress_interval_s = progress_interval_s
        self._next_progress = 0.0
        self._continuous: _Continuous | None = None
        self._ended: dict[str, DoseEnded] = {}
        self._settled = False
        self._link = ControllerView(connected=False, state="disconnected")
        self._link_alarms = LinkAlarms(alarms)
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
        """Open the controller link; on success settle the doses a crash left unfinished
        (first connect only) and clear link faults. Returns whether it is up."""
        try:
            self._controller.open()
            status = self._controller.status()
        except DoserError as exc:
            log.warning("controller not connected: %s", exc.message)
            self._link = ControllerView(False, "disconnected", exc.message)
            self._link_alarms.lost(exc.message)
            self.publish()
            return False
        self._settle(status)
        self._link_alarms.restored()
        self._link = ControllerView(True, status.state.value)
        for pump in self._pumps.values():
            if pump.pump_id in status.positions_mm:
                pump.clear_fault()
            else:
                pump.fault(f"the controller reports no axis {pump.pump_id}")
        self.publish()
        return True

    def _settle(self, status: ControllerStatus) -> None:
        if self._settled:
            return
        try:
            settle_unfinished(self._journal, self._recorder, status.positions_mm, self._alarms)
        except Exception:  # storage trouble: dosing stays refused, retried on the next poll
            log.exception("could not settle the doses a crash interrupted")
            return
        self._settled = True

    def close(self) -> None:
        """Close the controller link (at shutdown)."""
        self._controller.close()
        self._link = ControllerView(False, "closed")
        self.publish()

    def start(self, pump_id: str, volume_ml: float, flow_rate_ml_min: float) -> str:
        """Check and start a dose; returns its dose id once the move is planned.

        Raises ``UnknownPump``, ``EmergencyStopLatched``, ``InvalidDose``,
        ``LimitExceeded``, ``LimitReached``, ``NotCalibrated``, ``PumpBusy``,
        ``PumpFaulted``, ``ControllerUnavailable``, ``ControllerRejected``.
        """
        pump = self._pump(pump_id)
        self._ensure_link()
        dose, calibration = self._preflight.plan(
            pump, uuid.uuid4().hex, volume_ml, flow_rate_ml_min
        )
        self._begin([(pump, dose, calibration)], DoseKind.VOLUME, final=True)
        return dose.dose_id

    def start_group(
        self, doses: Sequence[tuple[str, float, float]], recipe: StepRef | None = None
    ) -> list[str]:
        """Check and start doses on several pumps as one coordinated move that ends
        together (a recipe step): ``doses`` are (pump id, volume ml, flow rate ml/min), one
        per pump. The step lasts as long as its slowest dose; the others run slower to end
        with it. ``recipe``: the run and step the doses belong to (journaled with them).
        Returns the dose ids in the order given.

        Raises as ``start`` (a refusal by a quota journals every dose of the group as
        refused); ``ValueError`` for no doses or a pump twice.
        """
        if not doses or len({pump_id for pump_id, _, _ in doses}) != len(doses):
            raise ValueError("a coordinated step doses one or more pumps, each once")
        pumps = [self._pump(pump_id) for pump_id, _, _ in doses]
        self._ensure_link()
        requests = [
            (pump, uuid.uuid4().hex, volume, flow)
            for pump, (_, volume, flow) in zip(pumps, doses, strict=True)
        ]
        planned = self._preflight.plan_group(requests)
        self._begin(
            [(pump, dose, cal) for pump, (dose, cal) in zip(pumps, planned, strict=True)],
            DoseKind.VOLUME,
            final=True,
            recipe=recipe,
        )
        return [dose.dose_id for dose, _ in planned]

    @property
    def settled(self) -> bool:
        """Whether the doses a crash left unfinished have been settled (first connect)."""
        return self._settled

    def ensure_released(self) -> None:
        """Raise ``EmergencyStopLatched`` while the emergency stop is latched."""
        self._preflight.ensure_released()

    def check_recipe(self, recipe: Recipe) -> None:
        """Pre-flight of a whole recipe before its first step: every step's doses against
        the pumps' state, calibration and request limits (as its coordinated move will run
        them), and every pump's total over the recipe against the quotas and its reservoir.
        Nothing is journaled. Raises as ``start`` (the message names the step)."""
        self._ensure_link()
        steps = [
            [(self._pump(d.pump_id), d.volume_ml, d.flow_rate_ml_min) for d in step.doses]
            for step in recipe.steps
        ]
        self._preflight.check_steps(steps)

    def check_dose(self, pump_id: str, volume_ml: float, flow_rate_ml_min: float) -> None:
        """Pre-flight of a dose made of several motions (a dispense by weight): ``volume_ml``
        (ml) at ``flow_rate_ml_min`` (ml/min) against the pump's state, calibration, request
        limits, quotas and reservoir. Nothing is journaled. Raises as ``start``."""
        self._ensure_link()
        dose = (self._pump(pump_id), volume_ml, flow_rate_ml_min)
        self._preflight.check_steps([[dose]], name_steps=False)

    def max_flow_ml_min(self, pump_id: str) -> float:
        """The pump's maximum flow rate (ml/min). Raises ``UnknownPump``."""
        return self._pump(pump_id).spec.limits.max_flow_ml_min

    def pause(self) -> None:
        """Feed hold every running dose (a recipe paused): the axes decelerate to rest and
        the doses stay running until ``resume``. No-op when nothing runs."""
        active = [p for p in self._pumps.values() if p.active is not None]
        if not active:
            return
        try:
            self._controller.feed_hold()
        except ControllerUnavailable as exc:
            self._lose_link(exc.message)
            raise
        for pump in active:
            pump.feed_hold()
        self.publish()

    def resume(self) -> None:
        """Cycle start after ``pause``: the held doses move on to their end."""
        held = [p for p in self._pumps.values() if p.active is not None]
        if not held:
            return
        try:
            self._controller.cycle_start()
        except ControllerUnavailable as exc:
            self._lose_link(exc.message)
            raise
        for pump in held:
            pump.resume()
        self.publish()

    def ended(self, dose_id: str) -> DoseEnded | None:
        """How a recent dose ended (the last ``_REMEMBER_ENDED``), or None while it runs or
        when unknown."""
        return self._ended.get(dose_id)

    def start_continuous(self, pump_id: str, flow_rate_ml_min: float) -> str:
        """Run ``pump_id`` at ``flow_rate_ml_min`` (ml/min) until stopped: bounded segments
        renewed by ``tick`` (the dead man), never more than the pump's max single dose or
        what the quota rules and its reservoir allow now. Returns the run's dose id.

        Raises as ``start``.
        """
        pump = self._pump(pump_id)
        self._ensure_link()
        dose, calibration = self._preflight.plan_continuous(
            pump, uuid.uuid4().hex, flow_rate_ml_min
        )
        run = DeadManRun(dose.distance_mm, dose.feed_mm_min, self._dead_man_s)
        self._continuous = _Continuous(pump, run)
        try:
            self._begin([(pump, dose, calibration)], DoseKind.CONTINUOUS, final=False)
        except BaseException:
            self._continuous = None
            raise
        return dose.dose_id

    def start_calibration_run(self, pump_id: str, distance_mm: float, feed_mm_min: float) -> str:
        """Move ``pump_id``'s axis ``distance_mm`` (mm) at ``feed_mm_min`` (mm/min) so the
        user can weigh or measure what flowed; journaled as a calibration run, checked like
        a dose with the volume the current calibration predicts (so a pump needs a nominal
        calibration first: config ``ml_per_mm`` or one point). Returns its dose id.

        Raises as ``start``.
        """
        pump = self._pump(pump_id)
        self._ensure_link()
        dose, calibration = self._preflight.plan_calibration_run(
            pump, uuid.uuid4().hex, distance_mm, feed_mm_min
        )
        self._begin([(pump, dose, calibration)], DoseKind.CALIBRATION, final=True)
        return dose.dose_id

    def _ensure_link(self) -> None:
        if not self._link.connected:
            raise ControllerUnavailable(f"controller is not connected: {self._link.detail}")
        if not self._settled:
            raise JournalRecoveryPending("doses a crash interrupted are not settled yet")

    def _begin(
        self,
        planned: list[tuple[Pump, Dose, Calibration]],
        kind: DoseKind,
        *,
        final: bool,
        recipe: StepRef | None = None,
    ) -> None:
        busy = [p.pump_id for p in self._pumps.values() if p.active is not None]
        if busy:
            raise PumpBusy(f"the controller is running pump {busy[0]}'s dose; one at a time")
        status = self._read_status()
        if status.state is not ControllerState.IDLE:
            raise PumpBusy(f"controller is {status.state.value}, not Idle")
        for pump, dose, calibration in planned:
            pump.start(dose, status.position(pump.pump_id), calibration, kind, recipe)
            self._drain(pump)
        self._next_progress = self._clock.monotonic() + self._progress_interval_s
        try:
            if final:
                move = CoordinatedMove.of([dose for _, dose, _ in planned])
                self._controller.start_move(move.distances_mm, move.feed_mm_min)
            else:
                self._renew(planned[0][0])
        except ControllerUnavailable as exc:
            self._lose_link(exc.message)
            raise
        except Exception as exc:  # refused (error:N) or a bug: either way nothing runs
            self._continuous = None
            for pump, _, _ in planned:
                pump.fail(str(exc), status.position(pump.pump_id))
                self._drain(pump)
            raise
        finally:
            self.publish()

    def _renew(self, pump: Pump) -> None:
        """Send the continuous run's next segment when one is due (the dead man)."""
        continuous = self._continuous
        if continuous is None or continuous.pump is not pump or pump.active is None:
            return
        segment = continuous.run.next_segment(pump.active.travelled_mm)
        if segment is None:
            return
        move = {pump.pump_id: segment.length_mm}
        feed = pump.active.dose.feed_mm_min
        if segment.final:
            self._controller.start_move(move, feed)
        else:
            self._controller.queue_move(move, feed)

    def stop(self, pump_id: str, reason: str = "stopped by request") -> None:
        """Halt ``pump_id``'s dose (feed hold, wait for rest, flush); no-op when idle."""
        pump = self._pump(pump_id)
        if pump.active is not None:
            self._halt([pump], reason)

    def stop_all(self, reason: str) -> list[str]:
        """Halt every running dose (emergency stop, shutdown) and leave the controller idle:
        a feed hold sent while nothing ran still parks Grbl in Hold (protocol.c), which
        the flush clears, so dosing can resume after a reset. Returns the ids of the pumps
        whose dose it cut short."""
        running = [p for p in self._pumps.values() if p.active is not None]
        if self._link.connected:
            self._halt(running, reason)
        return [p.pump_id for p in running]

    def tick(self) -> None:
        """Poll the controller once: follow running doses, renew a continuous run's
        segments, journal progress, detect completion and alarms. A link that fails on any
        call faults the pumps (and raises ``ControllerUnavailable``)."""
        if not self._link.connected:
            return
        try:
            self._follow()
        except ControllerUnavailable as exc:
            if self._link.connected:  # not yet handled where it was raised
                self._lose_link(exc.message)
            raise

    def _follow(self) -> None:
        status = self._read_status()
        self._link = ControllerView(True, status.state.value)
        self._settle(status)
        active = [p for p in self._pumps.values() if p.active is not None]
        if status.state is ControllerState.ALARM:
            self._on_alarm(status)
            return
        for pump in active:
            pump.progress(status.position(pump.pump_id))
        for pump in active:
            self._renew(pump)
        self._journal_progress(active)
        if active and status.state is not ControllerState.HOLD and self._motion_done():
            final = self._read_status()
            self._continuous = None
            for pump in active:
                pump.complete(final.position(pump.pump_id))
                self._drain(pump)
        self.publish()

    def _motion_done(self) -> bool:
        # A continuous run's segments carry no completion marker until the final one.
        if self._continuous is not None and not self._continuous.run.fully_sent:
            return False
        return self._controller.motion_done()

    def _journal_progress(self, active: list[Pump]) -> None:
        now = self._clock.monotonic()
        if not active or now < self._next_progress:
            return
        self._next_progress = now + self._progress_interval_s
        for pump in active:
            if pump.active is not None:
                self._recorder.progress(pump.active.dose.dose_id, pump.active.dispensed_ml)

    def publish(self) -> None:
        """Publish an immutable snapshot of pumps, their calibration and reservoir, and
        the link."""
        emergency = self._latch is not None and self._latch.engaged
        self._board.publish(
            SystemSnapshot.of(
                list(self._pumps.values()),
                self._link,
                emergency=emergency,
                details={p: self._details(p) for p in self._pumps},
            )
        )

    def _details(self, pump_id: str) -> PumpDetails:
        spec = self._pumps[pump_id].spec
        if self._calibrations is not None:
            book = self._calibrations.get(pump_id)
            source, valid = book.source, book.valid
        else:
            valid = spec.calibration is not None
            source = "config" if valid else "none"
        level = self._reservoirs.level(pump_id) if self._reservoirs is not None else None
        return PumpDetails(calibration_source=source, calibrated=valid, reservoir=level)

    def _halt(self, pumps: list[Pump], reason: str) -> None:
        self._continuous = None
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
        self._continuous = None
        running = [p.pump_id for p in self._pumps.values() if p.active is not None]
        self._link_alarms.controller_alarm(status.state.value, running)
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
        self._continuous = None
        self._link = ControllerView(False, "disconnected", detail)
        self._link_alarms.lost(detail)
        self._fault_all(f"controller link lost: {detail}", None)
        self._controller.close()

    def _pump(self, pump_id: str) -> Pump:
        try:
            return self._pumps[pump_id]
        except KeyError:
            known = ", ".join(sorted(self._pumps))
            raise UnknownPump(f"no pump {pump_id!r}; configured pumps: {known}") from None

    def _drain(self, pump: Pump) -> None:
        events = pump.pull_events()
        self._recorder.record(events)
        for event in events:
            if isinstance(event, DoseEnded):
                self._ended[event.dose_id] = event
                while len(self._ended) > _REMEMBER_ENDED:
                    del self._ended[next(iter(self._ended))]
