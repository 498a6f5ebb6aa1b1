"""The dose journal in SQLite: one row per dose, written before the motor starts.

WAL mode with ``synchronous=FULL`` (``sqlite_file.open_durable``) so a committed row
survives a crash or power cut; the control plane writes, HTTP readers read, one connection
guarded by a lock (SQLite serialises writers anyway, and the journal sees a handful of
writes per dose).
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from adapters.storage.sqlite_file import open_durable
from domain.events import DoseKind, DoseOutcome, StepRef
from domain.journal import DoseRecord

# Version → statements (PRAGMA user_version). Version 1 is the schema the first journal
# created without recording a version, so it is written IF NOT EXISTS: a file from that
# version (user_version 0, table present) and a new file both migrate through it.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS doses (
            dose_id          TEXT PRIMARY KEY,
            pump_id          TEXT NOT NULL,
            requested_ml     REAL NOT NULL,
            flow_rate_ml_min REAL NOT NULL,
            started_at       TEXT NOT NULL,
            outcome          TEXT NOT NULL,
            actual_ml        REAL,
            ended_at         TEXT,
            reason           TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX IF NOT EXISTS doses_started_at ON doses (started_at)",
    ),
    2: (
        "ALTER TABLE doses ADD COLUMN kind TEXT NOT NULL DEFAULT 'volume'",
        "ALTER TABLE doses ADD COLUMN start_position_mm REAL",
        "ALTER TABLE doses ADD COLUMN ml_per_mm REAL",
        "ALTER TABLE doses ADD COLUMN dispensed_ml REAL NOT NULL DEFAULT 0",
        "ALTER TABLE doses ADD COLUMN actual_upper_ml REAL",
        # Partial: only the few running rows, for unfinished() at start-up.
        "CREATE INDEX doses_running ON doses (started_at) WHERE outcome = 'running'",
    ),
    3: (
        "ALTER TABLE doses ADD COLUMN recipe_run_id TEXT",
        "ALTER TABLE doses ADD COLUMN recipe_step INTEGER",
        "CREATE INDEX doses_recipe_run ON doses (recipe_run_id) WHERE recipe_run_id IS NOT NULL",
    ),
}
_COLUMNS = (
    "dose_id, pump_id, requested_ml, flow_rate_ml_min, started_at, outcome, actual_ml, "
    "ended_at, reason, kind, start_position_mm, ml_per_mm, dispensed_ml, actual_upper_ml, "
    "recipe_run_id, recipe_step"
)
_SELECT = f"SELECT {_COLUMNS} FROM doses"
# Ended: the upper bound where uncertain, else the actual (refused rows hold 0). Running:
# the request may still flow, unless progress already passed it.
_DISPENSED = (
    "SELECT TOTAL(CASE WHEN outcome = 'running' THEN max(requested_ml, dispensed_ml) "
    "ELSE coalesce(actual_upper_ml, actual_ml, 0) END) FROM doses WHERE started_at >= ?"
)


class SqliteDoseJournal:
    """``DoseJournal`` port on a SQLite file at ``path`` (created with its folder; a file
    from an older schema is migrated on open, inside one transaction).

    Times are stored as ISO-8601 UTC text (microseconds) so they sort as text. Every write
    is one committed, synced transaction (mind the fsync when journaling progress).
    Raises ``sqlite3.Error`` on storage failure (disk full, corrupt file), and
    ``sqlite3.DatabaseError`` on open for a file written by a newer schema.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_durable(path, "dose journal", _MIGRATIONS)

    def close(self) -> None:
        """Close the file (at shutdown); idempotent."""
        with self._lock:
            self._db.close()

    def dose_started(self, record: DoseRecord) -> None:
        ended = _iso(record.ended_at) if record.ended_at else None
        with self._lock:
            self._db.execute(
                f"INSERT INTO doses ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                (
                    record.dose_id,
                    record.pump_id,
                    record.requested_ml,
                    record.flow_rate_ml_min,
                    _iso(record.started_at),
                    record.outcome.value,
                    record.actual_ml,
                    ended,
                    record.reason,
                    record.kind.value,
                    record.start_position_mm,
                    record.ml_per_mm,
                    record.dispensed_ml,
                    record.actual_upper_ml,
                    record.recipe.run_id if record.recipe else None,
                    record.recipe.step if record.recipe else None,
                ),
            )

    def dose_ended(
        self,
        dose_id: str,
        *,
        actual_ml: float,
        outcome: DoseOutcome,
        ended_at: datetime,
        reason: str = "",
        actual_upper_ml: float | None = None,
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE doses SET actual_ml = ?, outcome = ?, ended_at = ?, reason = ?, "
                "actual_upper_ml = ? WHERE dose_id = ?",
                (actual_ml, outcome.value, _iso(ended_at), reason, actual_upper_ml, dose_id),
            )

    def dose_progress(self, dose_id: str, *, dispensed_ml: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE doses SET dispensed_ml = ? WHERE dose_id = ? AND outcome = 'running'",
                (dispensed_ml, dose_id),
            )

    def unfinished(self) -> list[DoseRecord]:
        query = f"{_SELECT} WHERE outcome = 'running' ORDER BY started_at, rowid"
        with self._lock:
            rows = self._db.execute(query).fetchall()
        return [_record(row) for row in rows]

    def get(self, dose_id: str) -> DoseRecord | None:
        with self._lock:
            row = self._db.execute(f"{_SELECT} WHERE dose_id = ?", (dose_id,)).fetchone()
        return None if row is None else _record(row)

    def dispensed_since(self, since: datetime, *, pump_id: str | None = None) -> float:
        query, params = _DISPENSED, [_iso(since)]
        if pump_id is not None:
            query, params = f"{query} AND pump_id = ?", [*params, pump_id]
        with self._lock:
            (total,) = self._db.execute(query, params).fetchone()
        return float(total)

    def history(self, *, limit: int, since: datetime | None = None) -> list[DoseRecord]:
        query = _SELECT
        params: tuple[object, ...] = ()
        if since is not None:
            query += " WHERE started_at >= ?"
            params = (_iso(since),)
        query += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*params, limit)).fetchall()
        return [_record(row) for row in rows]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _record(row: tuple[object, ...]) -> DoseRecord:
    (dose_id, pump_id, requested, flow, started, outcome, actual, ended, reason, kind,
     start_mm, ml_per_mm, dispensed, upper, run_id, step) = row  # fmt: skip
    return DoseRecord(
        dose_id=str(dose_id),
        pump_id=str(pump_id),
        requested_ml=_real(requested),
        flow_rate_ml_min=_real(flow),
        started_at=datetime.fromisoformat(str(started)),
        outcome=DoseOutcome(outcome),
        actual_ml=_optional_real(actual),
        ended_at=None if ended is None else datetime.fromisoformat(str(ended)),
        reason=str(reason),
        kind=DoseKind(kind),
        start_position_mm=_optional_real(start_mm),
        ml_per_mm=_optional_real(ml_per_mm),
        dispensed_ml=_real(dispensed),
        actual_upper_ml=_optional_real(upper),
        recipe=None if run_id is None else StepRef(str(run_id), int(str(step or 0))),
    )


def _real(value: object) -> float:
    if not isinstance(value, int | float):
        raise sqlite3.DataError(f"dose journal: expected a number, found {value!r}")
    return float(value)


def _optional_real(value: object) -> float | None:
    return None if value is None else _real(value)
