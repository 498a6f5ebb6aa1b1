"""The stored schedules and the slots they claimed, in SQLite (``schedules.db``).

A schedule row keeps its plain JSON (``Schedule.to_plain``) beside the two times the
executor moves (``last_run``, ``checked_until``); a run row is keyed by (schedule id, slot),
which is what makes a slot fire at most once, ever: ``claim`` inserts that row and moves
the schedule's times in one transaction, and a second claim of the pair finds the key
taken. WAL with ``synchronous=FULL`` (``sqlite_file.open_durable``): a write that
returned survives a crash or power cut.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from adapters.storage.sqlite_file import open_durable, transaction
from domain.errors import InvalidSchedule
from domain.schedule import Schedule, ScheduleRunRecord, SlotKind

# Version → statements (PRAGMA user_version), run inside the opening transaction. Times
# are ISO-8601 UTC text with microseconds, so they sort (and max()) as time.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE schedules (
            schedule_id   TEXT PRIMARY KEY,
            body          TEXT NOT NULL,
            created_at    TEXT NOT NULL,
            last_run      TEXT,
            checked_until TEXT
        )""",
        """CREATE TABLE schedule_runs (
            schedule_id TEXT NOT NULL,
            slot        TEXT NOT NULL,
            kind        TEXT NOT NULL,
            fired_at    TEXT NOT NULL,
            status      TEXT NOT NULL,
            detail      TEXT NOT NULL,
            reference   TEXT NOT NULL,
            PRIMARY KEY (schedule_id, slot)
        )""",
    ),
}


def _later(column: str, new: str) -> str:
    """SQL for the later of a stored time and a new one, either possibly NULL."""
    return f"NULLIF(max(coalesce({new}, ''), coalesce({column}, '')), '')"


_SAVE = (
    "INSERT INTO schedules (schedule_id, body, created_at, last_run, checked_until) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (schedule_id) DO UPDATE SET body = excluded.body, "
    "created_at = excluded.created_at, "
    f"last_run = {_later('schedules.last_run', 'excluded.last_run')}, "
    f"checked_until = {_later('schedules.checked_until', 'excluded.checked_until')}"
)
_CLAIM = (
    "INSERT INTO schedule_runs (schedule_id, slot, kind, fired_at, status, detail, reference) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (schedule_id, slot) DO NOTHING"
)
_MOVE = (
    f"UPDATE schedules SET checked_until = {_later('checked_until', '?')}, "
    f"last_run = {_later('last_run', '?')} WHERE schedule_id = ?"
)
_SELECT = "SELECT schedule_id, body, last_run, checked_until FROM schedules"
_RUNS = (
    "SELECT schedule_id, slot, kind, fired_at, status, detail, reference FROM schedule_runs "
    "WHERE schedule_id = ? ORDER BY slot DESC LIMIT ?"
)


class SqliteScheduleBook:
    """``ScheduleBook`` on the SQLite file at ``path`` (created with its folder, migrated
    on open); safe to call from any thread (the HTTP thread and the executor's).

    ``checked_until`` and ``last_run`` only move forwards (a save or claim with an older
    value keeps the newer one, so a replace racing the executor cannot re-open decided
    slots); ``claim`` is False for a slot already recorded or a schedule that no longer
    exists. Raises ``sqlite3.Error`` on storage failure (disk full, corrupt file, a row
    that no longer reads as a schedule), and ``sqlite3.DatabaseError`` on open for a file
    written by a newer schema.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_durable(path, "schedule book", _MIGRATIONS)

    def close(self) -> None:
        """Close the file (at shutdown); idempotent."""
        with self._lock:
            self._db.close()

    def all(self) -> list[Schedule]:
        with self._lock:
            rows = self._db.execute(f"{_SELECT} ORDER BY created_at, rowid").fetchall()
        return [_schedule(row) for row in rows]

    def get(self, schedule_id: str) -> Schedule | None:
        with self._lock:
            row = self._db.execute(f"{_SELECT} WHERE schedule_id = ?", (schedule_id,)).fetchone()
        return None if row is None else _schedule(row)

    def save(self, schedule: Schedule) -> None:
        plain = schedule.to_plain()
        del plain["lastRun"], plain["checkedUntil"]  # the columns hold them
        row = (
            schedule.schedule_id,
            json.dumps(plain),
            _iso(schedule.created_at),
            _iso(schedule.last_run),
            _iso(schedule.checked_until),
        )
        with self._lock:
            self._db.execute(_SAVE, row)

    def delete(self, schedule_id: str) -> bool:
        with self._lock, transaction(self._db):
            self._db.execute("DELETE FROM schedule_runs WHERE schedule_id = ?", (schedule_id,))
            cursor = self._db.execute("DELETE FROM schedules WHERE schedule_id = ?", (schedule_id,))
        return cursor.rowcount > 0

    def claim(self, run: ScheduleRunRecord, *, checked_until: datetime) -> bool:
        last_run = None if run.kind is SlotKind.MISSED else _iso(run.fired_at)
        row = (
            run.schedule_id, _iso(run.slot), run.kind.value, _iso(run.fired_at), run.status,
            run.detail, run.reference,
        )  # fmt: skip
        with self._lock, transaction(self._db):
            known = self._db.execute(
                "SELECT 1 FROM schedules WHERE schedule_id = ?", (run.schedule_id,)
            ).fetchone()
            if known is None or self._db.execute(_CLAIM, row).rowcount == 0:
                return False
            self._db.execute(_MOVE, (_iso(checked_until), last_run, run.schedule_id))
        return True

    def mark_checked(self, schedule_id: str, checked_until: datetime) -> None:
        with self._lock:
            self._db.execute(
                f"UPDATE schedules SET checked_until = {_later('checked_until', '?')} "
                "WHERE schedule_id = ?",
                (_iso(checked_until), schedule_id),
            )

    def finish(
        self, schedule_id: str, slot: datetime, *, status: str, detail: str, reference: str = ""
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE schedule_runs SET status = ?, detail = ?, reference = ? "
                "WHERE schedule_id = ? AND slot = ?",
                (status, detail, reference, schedule_id, _iso(slot)),
            )

    def runs(self, schedule_id: str, *, limit: int) -> list[ScheduleRunRecord]:
        # max(0, …): SQLite reads a negative LIMIT as "no limit".
        with self._lock:
            rows = self._db.execute(_RUNS, (schedule_id, max(0, limit))).fetchall()
        return [_run(row) for row in rows]


def _iso(moment: datetime | None) -> str | None:
    # UTC text with microseconds sorts as time; a naive time is taken as UTC (as the journal).
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _schedule(row: tuple[object, ...]) -> Schedule:
    schedule_id, body, last_run, checked_until = row
    try:
        plain = {**json.loads(str(body)), "lastRun": last_run, "checkedUntil": checked_until}
        return Schedule.from_plain(plain)
    except (ValueError, TypeError, InvalidSchedule) as error:  # JSONDecodeError: ValueError
        raise sqlite3.DataError(
            f"schedule book: schedule {schedule_id!r} unreadable: {error}"
        ) from error


def _run(row: tuple[object, ...]) -> ScheduleRunRecord:
    schedule_id, slot, kind, fired_at, status, detail, reference = row
    try:
        return ScheduleRunRecord(
            schedule_id=str(schedule_id),
            slot=datetime.fromisoformat(str(slot)),
            kind=SlotKind(kind),
            fired_at=datetime.fromisoformat(str(fired_at)),
            status=str(status),
            detail=str(detail),
            reference=str(reference),
        )
    except ValueError as error:
        raise sqlite3.DataError(
            f"schedule book: a run of {schedule_id!r} unreadable: {error}"
        ) from error
