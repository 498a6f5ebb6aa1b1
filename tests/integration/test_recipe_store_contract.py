"""The ``RecipeBook`` and ``RecipeRunLog`` contracts, held by the in-memory fake and the
SQLite store; and what only SQLite promises: recipes and runs survive reopening the file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.fakes.recipes import InMemoryRecipeStore
from adapters.storage.recipes import SqliteRecipeStore
from application.ports import RecipeBook, RecipeRunLog
from domain.recipe import Recipe, RecipeStep, StepDose
from domain.recipe_run import RecipeRunRecord, RunState

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def recipe(recipe_id: str = "nutrient-mix", name: str = "Nutrient Mix", ml: float = 10.0) -> Recipe:
    return Recipe.create(
        recipe_id,
        name,
        [
            RecipeStep((StepDose("X", ml, 5.0),), wait_s=60.0),
            RecipeStep((StepDose("Y", 2.5, 5.0), StepDose("Z", 1.25, 2.5))),
        ],
        description="part A, wait, part B",
    )


def run(run_id: str, minutes: int, state: RunState = RunState.DOSING) -> RecipeRunRecord:
    return RecipeRunRecord(
        run_id, recipe(), state, 0, 0, T0 + timedelta(minutes=minutes), origin="http"
    )


@pytest.fixture(params=["in-memory", pytest.param("sqlite", marks=pytest.mark.slow)])
def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[InMemoryRecipeStore | SqliteRecipeStore]:
    if request.param == "in-memory":
        yield InMemoryRecipeStore()
        return
    sqlite_store = SqliteRecipeStore(tmp_path / "recipes.db")
    yield sqlite_store
    sqlite_store.close()


@pytest.fixture
def book(store: InMemoryRecipeStore | SqliteRecipeStore) -> RecipeBook:
    return store.book


@pytest.fixture
def run_log(store: InMemoryRecipeStore | SqliteRecipeStore) -> RecipeRunLog:
    return store.run_log


def test_saving_a_new_recipe_says_so_and_a_second_save_replaces_it(book: RecipeBook) -> None:
    assert book.save(recipe()) is True
    assert book.save(recipe(ml=12.5)) is False
    assert book.get("nutrient-mix") == recipe(ml=12.5)
    assert book.all() == [recipe(ml=12.5)]


def test_every_field_of_a_recipe_round_trips(book: RecipeBook) -> None:
    original = recipe()
    book.save(original)
    found = book.get("nutrient-mix")
    assert found == original
    assert found is not None and found.to_plain() == original.to_plain()


def test_all_is_by_name_ignoring_case_then_by_id(book: RecipeBook) -> None:
    for recipe_id, name in [
        ("mix-b", "beta"), ("mix-c", "Alpha"), ("mix-a", "alpha"), ("mix-d", "Gamma"),
        ("mix-e", "Émile"),
    ]:  # fmt: skip
        book.save(recipe(recipe_id, name))
    assert [r.recipe_id for r in book.all()] == ["mix-a", "mix-c", "mix-b", "mix-d", "mix-e"]


def test_a_deleted_recipe_is_gone_and_deleting_it_again_says_so(book: RecipeBook) -> None:
    book.save(recipe())
    book.save(recipe("color-mix-a", "Color Mix A"))
    assert book.delete("nutrient-mix") is True
    assert book.get("nutrient-mix") is None
    assert book.delete("nutrient-mix") is False
    assert [r.recipe_id for r in book.all()] == ["color-mix-a"]


def test_an_unknown_recipe_is_none(book: RecipeBook) -> None:
    assert book.get("no-such-recipe") is None
    assert book.all() == []


def test_every_field_of_a_run_round_trips_with_utc_times(run_log: RecipeRunLog) -> None:
    ended = RecipeRunRecord(
        run_id="run-1",
        recipe=recipe(),
        state=RunState.ABORTED,
        step_index=1,
        steps_completed=1,
        started_at=T0 + timedelta(microseconds=123456),
        origin="schedule:nightly",
        ended_at=T0 + timedelta(minutes=3, microseconds=7),
        reason="stopped by request",
        dispensed_ml={"X": 10.0, "Y": 1.234567},
        dose_ids=("dose-7", "dose-8"),
    )
    run_log.save(ended)
    found = run_log.get("run-1")
    assert found == ended
    assert found is not None and found.started_at.utcoffset() == timedelta(0)
    assert found.ended_at is not None and found.ended_at.utcoffset() == timedelta(0)


def test_a_time_in_another_zone_comes_back_as_the_same_instant_in_utc(
    run_log: RecipeRunLog,
) -> None:
    paris = timezone(timedelta(hours=1))
    run_log.save(replace(run("run-1", 0), started_at=datetime(2026, 11, 21, 13, 0, tzinfo=paris)))
    found = run_log.get("run-1")
    assert found is not None
    assert (found.started_at, found.started_at.utcoffset()) == (T0, timedelta(0))


def test_saving_a_run_again_replaces_its_record(run_log: RecipeRunLog) -> None:
    run_log.save(run("run-1", 0, RunState.STARTING))
    later = replace(
        run("run-1", 0, RunState.WAITING),
        step_index=1,
        steps_completed=1,
        dispensed_ml={"X": 10.0},
        dose_ids=("dose-1",),
    )
    run_log.save(later)
    assert run_log.get("run-1") == later
    assert run_log.recent(limit=10) == [later]


def test_an_unknown_run_is_none(run_log: RecipeRunLog) -> None:
    assert run_log.get("no-such-run") is None
    assert run_log.recent(limit=10) == []


def test_unfinished_lists_only_live_runs_oldest_first(run_log: RecipeRunLog) -> None:
    run_log.save(run("run-b", 2, RunState.WAITING))
    run_log.save(run("run-a", 1, RunState.STARTING))
    for minute, state in enumerate([s for s in RunState if s.final]):
        run_log.save(run(f"run-{state.value}", minute, state))
    run_log.save(run("run-c", 2, RunState.PAUSED))
    run_log.save(run("run-d", 3, RunState.DOSING))
    assert [r.run_id for r in run_log.unfinished()] == ["run-a", "run-b", "run-c", "run-d"]


def test_recent_is_newest_started_first_and_limited(run_log: RecipeRunLog) -> None:
    for minute in [1, 0, 3, 2]:
        run_log.save(run(f"run-{minute}", minute, RunState.COMPLETED))
    run_log.save(run("run-3b", 3, RunState.DOSING))
    assert [r.run_id for r in run_log.recent(limit=3)] == ["run-3b", "run-3", "run-2"]
    assert [r.run_id for r in run_log.recent(limit=10)][-2:] == ["run-1", "run-0"]
    assert run_log.recent(limit=0) == []


def test_a_run_keeps_the_recipe_it_started_with(book: RecipeBook, run_log: RecipeRunLog) -> None:
    book.save(recipe())
    run_log.save(run("run-1", 0))
    book.save(recipe(ml=20.0))
    assert run_log.get("run-1") == run("run-1", 0)
    book.delete("nutrient-mix")
    found = run_log.get("run-1")
    assert found is not None and found.recipe == recipe()
    assert [r.run_id for r in run_log.unfinished()] == ["run-1"]


@pytest.mark.slow
def test_recipes_and_runs_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "recipes.db"
    first = SqliteRecipeStore(path)
    first.book.save(recipe())
    first.book.save(recipe("color-mix-a", "Color Mix A"))
    first.run_log.save(run("run-1", 0))
    first.close()
    first.close()  # idempotent
    reopened = SqliteRecipeStore(path)  # the migration is not run twice
    assert [r.recipe_id for r in reopened.book.all()] == ["color-mix-a", "nutrient-mix"]
    assert reopened.run_log.unfinished() == [run("run-1", 0)]
    reopened.close()


@pytest.mark.slow
def test_a_second_store_on_the_same_file_sees_each_committed_write(tmp_path: Path) -> None:
    writer = SqliteRecipeStore(tmp_path / "recipes.db")
    reader = SqliteRecipeStore(tmp_path / "recipes.db")
    writer.book.save(recipe())
    writer.run_log.save(run("run-1", 0))
    assert reader.book.get("nutrient-mix") == recipe()
    assert reader.run_log.get("run-1") == run("run-1", 0)
    writer.close()
    reader.close()
