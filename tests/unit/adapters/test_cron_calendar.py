"""Cron evaluation with cronsim: 5 fields only, IANA time zones, Debian cron's DST rules
(Europe/Berlin 2026: spring forward 29 March 02:00→03:00, fall back 25 October
03:00→02:00), and a slot enumeration that stays bounded over any window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from adapters.cron import CronsimCalendar
from domain.errors import InvalidSchedule

BERLIN = ZoneInfo("Europe/Berlin")
calendar = CronsimCalendar()


def local_day(year: int, month: int, day: int) -> tuple[datetime, datetime]:
    """The instants (UTC) just before the local day starts and when it ends."""
    start = datetime(year, month, day, tzinfo=BERLIN)
    end = start + timedelta(days=1)
    return start.astimezone(UTC) - timedelta(microseconds=1), end.astimezone(UTC)


def slots_on(expression: str, year: int, month: int, day: int) -> list[datetime]:
    after, until = local_day(year, month, day)
    found = calendar.slots(expression, "Europe/Berlin", after, until, limit=1000)
    return [slot for slot in found if slot < until]


def test_a_daily_slot_in_the_skipped_hour_fires_once_right_after_the_jump() -> None:
    assert slots_on("30 2 * * *", 2026, 3, 29) == [datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]


def test_a_daily_slot_in_the_repeated_hour_fires_once_at_its_first_pass() -> None:
    # 02:30 CEST (UTC+2), not again at 02:30 CET
    assert slots_on("30 2 * * *", 2026, 10, 25) == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]


def test_an_hourly_schedule_fires_23_times_when_the_clocks_spring_forward() -> None:
    slots = slots_on("0 * * * *", 2026, 3, 29)
    assert len(set(slots)) == len(slots) == 23


def test_an_hourly_schedule_fires_25_times_when_the_clocks_fall_back() -> None:
    slots = slots_on("0 * * * *", 2026, 10, 25)
    assert len(set(slots)) == len(slots) == 25
    assert datetime(2026, 10, 25, 0, 0, tzinfo=UTC) in slots  # 02:00 CEST
    assert datetime(2026, 10, 25, 1, 0, tzinfo=UTC) in slots  # 02:00 CET


def test_slots_are_utc_strictly_after_after_and_at_or_before_until() -> None:
    after = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    slots = calendar.slots("*/15 * * * *", "UTC", after, after + timedelta(hours=1), limit=10)
    assert slots == [after + timedelta(minutes=m) for m in (15, 30, 45, 60)]
    assert all(slot.tzinfo is UTC for slot in slots)


def test_the_next_slot_is_in_the_schedules_time_zone() -> None:
    after = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert calendar.next_slot("30 7 * * *", "Europe/Berlin", after) == datetime(
        2026, 11, 22, 6, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "expression",
    ["0 7 * *", "0 0 7 * * *", "@daily", "@reboot", "61 * * * *", "0 0 30 2 *", "", "x y z a b"],
)
def test_an_unusable_expression_is_refused_as_the_cron_field(expression: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        calendar.validate(expression, "UTC")
    assert refused.value.field == "cron"


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus", "Europe", "/etc/localtime", "../UTC", "", "localtime", "CEST"]
)
def test_an_unknown_time_zone_is_refused_as_the_timezone_field(timezone: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        calendar.validate("0 7 * * *", timezone)
    assert refused.value.field == "timezone"


class CountingCronSim(CronSim):
    """cronsim, counting the steps every walk takes."""

    steps = 0

    def __next__(self) -> datetime:
        CountingCronSim.steps += 1
        return super().__next__()


def test_a_minutely_schedule_over_30_days_walks_about_limit_steps_not_every_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("adapters.cron.CronSim", CountingCronSim)
    after = datetime(2026, 3, 1, tzinfo=UTC)
    until = after + timedelta(days=30)  # 43 200 minutes, a DST change among them
    slots = calendar.slots("* * * * *", "Europe/Berlin", after, until, limit=500)
    assert slots == [until - timedelta(minutes=m) for m in range(499, -1, -1)]
    assert CountingCronSim.steps < 3 * 500 + 1000


def brute_force(expression: str, zone: str, after: datetime, until: datetime) -> list[datetime]:
    found: list[datetime] = []
    for slot in CronSim(expression, after.astimezone(ZoneInfo(zone))):
        if slot.astimezone(UTC) > until:
            return found
        if slot.astimezone(UTC) > after:
            found.append(slot.astimezone(UTC))
    return found


@pytest.mark.parametrize("expression", ["30 2 * * *", "0 * * * *", "*/7 1-3 * * *", "* * * * *"])
@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_the_bounded_walk_finds_what_walking_every_slot_finds(expression: str, zone: str) -> None:
    # Windows across both 2026 changes in both zones, cut short by the limit.
    for start in (datetime(2026, 3, 7, 22, 13, 5, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC)):
        for days in (1, 9):
            until = start + timedelta(days=days, microseconds=250)
            expected = brute_force(expression, zone, start, until)
            assert calendar.slots(expression, zone, start, until, limit=40) == expected[-40:]
