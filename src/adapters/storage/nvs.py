"""Run-time settings that must survive a power cut (device name, location, calibration,
the API token), kept like ESP32 NVS: namespaces of typed values, in one SQLite file.

One row per key with a type tag, so ``get`` returns exactly the type that was set (a bool
stays a bool, not 1). WAL mode with ``synchronous=FULL``: a ``set_many`` that returned is on
disk, and a kill mid-write leaves the previous state whole. One connection guarded by a
lock serves every thread (the HTTP thread writes, the MQTT supervisor reads). The schema
version lives in ``PRAGMA user_version`` so later versions can migrate the file.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path

from adapters.storage.sqlite_file import open_durable, transaction
from application.ports import NvsValue

SCHEMA_VERSION = 1
MAX_NAME_CHARS = 64
MAX_STR_CHARS = 4000
MAX_BYTES = 64 * 1024
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_NAME_CHARS}}}")

# Statements by the schema version they lead to; all run inside the opening transaction.
# ``value`` has no declared type (no affinity): SQLite keeps each value as it was bound.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE nvs (
            namespace TEXT NOT NULL,
            key       TEXT NOT NULL,
            type      TEXT NOT NULL CHECK (type IN ('str', 'int', 'float', 'bool', 'bytes')),
            value     NOT NULL,
            PRIMARY KEY (namespace, key)
        ) WITHOUT ROWID""",
    ),
}


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is a valid namespace or key (``kind`` names which, for the
    message): 1 to 64 characters of ``[A-Za-z0-9_.-]``.

    Raises ``TypeError`` if it is not a str, ``ValueError`` if it is empty, too long or
    has another character.
    """
    if not isinstance(name, str):
        raise TypeError(f"NVS {kind} must be a str, not {type(name).__name__}")
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"NVS {kind} {name!r} is invalid: use 1 to {MAX_NAME_CHARS} characters "
            "of A-Z a-z 0-9 _ . -"
        )
    return name


def check_value(key: str, value: object) -> str:
    """Return the type tag of ``value`` (``str``, ``int``, ``float``, ``bool``, ``bytes``).

    Raises ``TypeError`` for any other type; ``ValueError`` for an int outside the 64-bit
    signed range, a NaN or infinite float, a str over 4000 characters or not encodable as
    UTF-8, bytes over 64 KiB.
    """
    problem = ""
    if isinstance(value, bool):  # before int: a bool is an int to isinstance
        tag = "bool"
    elif isinstance(value, int):
        tag = "int"
        if not _INT_MIN <= value <= _INT_MAX:
            problem = "is outside the 64-bit signed range"
    elif isinstance(value, float):
        tag = "float"
        if not math.isfinite(value):
            problem = "is not a finite number"
    elif isinstance(value, str):
        tag = "str"
        if len(value) > MAX_STR_CHARS:
            problem = f"is longer than {MAX_STR_CHARS} characters"
        elif not _encodable(value):
            problem = "is not valid Unicode text (lone surrogate)"
    elif isinstance(value, bytes):
        tag = "bytes"
        if len(value) > MAX_BYTES:
            problem = f"is longer than {MAX_BYTES} bytes"
    else:
        raise TypeError(
            f"NVS value for {key!r} must be str, int, float, bool or bytes, "
            f"not {type(value).__name__}"
        )
    if problem:
        raise ValueError(f"NVS value for {key!r} {problem}")
    return tag


class SqliteNvs:
    """``NonVolatileStore`` port on a SQLite file at ``path`` (created with its folder).

    Every method raises ``TypeError``/``ValueError`` for an invalid namespace, key or value
    (see ``check_name``, ``check_value``) before touching the file, and ``sqlite3.Error``
    on storage failure (disk full, corrupt file, a file written by a newer schema).
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_durable(path, "NVS", _MIGRATIONS)

    def close(self) -> None:
        """Close the file; idempotent. Later calls raise ``sqlite3.ProgrammingError``."""
        with self._lock:
            self._db.close()

    def get(self, namespace: str, key: str) -> NvsValue | None:
        """The value under ``namespace``/``key`` with the type it was set with, or None."""
        check_name("namespace", namespace)
        check_name("key", key)
        with self._lock:
            row = self._db.execute(
                "SELECT type, value FROM nvs WHERE namespace = ? AND key = ?", (namespace, key)
            ).fetchone()
        return None if row is None else _decode(row[0], row[1])

    def get_all(self, namespace: str) -> dict[str, NvsValue]:
        """Every key of ``namespace`` with its value, read by one statement (one snapshot)."""
        check_name("namespace", namespace)
        with self._lock:
            rows = self._db.execute(
                "SELECT key, type, value FROM nvs WHERE namespace = ? ORDER BY key", (namespace,)
            ).fetchall()
        return {key: _decode(tag, value) for key, tag, value in rows}

    def set_many(self, namespace: str, values: Mapping[str, NvsValue]) -> None:
        """Store every key of ``values`` in one atomic, durable commit (all or none)."""
        check_name("namespace", namespace)
        rows = [
            (namespace, check_name("key", key), check_value(key, value), value)
            for key, value in values.items()
        ]
        if rows:
            with self._lock, transaction(self._db):
                self._db.executemany("INSERT OR REPLACE INTO nvs VALUES (?, ?, ?, ?)", rows)

    def erase(self, namespace: str, key: str) -> None:
        """Remove ``key`` from ``namespace``; no error when it is absent."""
        check_name("namespace", namespace)
        check_name("key", key)
        with self._lock:
            self._db.execute("DELETE FROM nvs WHERE namespace = ? AND key = ?", (namespace, key))

    def erase_namespace(self, namespace: str) -> None:
        """Remove every key of ``namespace`` in one commit; no error when it is empty."""
        check_name("namespace", namespace)
        with self._lock:
            self._db.execute("DELETE FROM nvs WHERE namespace = ?", (namespace,))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decode(tag: str, value: object) -> NvsValue:
    if tag == "bool":
        return bool(value)
    if tag == "int" and isinstance(value, int):
        return value
    if tag == "float" and isinstance(value, float | int):
        return float(value)
    if tag == "str" and isinstance(value, str):
        return value
    if tag == "bytes" and isinstance(value, bytes):
        return value
    raise sqlite3.DatabaseError(f"NVS row of type {tag!r} holds {type(value).__name__}")
