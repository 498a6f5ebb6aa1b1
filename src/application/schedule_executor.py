"""Use case: fire the schedules' due slots, once each, also across restarts.

Every tick decides, per enabled schedule, the slots that came due since it was last
checked (``domain.schedule_slots.decide_slots``: on time, a catch-up within the grace window, or
skipped). A slot to run is claimed in the schedule book *before* it is dispatched: the
claim is keyed by (schedule, slot), so a second executor, or this one after a restart
at the firing minute, finds it taken and doses nothing. The price is at-most-once: a
crash between claim and dispatch leaves the run ``claimed`` and it never doses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from application.emergency_latch import EmergencyLatch
from application.ports import AlarmSink, Clock, CronCalendar, ScheduleBook, Sleeper
from domain.errors import DoserError, UnknownSchedule
from domain.schedule import (
    MAX_GRACE_S,
    DoseTarget,
    Schedule,
    ScheduleRunRecord,
    SlotKind,
)
from domain.schedule_slots import ON_TIME_S, SlotDecision, decide_slots
from domain.telemetry import Severity

log = logging.getLogger(__name__)

# Slots enumerated per decision (the newest); after a longer outage the count is "at least".
_MAX_SLOTS = 1000
_MICROSECOND = timedelta(microseconds=1)


class ScheduleExecutor:
    """Runs due schedule slots: ``dispense(pump, ml, ml/min) -> dose id`` for a dose
    target, ``run_recipe(recipe id, origin) -> run id`` (origin ``schedule:<id>``) for a
    recipe; both raise ``DoserError`` subclasses to refuse.

    ``on_time_s`` (s): a slot decided within this of its instant is on time (cron has
    minute granularity, the loop ticks every ``interval_s`` s). ``max_lookback_s`` (s):
    how far back slots are enumerated after a long outage (default: the longest grace
    window and an hour); older ones are skipped in the same summary, counted as "at
    least". Slots of a disabled schedule are never run: its ``checked_until`` follows
    them, so enabling it again catches up nothing from before.
    """

    def __init__(
        self,
        book: ScheduleBook,
        calendar: CronCalendar,
        clock: Clock,
        latch: EmergencyLatch,
        *,
        dispense: Callable[[str, float, float], str],
        run_recipe: Callable[[str, str], str],
        alarms: AlarmSink | None = None,
        on_time_s: float = ON_TIME_S,
        max_lookback_s: float = MAX_GRACE_S + 3600.0,
        interval_s: float = 1.0,
    ) -> None:
        if not 0 < on_time_s <= max_lookback_s or interval_s <= 0:
            raise ValueError("need 0 < on_time_s <= max_lookback_s and interval_s > 0")
        self._book, self._calendar, self._clock, self._latch = book, calendar, clock, latch
        self._dispense, self._run_recipe, self._alarms = dispense, run_recipe, alarms
        self._on_time_s, self._interval_s = on_time_s, interval_s
        self._lookback = timedelta(seconds=max_lookback_s)

    def run(self, sleeper: Sleeper) -> None:
        """The daemon thread's loop: ``tick`` every ``interval_s`` (s) until shutdown; an
        exception (storage) is logged and the next tick tries again."""
        while not sleeper.stopping:
            try:
                self.tick()
            except Exception:
                log.exception("schedules: tick failed")
            if sleeper.wait(self._interval_s):
                return

    def tick(self) -> None:
        """Decide every enabled schedule's due slots now. While the emergency stop is
        latched nothing is decided: the slots wait and the policy decides them after the
        reset. Refusals are recorded and alarmed, never raised; a storage error while
        reading the book is raised (one schedule's is logged and the others go on)."""
        if self._latch.engaged:
            return
        now = self._clock.now()
        for schedule in self._book.all():
            try:
                self._decide(schedule, now)
            except Exception:
                log.exception("schedules: %s could not be decided", schedule.schedule_id)

    def run_now(self, schedule_id: str) -> ScheduleRunRecord:
        """Run a schedule's target now (enabled or not), recorded as a ``manual`` run at
        the time asked; its cron slots are untouched. Returns the record: ``started`` with
        the dose or recipe run id, or ``refused``/``failed`` with why. Raises
        ``UnknownSchedule``, or ``EmergencyStopLatched`` (nothing recorded)."""
        schedule = self._book.get(schedule_id)
        if schedule is None:
            raise UnknownSchedule(f"no schedule {schedule_id!r}")
        self._latch.ensure_released()
        now = self._clock.now()
        # Off the whole second, never a cron slot's key; nudged past another manual run's.
        slot = now + _MICROSECOND if now.second == now.microsecond == 0 else now
        unchanged = schedule.checked_until or schedule.created_at
        record = ScheduleRunRecord(schedule_id, slot, SlotKind.MANUAL, now, status="claimed")
        while not self._book.claim(record, checked_until=unchanged):
            if self._book.get(schedule_id) is None:  # deleted meanwhile
                raise UnknownSchedule(f"no schedule {schedule_id!r}")
            record = replace(record, slot=record.slot + _MICROSECOND)
        slot = record.slot
        status, detail, reference = self._dispatch(schedule)
        self._book.finish(schedule_id, slot, status=status, detail=detail, reference=reference)
        return ScheduleRunRecord(schedule_id, slot, SlotKind.MANUAL, now, status, detail, reference)

    def _decide(self, schedule: Schedule, now: datetime) -> None:
        since = schedule.checked_until or schedule.created_at
        floor = now - self._lookback
        due = self._slots(schedule, max(since, floor), now, _MAX_SLOTS)
        earlier = self._slots(schedule, since, floor, 1) if since < floor else []
        if not schedule.enabled:
            if due or earlier:
                self._book.mark_checked(schedule.schedule_id, now)
            return
        if not due and not earlier:
            return  # nothing came due: no write (the book would fsync every second)
        decision = decide_slots(
            earlier + due, now, schedule.policy, schedule.grace_s, self._on_time_s
        )
        at_least = bool(earlier) or len(due) >= _MAX_SLOTS
        claimed = bool(decision.skipped) and self._skip(schedule, decision, now, at_least)
        if decision.run is not None and decision.kind is not None:
            claimed = self._fire(schedule, decision.run, decision.kind, now) or claimed
        if not claimed:  # every slot was recorded already (a restart): just move on
            self._book.mark_checked(schedule.schedule_id, now)

    def _slots(
        self, schedule: Schedule, after: datetime, until: datetime, limit: int
    ) -> list[datetime]:
        return self._calendar.slots(schedule.cron, schedule.timezone, after, until, limit=limit)

    def _skip(
        self, schedule: Schedule, decision: SlotDecision, now: datetime, at_least: bool
    ) -> bool:
        """Record the newest skipped slot (the others are counted in its detail) and alarm.
        With a slot to run, checked only up to the skipped one: a crash before the run's
        claim leaves that slot to decide after the restart."""
        newest, count = decision.skipped[-1], len(decision.skipped)
        many = f"at least {count}" if at_least else str(count)
        detail = (
            f"{many} slot(s) missed (daemon down or emergency stop latched), newest "
            f"{newest.isoformat()}"
        )
        record = ScheduleRunRecord(
            schedule.schedule_id, newest, SlotKind.MISSED, now, status="skipped", detail=detail
        )
        until = newest if decision.run is not None else now
        if not self._book.claim(record, checked_until=until):
            return False
        log.warning("schedules: %s: %s", schedule.schedule_id, detail)
        self._alarm(
            "scheduleRunMissed", f"schedule {schedule.name!r}: {detail}", Severity.WARNING,
            scheduleId=schedule.schedule_id, missed=count, atLeast=at_least,
            newestSlot=newest.isoformat(),
        )  # fmt: skip
        return True

    def _fire(self, schedule: Schedule, slot: datetime, kind: SlotKind, now: datetime) -> bool:
        record = ScheduleRunRecord(schedule.schedule_id, slot, kind, now, status="claimed")
        if not self._book.claim(record, checked_until=now):
            log.info("schedules: %s slot %s already run", schedule.schedule_id, slot)
            return False
        if kind is SlotKind.CATCH_UP:
            late_s = (now - slot).total_seconds()
            message = (
                f"schedule {schedule.name!r}: running the slot of {slot.isoformat()} late "
                f"({late_s:.0f} s), within its grace window"
            )
            log.warning("schedules: %s", message)
            self._alarm(
                "scheduleCatchUp", message, Severity.WARNING,
                scheduleId=schedule.schedule_id, slot=slot.isoformat(), late_s=late_s,
            )  # fmt: skip
        status, detail, reference = self._dispatch(schedule)
        self._book.finish(
            schedule.schedule_id, slot, status=status, detail=detail, reference=reference
        )
        if status != "started":
            alarm = "scheduleRunRefused" if status == "refused" else "scheduleRunFailed"
            severity = Severity.WARNING if status == "refused" else Severity.CRITICAL
            self._alarm(
                alarm, f"schedule {schedule.name!r}: {detail}", severity,
                scheduleId=schedule.schedule_id, slot=slot.isoformat(),
            )  # fmt: skip
        return True

    def _dispatch(self, schedule: Schedule) -> tuple[str, str, str]:
        """Start the target: (status, detail, reference); never raises."""
        target = schedule.target
        try:
            if isinstance(target, DoseTarget):
                reference = self._dispense(
                    target.pump_id, target.volume_ml, target.flow_rate_ml_min
                )
            else:
                origin = f"schedule:{schedule.schedule_id}"
                reference = self._run_recipe(target.recipe_id, origin)
        except DoserError as error:
            log.warning("schedules: %s refused: %s", schedule.schedule_id, error.message)
            return "refused", f"{error.code}: {error.message}", ""
        except Exception as error:
            log.exception("schedules: %s failed", schedule.schedule_id)
            return "failed", f"{type(error).__name__}: {error}", ""
        return "started", "", reference

    def _alarm(self, alarm_type: str, message: str, severity: Severity, **details: object) -> None:
        if self._alarms is not None:
            self._alarms.raise_alarm(alarm_type, message, severity, **details)
