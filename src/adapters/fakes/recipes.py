"""In-memory recipe store: the recipe book and the recipe run log, in dicts."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

from domain.recipe import Recipe
from domain.recipe_run import RecipeRunRecord


class InMemoryRecipeStore:
    """Both recipe ports, as ``SqliteRecipeStore`` hands them out: ``book`` is the
    ``RecipeBook``, ``run_log`` the ``RecipeRunLog``."""

    def __init__(self) -> None:
        self.book = InMemoryRecipeBook()
        self.run_log = InMemoryRecipeRunLog()


class InMemoryRecipeBook:
    """``RecipeBook`` in a dict; ``recipes`` maps recipe id to recipe, insertion order."""

    def __init__(self) -> None:
        self.recipes: dict[str, Recipe] = {}
        self._lock = threading.Lock()

    def all(self) -> list[Recipe]:
        """Every recipe by name (case-insensitive, Unicode casefold), then id."""
        with self._lock:
            recipes = list(self.recipes.values())
        return sorted(recipes, key=lambda r: (r.name.casefold(), r.recipe_id))

    def get(self, recipe_id: str) -> Recipe | None:
        with self._lock:
            return self.recipes.get(recipe_id)

    def save(self, recipe: Recipe) -> bool:
        with self._lock:
            new = recipe.recipe_id not in self.recipes
            self.recipes[recipe.recipe_id] = recipe
        return new

    def delete(self, recipe_id: str) -> bool:
        with self._lock:
            return self.recipes.pop(recipe_id, None) is not None


class InMemoryRecipeRunLog:
    """``RecipeRunLog`` in a dict; ``records`` maps run id to record, in the order runs
    were first saved. Records are kept as SQLite returns them: times in UTC (a naive
    time taken as UTC), ``dispensed_ml`` a private copy. The recipe is frozen, so a
    record's recipe stays the snapshot of when it was saved."""

    def __init__(self) -> None:
        self.records: dict[str, RecipeRunRecord] = {}
        self._lock = threading.Lock()

    def save(self, record: RecipeRunRecord) -> None:
        stored = replace(
            record,
            started_at=_utc(record.started_at),
            ended_at=None if record.ended_at is None else _utc(record.ended_at),
            dispensed_ml=dict(record.dispensed_ml),
        )
        with self._lock:
            self.records[record.run_id] = stored  # an update keeps the first-saved order

    def get(self, run_id: str) -> RecipeRunRecord | None:
        with self._lock:
            record = self.records.get(run_id)
        return None if record is None else _copy(record)

    def unfinished(self) -> list[RecipeRunRecord]:
        with self._lock:
            rows = [r for r in self.records.values() if not r.state.final]
        # stable sort: equal start times stay in save order, as SQLite's started_at, rowid
        return [_copy(r) for r in sorted(rows, key=lambda r: r.started_at)]

    def recent(self, *, limit: int) -> list[RecipeRunRecord]:
        with self._lock:
            rows = list(self.records.values())
        # Newest start first, ties newest saved first (as SQLite's started_at, rowid DESC).
        rows.reverse()
        rows = sorted(rows, key=lambda r: r.started_at, reverse=True)[: max(0, limit)]
        return [_copy(r) for r in rows]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _copy(record: RecipeRunRecord) -> RecipeRunRecord:
    # a caller that changes the returned dict must not change the log
    return replace(record, dispensed_ml=dict(record.dispensed_ml))
