"""Schedule CRUD: validation against the calendar, the pumps and the recipes; ids, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.cron import CronsimCalendar
from adapters.fakes import ManualClock
from adapters.fakes.schedules import InMemoryScheduleBook
from application.manage_schedules import ScheduleAdmin
from domain.errors import InvalidSchedule, UnknownPump, UnknownRecipe, UnknownSchedule
from domain.schedule import MissedRunPolicy, ScheduleRunRecord, SlotKind

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Morning feed",
        "cron": "30 7 * * *",
        "timezone": "Europe/Berlin",
        "target": {"pump": "X", "volume": 5.0, "flowRate": 10.0},
        **changes,
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def book() -> InMemoryScheduleBook:
    return InMemoryScheduleBook()


@pytest.fixture
def admin(book: InMemoryScheduleBook, clock: ManualClock) -> ScheduleAdmin:
    return ScheduleAdmin(book, CronsimCalendar(), clock, ["X", "Y"], lambda r: r == "mix")


def test_create_fills_defaults_and_a_new_id_and_never_catches_up(admin: ScheduleAdmin) -> None:
    made = admin.create(body())
    assert len(made.schedule_id) == 12 and int(made.schedule_id, 16) >= 0
    assert (made.enabled, made.policy, made.grace_s) == (True, MissedRunPolicy.SKIP, 0.0)
    assert made.created_at == made.checked_until == T0
    assert admin.all() == [made]


def test_create_ignores_read_only_fields(admin: ScheduleAdmin) -> None:
    made = admin.create(body(id="s1", createdAt="2000-01-01T00:00:00Z", lastRun="x", nextRun=1))
    assert (made.schedule_id, made.created_at, made.last_run) == ("s1", T0, None)


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"cron": "0 7 * * * *"}, InvalidSchedule, "cron"),
        ({"cron": "@daily"}, InvalidSchedule, "cron"),
        ({"timezone": "Europe/Nowhere"}, InvalidSchedule, "timezone"),
        ({"name": ""}, InvalidSchedule, "name"),
        ({"target": {"pump": "Q", "volume": 5.0, "flowRate": 10.0}}, UnknownPump, None),
        ({"target": {"recipe": "gone"}}, UnknownRecipe, None),
    ],
)
def test_create_refuses(
    admin: ScheduleAdmin, changes: dict[str, Any], error: type, field: str | None
) -> None:
    with pytest.raises(error) as refused:
        admin.create(body(**changes))
    if field is not None:
        assert refused.value.field == field
    assert admin.all() == []


def test_a_taken_id_is_refused(admin: ScheduleAdmin) -> None:
    admin.create(body(id="s1"))
    with pytest.raises(InvalidSchedule) as refused:
        admin.create(body(id="s1"))
    assert refused.value.field == "id"


def test_replace_keeps_creation_and_last_run_and_restarts_checking(
    admin: ScheduleAdmin, book: InMemoryScheduleBook, clock: ManualClock
) -> None:
    admin.create(body(id="s1"))
    clock.advance(3600)
    book.claim(ScheduleRunRecord("s1", T0, SlotKind.ON_TIME, T0), checked_until=T0)
    clock.advance(60)
    replaced = admin.replace("s1", body(id="other", name="Dawn", target={"recipe": "mix"}))
    assert (replaced.schedule_id, replaced.name, replaced.created_at, replaced.last_run) == (
        "s1",
        "Dawn",
        T0,
        T0,
    )
    assert replaced.checked_until == T0 + timedelta(seconds=3660)


def test_unknown_ids_raise(admin: ScheduleAdmin) -> None:
    for call in (admin.get, admin.delete, admin.runs, admin.next_run):
        with pytest.raises(UnknownSchedule):
            call("nope")
    with pytest.raises(UnknownSchedule):
        admin.replace("nope", body())


def test_delete_and_runs(admin: ScheduleAdmin) -> None:
    admin.create(body(id="s1"))
    assert admin.runs("s1") == []
    admin.delete("s1")
    assert admin.all() == []


def test_next_run_is_in_the_schedules_zone_and_none_when_disabled(admin: ScheduleAdmin) -> None:
    admin.create(body(id="s1"))
    assert admin.next_run("s1") == datetime(2026, 11, 22, 6, 30, tzinfo=UTC)
    admin.replace("s1", body(enabled=False))
    assert admin.next_run("s1") is None
