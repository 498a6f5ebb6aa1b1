"""The ``ScheduleBook`` contract, held by the in-memory fake and the SQLite book; and what
only SQLite promises: a claim survives reopening the file."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.fakes.schedules import InMemoryScheduleBook
from adapters.storage.schedules import SqliteScheduleBook
from application.ports import ScheduleBook
from domain.schedule import (
    DoseTarget,
    MissedRunPolicy,
    RecipeTarget,
    Schedule,
    ScheduleRunRecord,
    SlotKind,
)

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def schedule(schedule_id: str = "morning", minutes: int = 0, **changes: object) -> Schedule:
    made = Schedule(
        schedule_id=schedule_id,
        name="Morning feed",
        cron="0 8 * * *",
        timezone="Europe/Berlin",
        target=DoseTarget("X", 5.0, 10.0),
        enabled=True,
        policy=MissedRunPolicy.RUN_IF_WITHIN,
        grace_s=3600.0,
        created_at=T0 + timedelta(minutes=minutes),
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def run(slot: datetime, kind: SlotKind = SlotKind.ON_TIME, **changes: str) -> ScheduleRunRecord:
    return ScheduleRunRecord("morning", slot, kind, slot + timedelta(seconds=1), **changes)


@pytest.fixture(params=["in-memory", pytest.param("sqlite", marks=pytest.mark.slow)])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScheduleBook]:
    if request.param == "in-memory":
        yield InMemoryScheduleBook()
        return
    sqlite_book = SqliteScheduleBook(tmp_path / "schedules.db")
    yield sqlite_book
    sqlite_book.close()


def test_a_saved_schedule_reads_back_equal_and_oldest_first(book: ScheduleBook) -> None:
    evening = schedule("evening", minutes=5, target=RecipeTarget("mix"), enabled=False)
    book.save(evening)
    book.save(schedule("morning"))
    assert book.all() == [schedule("morning"), evening]
    assert book.get("evening") == evening
    assert book.get("noon") is None


def test_save_replaces_by_id(book: ScheduleBook) -> None:
    book.save(schedule())
    book.save(schedule(name="Dawn", cron="0 6 * * *"))
    [stored] = book.all()
    assert (stored.name, stored.cron) == ("Dawn", "0 6 * * *")


def test_a_slot_is_claimed_once_and_moves_checked_until_and_last_run(book: ScheduleBook) -> None:
    book.save(schedule())
    later = T0 + timedelta(seconds=30)
    assert book.claim(run(T0, status="claimed"), checked_until=later) is True
    assert book.claim(run(T0), checked_until=later + timedelta(minutes=1)) is False
    stored = book.get("morning")
    assert stored is not None
    assert (stored.checked_until, stored.last_run) == (later, T0 + timedelta(seconds=1))
    assert [r.status for r in book.runs("morning", limit=10)] == ["claimed"]


def test_a_skipped_slot_moves_checked_until_but_not_last_run(book: ScheduleBook) -> None:
    book.save(schedule())
    assert book.claim(run(T0, SlotKind.MISSED, status="skipped"), checked_until=T0)
    stored = book.get("morning")
    assert stored is not None and (stored.checked_until, stored.last_run) == (T0, None)


def test_no_slot_is_claimed_for_an_unknown_schedule(book: ScheduleBook) -> None:
    assert book.claim(run(T0), checked_until=T0) is False
    assert book.runs("morning", limit=10) == []


def test_checked_until_and_last_run_never_move_back(book: ScheduleBook) -> None:
    book.save(schedule())
    book.claim(run(T0), checked_until=T0 + timedelta(minutes=1))
    book.mark_checked("morning", T0)
    book.save(schedule())  # a replace from a copy read before the claim
    stored = book.get("morning")
    assert stored is not None
    assert stored.checked_until == T0 + timedelta(minutes=1)
    assert stored.last_run == T0 + timedelta(seconds=1)
    book.mark_checked("morning", T0 + timedelta(hours=1))
    stored = book.get("morning")
    assert stored is not None and stored.checked_until == T0 + timedelta(hours=1)


def test_finish_records_how_the_run_went(book: ScheduleBook) -> None:
    book.save(schedule())
    book.claim(run(T0, status="claimed"), checked_until=T0)
    book.finish("morning", T0, status="started", detail="", reference="dose-1")
    [stored] = book.runs("morning", limit=10)
    assert stored == run(T0, status="started", reference="dose-1")


def test_runs_are_newest_slot_first_and_limited(book: ScheduleBook) -> None:
    book.save(schedule())
    slots = [T0 + timedelta(days=day, microseconds=day) for day in range(4)]
    for slot in (slots[2], slots[0], slots[3], slots[1]):
        book.claim(run(slot), checked_until=slot)
    assert [r.slot for r in book.runs("morning", limit=3)] == slots[:0:-1]


def test_delete_removes_the_schedule_and_its_runs(book: ScheduleBook) -> None:
    book.save(schedule())
    book.claim(run(T0), checked_until=T0)
    assert book.delete("morning") is True
    assert book.delete("morning") is False
    assert (book.get("morning"), book.runs("morning", limit=10)) == (None, [])
    book.save(schedule())
    assert book.claim(run(T0), checked_until=T0) is True  # a new schedule, a new history


@pytest.mark.slow
def test_a_claim_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "schedules.db"
    first = SqliteScheduleBook(path)
    first.save(schedule())
    assert first.claim(run(T0, status="claimed"), checked_until=T0)
    first.close()
    reopened = SqliteScheduleBook(path)
    try:
        assert reopened.claim(run(T0), checked_until=T0) is False
        assert reopened.get("morning") == schedule(checked_until=T0, last_run=run(T0).fired_at)
        assert [r.status for r in reopened.runs("morning", limit=10)] == ["claimed"]
    finally:
        reopened.close()
