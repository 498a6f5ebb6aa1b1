"""Stored recipes and the log of their runs, in one SQLite file (``recipes.db``).

``RecipeBook`` and ``RecipeRunLog`` both name a ``save`` and a ``get``, so one object
cannot be both: ``SqliteRecipeStore`` owns the file, and hands out one view per port
(``book``, ``run_log``) sharing its connection and lock. A run row keeps the recipe as it
was when the run started (a JSON snapshot), so editing or deleting the recipe later never
rewrites what a run did. WAL with ``synchronous=FULL`` (``sqlite_file.open_durable``): a
write that returned survives a crash or power cut.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from adapters.storage.sqlite_file import open_durable, transaction
from domain.errors import InvalidRecipe
from domain.recipe import Recipe
from domain.recipe_run import RecipeRunRecord, RunState

# Version → statements (PRAGMA user_version), run inside the opening transaction.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE recipes (
            recipe_id TEXT PRIMARY KEY,
            name      TEXT NOT NULL,
            body      TEXT NOT NULL
        )""",
        """CREATE TABLE recipe_runs (
            run_id          TEXT PRIMARY KEY,
            recipe_id       TEXT NOT NULL,
            recipe          TEXT NOT NULL,
            state           TEXT NOT NULL,
            step_index      INTEGER NOT NULL,
            steps_completed INTEGER NOT NULL,
            started_at      TEXT NOT NULL,
            ended_at        TEXT,
            origin          TEXT NOT NULL,
            reason          TEXT NOT NULL,
            dispensed_ml    TEXT NOT NULL,
            dose_ids        TEXT NOT NULL
        )""",
        "CREATE INDEX recipe_runs_started_at ON recipe_runs (started_at)",
    ),
}
_RUN_COLUMNS = (
    "run_id", "recipe_id", "recipe", "state", "step_index", "steps_completed", "started_at",
    "ended_at", "origin", "reason", "dispensed_ml", "dose_ids",
)  # fmt: skip
_SELECT_RUNS = f"SELECT {', '.join(_RUN_COLUMNS)} FROM recipe_runs"
_UPSERT_RUN = (
    f"INSERT INTO recipe_runs ({', '.join(_RUN_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_RUN_COLUMNS))}) ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _RUN_COLUMNS[1:])
)
_FINAL_STATES = tuple(state.value for state in RunState if state.final)


class SqliteRecipeStore:
    """The recipe file at ``path`` (created with its folder, migrated on open).

    ``book`` is the ``RecipeBook``, ``run_log`` the ``RecipeRunLog``; both are safe to call
    from any thread. Raises ``sqlite3.Error`` on storage failure (disk full, corrupt file,
    a stored row that no longer reads as a recipe), and ``sqlite3.DatabaseError`` on open
    for a file written by a newer schema.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_durable(path, "recipe store", _MIGRATIONS)
        self.book = SqliteRecipeBook(self._db, self._lock)
        self.run_log = SqliteRecipeRunLog(self._db, self._lock)

    def close(self) -> None:
        """Close the file (at shutdown); idempotent."""
        with self._lock:
            self._db.close()


class SqliteRecipeBook:
    """``RecipeBook`` on the store's ``recipes`` table: one row per recipe, its plain
    (``Recipe.to_plain``) JSON beside its id and name. Get it from ``SqliteRecipeStore``."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db, self._lock = db, lock

    def all(self) -> list[Recipe]:
        """Every recipe by name (case-insensitive, Unicode casefold), then id."""
        with self._lock:
            rows = self._db.execute("SELECT recipe_id, body FROM recipes").fetchall()
        recipes = [_recipe(str(recipe_id), body) for recipe_id, body in rows]
        return sorted(recipes, key=lambda r: (r.name.casefold(), r.recipe_id))

    def get(self, recipe_id: str) -> Recipe | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM recipes WHERE recipe_id = ?", (recipe_id,)
            ).fetchone()
        return None if row is None else _recipe(recipe_id, row[0])

    def save(self, recipe: Recipe) -> bool:
        body = json.dumps(recipe.to_plain())
        with self._lock, transaction(self._db):
            known = self._db.execute(
                "SELECT 1 FROM recipes WHERE recipe_id = ?", (recipe.recipe_id,)
            ).fetchone()
            self._db.execute(
                "INSERT INTO recipes (recipe_id, name, body) VALUES (?, ?, ?) "
                "ON CONFLICT (recipe_id) DO UPDATE SET name = excluded.name, "
                "body = excluded.body",
                (recipe.recipe_id, recipe.name, body),
            )
        return known is None

    def delete(self, recipe_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM recipes WHERE recipe_id = ?", (recipe_id,))
        return cursor.rowcount > 0


class SqliteRecipeRunLog:
    """``RecipeRunLog`` on the store's ``recipe_runs`` table: one row per run, rewritten in
    place at every step boundary. Get it from ``SqliteRecipeStore``."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db, self._lock = db, lock

    def save(self, record: RecipeRunRecord) -> None:
        ended = None if record.ended_at is None else _iso(record.ended_at)
        row = (
            record.run_id,
            record.recipe.recipe_id,
            json.dumps(record.recipe.to_plain()),
            record.state.value,
            record.step_index,
            record.steps_completed,
            _iso(record.started_at),
            ended,
            record.origin,
            record.reason,
            json.dumps(dict(record.dispensed_ml)),
            json.dumps(list(record.dose_ids)),
        )
        with self._lock:
            self._db.execute(_UPSERT_RUN, row)

    def get(self, run_id: str) -> RecipeRunRecord | None:
        with self._lock:
            row = self._db.execute(f"{_SELECT_RUNS} WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _run(row)

    def unfinished(self) -> list[RecipeRunRecord]:
        marks = ", ".join("?" * len(_FINAL_STATES))
        query = f"{_SELECT_RUNS} WHERE state NOT IN ({marks}) ORDER BY started_at, rowid"
        with self._lock:
            rows = self._db.execute(query, _FINAL_STATES).fetchall()
        return [_run(row) for row in rows]

    def recent(self, *, limit: int) -> list[RecipeRunRecord]:
        # max(0, …): SQLite reads a negative LIMIT as "no limit".
        query = f"{_SELECT_RUNS} ORDER BY started_at DESC, rowid DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (max(0, limit),)).fetchall()
        return [_run(row) for row in rows]


def _iso(moment: datetime) -> str:
    # UTC text with microseconds sorts as time; a naive time is taken as UTC (as the journal).
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _recipe(recipe_id: str, body: object) -> Recipe:
    try:
        return Recipe.from_plain(json.loads(str(body)), recipe_id=recipe_id)
    except (ValueError, InvalidRecipe) as error:  # JSONDecodeError is a ValueError
        raise sqlite3.DataError(
            f"recipe store: recipe {recipe_id!r} unreadable: {error}"
        ) from error


def _run(row: tuple[object, ...]) -> RecipeRunRecord:
    (run_id, recipe_id, recipe, state, step_index, steps_completed, started, ended, origin,
     reason, dispensed, dose_ids) = row  # fmt: skip
    try:
        dispensed_ml = {str(pump): float(ml) for pump, ml in json.loads(str(dispensed)).items()}
        doses = tuple(str(dose_id) for dose_id in json.loads(str(dose_ids)))
        return RecipeRunRecord(
            run_id=str(run_id),
            recipe=_recipe(str(recipe_id), recipe),
            state=RunState(state),
            step_index=int(str(step_index)),
            steps_completed=int(str(steps_completed)),
            started_at=datetime.fromisoformat(str(started)),
            origin=str(origin),
            ended_at=None if ended is None else datetime.fromisoformat(str(ended)),
            reason=str(reason),
            dispensed_ml=dispensed_ml,
            dose_ids=doses,
        )
    except (ValueError, TypeError, AttributeError) as error:
        raise sqlite3.DataError(f"recipe store: run {run_id!r} unreadable: {error}") from error
