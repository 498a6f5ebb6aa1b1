"""What every SQLite store of the daemon shares: opening a file durably (WAL with
``synchronous=FULL``: a committed transaction survives a crash or power cut), explicit
transactions, and schema migrations tracked in ``PRAGMA user_version``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


def open_durable(
    path: Path, what: str, migrations: Mapping[int, Sequence[str]]
) -> sqlite3.Connection:
    """Open (creating the folder) ``path`` for use from several threads behind the
    caller's lock, in autocommit mode, and migrate its schema to the newest version in
    ``migrations`` (version → statements). ``what`` names the store in errors.

    Raises ``sqlite3.DatabaseError`` for a file written by a newer schema, ``sqlite3.Error``
    for a corrupt or unwritable one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        _migrate(db, path, what, migrations)
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back when the body raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _migrate(
    db: sqlite3.Connection, path: Path, what: str, migrations: Mapping[int, Sequence[str]]
) -> None:
    newest = max(migrations)
    with transaction(db):
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > newest:
            raise sqlite3.DatabaseError(
                f"{path}: {what} schema version {version} is newer than this doser "
                f"understands ({newest})"
            )
        for target in range(version + 1, newest + 1):
            for statement in migrations[target]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {target}")
