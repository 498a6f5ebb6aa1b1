"""The dose journal in SQLite: one row per dose, written before the motor starts.

WAL mode with ``synchronous=FULL`` so a committed row survives a power cut; the control
plane writes, HTTP readers read, one connection guarded by a lock (SQLite serialises
writers anyway, and the journal sees a handful of writes per dose).
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from domain.events import DoseOutcome
from domain.journal import DoseRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS doses (
    dose_id          TEXT PRIMARY KEY,
    pump_id          TEXT NOT NULL,
    requested_ml     REAL NOT NULL,
    flow_rate_ml_min REAL NOT NULL,
    started_at       TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    actual_ml        REAL,
    ended_at         TEXT,
    reason           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS doses_started_at ON doses (started_at);
"""
_COLUMNS = (
    "dose_id, pump_id, requested_ml, flow_rate_ml_min, started_at, outcome, actual_ml, "
    "ended_at, reason"
)


class SqliteDoseJournal:
    """``DoseJournal`` port on a SQLite file at ``path`` (created with its folder).

    Times are stored as ISO-8601 UTC text (microseconds) so they sort as text.
    Raises ``sqlite3.Error`` on storage failure (disk full, corrupt file).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file (at shutdown)."""
        with self._lock:
            self._db.close()

    def dose_started(self, record: DoseRecord) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT INTO doses ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.dose_id,
                    record.pump_id,
                    record.requested_ml,
                    record.flow_rate_ml_min,
                    _iso(record.started_at),
                    record.outcome.value,
                    record.actual_ml,
                    _iso(record.ended_at) if record.ended_at else None,
                    record.reason,
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
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE doses SET actual_ml = ?, outcome = ?, ended_at = ?, reason = ? "
                "WHERE dose_id = ?",
                (actual_ml, outcome.value, _iso(ended_at), reason, dose_id),
            )

    def history(self, *, limit: int, since: datetime | None = None) -> list[DoseRecord]:
        query = f"SELECT {_COLUMNS} FROM doses"
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
    dose_id, pump_id, requested, flow, started, outcome, actual, ended, reason = row
    return DoseRecord(
        dose_id=str(dose_id),
        pump_id=str(pump_id),
        requested_ml=float(requested),  # type: ignore[arg-type]
        flow_rate_ml_min=float(flow),  # type: ignore[arg-type]
        started_at=datetime.fromisoformat(str(started)),
        outcome=DoseOutcome(outcome),
        actual_ml=None if actual is None else float(actual),  # type: ignore[arg-type]
        ended_at=None if ended is None else datetime.fromisoformat(str(ended)),
        reason=str(reason),
    )
