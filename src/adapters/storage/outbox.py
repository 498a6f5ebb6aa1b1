"""The telemetry outbox in SQLite: events and alarms wait here until the broker
acknowledged them, so a broker outage or a daemon restart loses nothing (DESIGN §5).

``seq`` is an ``AUTOINCREMENT`` rowid: SQLite keeps the highest seq ever handed out in
``sqlite_sequence``, in the same transaction as the row, so a seq is never reused, even after
the newest entries were acknowledged and the daemon restarted. WAL mode with
``synchronous=FULL``: an ``append`` that returned is on disk, and a kill mid-write leaves
the previous state whole. One connection guarded by a lock serves every thread (the control
plane appends, the telemetry drainer reads, the MQTT network thread acknowledges). The
schema version lives in ``PRAGMA user_version`` so later versions can migrate the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from adapters.storage.sqlite_file import open_durable
from domain.telemetry import MessageKind, OutboxEntry

SCHEMA_VERSION = 1

# Statements by the schema version they lead to; all run inside the opening transaction.
# ``is_alarm`` duplicates ``kind = 'alarm'`` (the CHECK keeps them agreeing) so that the
# index on (is_alarm DESC, seq) serves "alarms first" straight from the index, without
# sorting a 10,000-entry backlog on every drain step.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE outbox (
            seq        INTEGER PRIMARY KEY AUTOINCREMENT,
            kind       TEXT NOT NULL,
            is_alarm   INTEGER NOT NULL CHECK (is_alarm = (kind = 'alarm')),
            payload    TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )""",
        "CREATE INDEX outbox_alarms_first ON outbox (is_alarm DESC, seq)",
    ),
}
_SELECT = "SELECT seq, kind, payload FROM outbox"


def encode_payload(payload: Mapping[str, Any]) -> str:
    """``payload`` as compact JSON text (UTF-8 kept as is, ``ensure_ascii=False``).

    Raises ``ValueError`` for a NaN or infinite float (not JSON, RFC 8259 §6) or a str
    holding a lone surrogate; ``TypeError`` for a value JSON cannot represent.
    """
    try:
        text = json.dumps(dict(payload), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"outbox payload is not valid Unicode text: {error}") from None
    except ValueError as error:
        raise ValueError(f"outbox payload is not JSON: {error}") from None
    except TypeError as error:
        raise TypeError(f"outbox payload is not JSON: {error}") from None
    return text


class SqliteOutbox:
    """``Outbox`` port on a SQLite file at ``path`` (created with its folder).

    Payloads are stored as JSON and come back as JSON decodes them (a tuple comes back as
    a list). ``append`` raises ``ValueError``/``TypeError`` for a payload that is not JSON
    (see ``encode_payload``) before touching the file. Every method raises
    ``sqlite3.Error`` on storage failure (disk full, corrupt file, a file written by a
    newer schema, a row this version cannot read) and ``sqlite3.ProgrammingError`` after
    ``close``.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_durable(path, "outbox", _MIGRATIONS)

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            self._db.close()

    def append(self, kind: MessageKind, payload: Mapping[str, Any]) -> int:
        """Store a message durably (committed and synced before returning); its ``seq``."""
        text = encode_payload(payload)
        with self._lock:
            seq = self._db.execute(
                "INSERT INTO outbox (kind, is_alarm, payload) VALUES (?, ?, ?)",
                (kind.value, int(kind.is_alarm), text),
            ).lastrowid
        if seq is None:  # only if the INSERT inserted nothing, which it always does
            raise sqlite3.DatabaseError("outbox INSERT returned no seq")
        return seq

    def pending(
        self, limit: int, *, alarms_first: bool = False, exclude: Collection[int] = ()
    ) -> list[OutboxEntry]:
        """Up to ``limit`` entries oldest (lowest ``seq``) first; with ``alarms_first``,
        every alarm before every event, each group in ``seq`` order; the ``exclude`` seqs
        (in flight) left out. ``limit`` below 1 gives an empty list."""
        if limit < 1:
            return []
        excluded = set(exclude)
        order = "is_alarm DESC, seq" if alarms_first else "seq"
        # Each excluded seq hides at most one row, so reading that many more rows is
        # enough; filtering here keeps the query on its index whatever the exclude size.
        with self._lock:
            rows = self._db.execute(
                f"{_SELECT} ORDER BY {order} LIMIT ?", (limit + len(excluded),)
            ).fetchall()
        entries = [_entry(*row) for row in rows if row[0] not in excluded]
        return entries[:limit]

    def acknowledge(self, seq: int) -> None:
        """Remove ``seq`` (the broker acknowledged it); no error when it is already gone."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def depth(self) -> int:
        """How many entries are stored."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def _entry(seq: int, kind: str, payload: str) -> OutboxEntry:
    try:
        message_kind = MessageKind(kind)
        decoded = json.loads(payload)
    except ValueError as error:
        raise sqlite3.DatabaseError(f"outbox row {seq} is unreadable: {error}") from None
    if not isinstance(decoded, dict):
        raise sqlite3.DatabaseError(
            f"outbox row {seq} holds {type(decoded).__name__}, not an object"
        )
    return OutboxEntry(seq, message_kind, decoded)
