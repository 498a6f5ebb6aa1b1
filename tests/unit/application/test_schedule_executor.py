"""The schedule executor: each slot fires once (also across a restart), missed slots follow
the schedule's policy, the emergency latch holds slots until it is reset, refusals are
recorded and alarmed, disabled schedules never fire, and "run now"."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from adapters.cron import CronsimCalendar
from adapters.fakes import InMemoryNvs, ManualClock, ManualSleeper, RecordingAlarms
from adapters.fakes.schedules import InMemoryScheduleBook
from application.emergency_latch import EmergencyLatch
from application.schedule_executor import ScheduleExecutor
from domain.errors import EmergencyStopLatched, LimitReached, UnknownRecipe, UnknownSchedule
from domain.schedule import (
    DoseTarget,
    MissedRunPolicy,
    RecipeTarget,
    Schedule,
    ScheduleRunRecord,
    ScheduleTarget,
    SlotKind,
)
from domain.telemetry import Severity

SEVEN = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
DOSE = DoseTarget("X", 5.0, 10.0)
EIGHT = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


class Rig:
    """An executor on fakes, starting at ``start``; doses and recipe runs are recorded."""

    def __init__(self, start: datetime = SEVEN) -> None:
        self.clock = ManualClock(start)
        self.book = InMemoryScheduleBook()
        self.latch = EmergencyLatch(InMemoryNvs(), self.clock)
        self.alarms = RecordingAlarms()
        self.doses: list[tuple[str, float, float]] = []
        self.recipe_runs: list[tuple[str, str]] = []
        self.refusal: Exception | None = None
        self.executor = self.new_executor()

    def new_executor(self, interval_s: float = 1.0) -> ScheduleExecutor:
        """Another executor on the same book: the daemon after a restart."""
        return ScheduleExecutor(
            self.book, CronsimCalendar(), self.clock, self.latch, dispense=self.dispense,
            run_recipe=self.run_recipe, alarms=self.alarms, interval_s=interval_s,
        )  # fmt: skip

    def dispense(self, pump_id: str, volume_ml: float, flow_rate_ml_min: float) -> str:
        if self.refusal is not None:
            raise self.refusal
        self.doses.append((pump_id, volume_ml, flow_rate_ml_min))
        return f"dose-{len(self.doses)}"

    def run_recipe(self, recipe_id: str, origin: str) -> str:
        if self.refusal is not None:
            raise self.refusal
        self.recipe_runs.append((recipe_id, origin))
        return f"run-{len(self.recipe_runs)}"

    def add(
        self,
        cron: str = "0 8 * * *",
        *,
        policy: MissedRunPolicy = MissedRunPolicy.SKIP,
        grace_s: float = 0.0,
        target: ScheduleTarget = DOSE,
        enabled: bool = True,
        schedule_id: str = "morning",
        timezone: str = "UTC",
    ) -> Schedule:
        schedule = Schedule.create(
            schedule_id=schedule_id, name="Morning feed", cron=cron, timezone=timezone,
            target=target, enabled=enabled, policy=policy, grace_s=grace_s,
            created_at=self.clock.now(), checked_until=self.clock.now(),
        )  # fmt: skip
        self.book.save(schedule)
        return schedule

    def at(self, moment: datetime) -> None:
        self.clock.advance((moment - self.clock.now()).total_seconds())

    def runs(self) -> list[ScheduleRunRecord]:
        return self.book.runs("morning", limit=100)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_slot_fires_once_however_often_its_minute_is_ticked(rig: Rig) -> None:
    rig.add()
    rig.at(EIGHT)
    for _ in range(60):
        rig.executor.tick()
        rig.clock.advance(1.0)
    assert rig.doses == [("X", 5.0, 10.0)]
    [run] = rig.runs()
    assert (run.slot, run.kind, run.status, run.reference) == (
        EIGHT,
        SlotKind.ON_TIME,
        "started",
        "dose-1",
    )
    rig.at(EIGHT + timedelta(days=1))
    rig.executor.tick()
    assert len(rig.doses) == 2


def test_a_restart_within_the_firing_minute_doses_nothing_more(rig: Rig) -> None:
    rig.add()
    rig.at(EIGHT + timedelta(seconds=0.2))
    rig.executor.tick()
    rig.at(EIGHT + timedelta(seconds=30))
    rig.new_executor().tick()
    assert len(rig.doses) == 1


def test_a_slot_already_claimed_is_never_dispatched_even_if_the_schedule_lags(rig: Rig) -> None:
    rig.add()
    # as a process that claimed the slot and died before anything else was written
    rig.book.records[("morning", EIGHT)] = ScheduleRunRecord(
        "morning", EIGHT, SlotKind.ON_TIME, EIGHT, status="claimed"
    )
    rig.at(EIGHT + timedelta(seconds=5))
    rig.new_executor().tick()
    assert rig.doses == []
    assert rig.alarms.raised == []
    schedule = rig.book.get("morning")
    assert schedule is not None and schedule.checked_until == rig.clock.now()


def test_after_an_outage_the_newest_missed_slot_within_grace_runs_once_with_a_warning(
    rig: Rig,
) -> None:
    rig.add("0 * * * *", policy=MissedRunPolicy.RUN_IF_WITHIN, grace_s=3600.0)
    rig.at(datetime(2026, 11, 21, 10, 20, tzinfo=UTC))  # down: 08:00, 09:00, 10:00 missed
    rig.executor.tick()
    rig.executor.tick()
    assert len(rig.doses) == 1
    ran, skipped = rig.runs()[0], rig.runs()[1]
    assert (ran.slot, ran.kind, ran.status) == (
        datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
        SlotKind.CATCH_UP,
        "started",
    )
    assert (skipped.slot, skipped.kind, skipped.status) == (
        datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
        SlotKind.MISSED,
        "skipped",
    )
    assert rig.alarms.types() == ["scheduleRunMissed", "scheduleCatchUp"]
    assert rig.alarms.raised[0][2]["missed"] == 2
    assert all(severity is Severity.WARNING for _, severity, _ in rig.alarms.raised)


def test_a_missed_slot_outside_grace_is_skipped_with_an_alarm(rig: Rig) -> None:
    rig.add(policy=MissedRunPolicy.RUN_IF_WITHIN, grace_s=600.0)
    rig.at(EIGHT + timedelta(minutes=20))
    rig.executor.tick()
    assert rig.doses == []
    [run] = rig.runs()
    assert (run.slot, run.status) == (EIGHT, "skipped")
    [(alarm_type, severity, details)] = rig.alarms.raised
    assert (alarm_type, severity, details["missed"]) == ("scheduleRunMissed", Severity.WARNING, 1)


def test_nothing_fires_while_latched_and_the_policy_decides_after_the_reset(rig: Rig) -> None:
    rig.add(policy=MissedRunPolicy.RUN_IF_WITHIN, grace_s=3600.0)
    rig.latch.engage("emergency stop from http")
    for minute in range(0, 30, 5):
        rig.at(EIGHT + timedelta(minutes=minute))
        rig.executor.tick()
    assert (rig.doses, rig.runs()) == ([], [])
    rig.latch.release()
    rig.executor.tick()
    rig.executor.tick()
    assert len(rig.doses) == 1
    assert rig.runs()[0].kind is SlotKind.CATCH_UP


def test_a_refused_dose_is_recorded_and_alarmed_not_raised_nor_retried(rig: Rig) -> None:
    rig.add()
    rig.refusal = LimitReached("X: 20 ml per hour reached", rule="max_per_hour")
    rig.at(EIGHT)
    rig.executor.tick()
    rig.refusal = None
    rig.executor.tick()
    assert rig.doses == []
    [run] = rig.runs()
    assert (run.status, run.detail) == ("refused", "limit_reached: X: 20 ml per hour reached")
    [(alarm_type, severity, details)] = rig.alarms.raised
    assert (alarm_type, severity) == ("scheduleRunRefused", Severity.WARNING)
    assert details["scheduleId"] == "morning"


def test_an_unexpected_error_is_recorded_as_failed_with_a_critical_alarm(rig: Rig) -> None:
    rig.add()
    rig.refusal = RuntimeError("control plane gone")
    rig.at(EIGHT)
    rig.executor.tick()
    assert rig.runs()[0].status == "failed"
    assert rig.alarms.raised[0][:2] == ("scheduleRunFailed", Severity.CRITICAL)


def test_a_recipe_schedule_runs_the_recipe_as_the_schedule(rig: Rig) -> None:
    rig.add(target=RecipeTarget("nutrient-mix"))
    rig.at(EIGHT)
    rig.executor.tick()
    assert rig.recipe_runs == [("nutrient-mix", "schedule:morning")]
    assert rig.runs()[0].reference == "run-1"


def test_a_schedule_whose_recipe_is_gone_is_refused(rig: Rig) -> None:
    rig.add(target=RecipeTarget("nutrient-mix"))
    rig.refusal = UnknownRecipe("no recipe 'nutrient-mix'")
    rig.at(EIGHT)
    rig.executor.tick()
    assert rig.runs()[0].status == "refused"
    assert rig.alarms.types() == ["scheduleRunRefused"]


def test_a_disabled_schedule_never_fires_nor_catches_up_once_enabled(rig: Rig) -> None:
    schedule = rig.add(policy=MissedRunPolicy.RUN_IF_WITHIN, grace_s=3600.0, enabled=False)
    rig.at(EIGHT)
    rig.executor.tick()
    rig.at(EIGHT + timedelta(minutes=10))
    rig.book.save(dataclasses.replace(schedule, enabled=True))  # the stale checked_until
    rig.executor.tick()
    assert (rig.doses, rig.runs(), rig.alarms.raised) == ([], [], [])


def test_run_now_records_a_manual_run_and_leaves_the_cron_slots_alone(rig: Rig) -> None:
    rig.add()
    run = rig.executor.run_now("morning")
    assert (run.kind, run.status, run.reference, run.slot.second) == (
        SlotKind.MANUAL,
        "started",
        "dose-1",
        0,
    )
    assert run.slot != SEVEN  # off the whole minute: never a cron slot's key
    again = rig.executor.run_now("morning")
    assert again.slot > run.slot
    rig.at(EIGHT)
    rig.executor.tick()
    assert len(rig.doses) == 3
    assert [r.kind for r in rig.runs()] == [SlotKind.ON_TIME, SlotKind.MANUAL, SlotKind.MANUAL]


def test_run_now_refuses_while_latched_and_for_an_unknown_schedule(rig: Rig) -> None:
    rig.add()
    with pytest.raises(UnknownSchedule):
        rig.executor.run_now("evening")
    rig.latch.engage("emergency stop from http")
    with pytest.raises(EmergencyStopLatched):
        rig.executor.run_now("morning")
    assert rig.runs() == []


class FlakyBook(InMemoryScheduleBook):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def all(self) -> list[Schedule]:
        if self.failures:
            self.failures -= 1
            raise OSError("disk I/O error")
        return super().all()


def test_a_storage_error_does_not_stop_the_loop(rig: Rig) -> None:
    rig.book = FlakyBook()
    rig.executor = rig.new_executor()
    rig.add()
    rig.at(EIGHT)
    rig.executor.run(ManualSleeper(rig.clock, stop_after=3))
    assert len(rig.doses) == 1


def test_ticking_through_the_fall_back_night_fires_hourly_25_times_and_0230_once() -> None:
    start = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # midnight CEST
    rig = Rig(start - timedelta(seconds=1))
    rig.add("0 * * * *", schedule_id="hourly", timezone="Europe/Berlin")
    rig.add("30 2 * * *", schedule_id="daily", timezone="Europe/Berlin")
    rig.at(start)
    # 25 h of ticks every 30 s: the local day is 25 h long
    rig.new_executor(interval_s=30.0).run(ManualSleeper(rig.clock, stop_after=25 * 120))
    assert len(rig.book.runs("hourly", limit=100)) == 25
    [daily] = rig.book.runs("daily", limit=100)
    assert daily.slot == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert len(rig.doses) == 26
    assert rig.alarms.raised == []


def test_after_a_month_down_a_minutely_schedule_runs_its_minute_and_skips_the_rest_once(
    rig: Rig,
) -> None:
    rig.add("* * * * *", policy=MissedRunPolicy.RUN_IF_WITHIN, grace_s=3600.0)
    rig.at(SEVEN + timedelta(days=30, seconds=30))
    rig.executor.tick()
    rig.executor.tick()
    assert len(rig.doses) == 1
    assert rig.runs()[0].kind is SlotKind.ON_TIME
    [(alarm_type, _, details)] = rig.alarms.raised
    assert (alarm_type, details["atLeast"]) == ("scheduleRunMissed", True)
