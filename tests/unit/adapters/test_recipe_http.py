"""The recipe endpoints through Starlette's TestClient, on the real use cases and control
plane wired with the fakes. The fake controller's motion runs on a manual clock, so a step
is mid-dose until the test moves time on: no race with the control-plane thread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from adapters.fakes import FakeMotionController, ManualClock
from bootstrap.containers import bootstrap
from bootstrap.settings import HttpSettings, PumpSettings, Settings
from support.daemon_harness import wait_for
from support.fake_daemon import control_plane_running

TOKEN = "pump-room-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Step 1 doses X and Y together, step 2 doses Z: 0.1 ml at 15 ml/min (0.4 s of motion).
FEED_AND_RINSE = {
    "id": "feed-and-rinse",
    "name": "Feed and rinse",
    "description": "part A with part B, then water",
    "steps": [
        {
            "doses": [
                {"pump": "X", "volume": 0.1, "flowRate": 15.0},
                {"pump": "Y", "volume": 0.1, "flowRate": 15.0},
            ],
            "waitSeconds": 0.0,
        },
        {"doses": [{"pump": "Z", "volume": 0.1, "flowRate": 15.0}], "waitSeconds": 0.0},
    ],
}
# 5 ml at 15 ml/min: 20 s of motion on the manual clock.
SLOW_FILL = {
    "id": "slow-fill",
    "name": "Slow fill",
    "steps": [{"doses": [{"pump": "X", "volume": 5.0, "flowRate": 15.0}]}],
}


@dataclass
class Rig:
    client: TestClient
    controller: FakeMotionController
    motion: ManualClock

    def create(self, recipe: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("/api/recipes", json=recipe, headers=AUTH)
        assert response.status_code == 201, response.json()
        body: dict[str, Any] = response.json()
        return body

    def execute(self, recipe_id: str) -> str:
        response = self.client.post(f"/api/recipe/{recipe_id}/execute", headers=AUTH)
        assert response.status_code == 202, response.json()
        run_id: str = response.json()["runId"]
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"/api/recipe-runs/{run_id}").json()
        return body

    def steer(self, run_id: str, action: str) -> Any:
        return self.client.post(f"/api/recipe-runs/{run_id}/{action}", headers=AUTH)

    def run_until(self, run_id: str, state: str) -> dict[str, Any]:
        """Move the motion clock on until the run reaches ``state``."""

        def reached() -> dict[str, Any] | None:
            self.motion.advance(60.0)
            run = self.run(run_id)
            return run if run["state"] == state else None

        result: dict[str, Any] = wait_for(reached, 5.0, f"run {run_id} {state}")
        return result


@pytest.fixture
def rig() -> Iterator[Rig]:
    pumps = [
        PumpSettings(id=axis, name=f"pump {axis}", ml_per_mm=0.05, max_flow_ml_min=15.0)
        for axis in ("X", "Y", "Z", "A")
    ]
    settings = Settings(http=HttpSettings(token=TOKEN), pumps=pumps)
    app = bootstrap(settings.model_dump(mode="json"), wiring="fake")
    motion = ManualClock(start=datetime(2026, 11, 21, 12, tzinfo=UTC))
    controller = FakeMotionController(monotonic=motion.monotonic)
    app.adapters.controller.override(controller)
    with control_plane_running(app), TestClient(app.http_app()) as client:
        wait_for(
            lambda: client.get("/api/status").json()["controller"]["connected"],
            3.0,
            "the controller link",
        )
        yield Rig(client, controller, motion)


def error_of(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# Recipes: create, read, list, replace, delete


def test_a_recipe_round_trips_through_create_read_list_replace_and_delete(rig: Rig) -> None:
    created = rig.create(FEED_AND_RINSE)

    assert created == {
        **FEED_AND_RINSE,
        "estimatedDuration_sec": 0.8,
        "volumes_ml": {"X": 0.1, "Y": 0.1, "Z": 0.1},
    }
    assert rig.client.get("/api/recipes/feed-and-rinse").json() == created
    assert rig.client.get("/api/recipes").json() == {"recipes": [created]}

    renamed = {**FEED_AND_RINSE, "id": "ignored", "name": "Feed only", "steps": SLOW_FILL["steps"]}
    replaced = rig.client.put("/api/recipes/feed-and-rinse", json=renamed, headers=AUTH)
    assert replaced.status_code == 200
    assert (replaced.json()["id"], replaced.json()["name"]) == ("feed-and-rinse", "Feed only")
    assert replaced.json()["volumes_ml"] == {"X": 5.0}

    deleted = rig.client.delete("/api/recipes/feed-and-rinse", headers=AUTH)
    assert (deleted.status_code, deleted.content) == (204, b"")
    gone = rig.client.get("/api/recipes/feed-and-rinse")
    assert (gone.status_code, error_of(gone)["code"]) == (404, "unknown_recipe")


def test_a_recipe_posted_without_an_id_gets_one(rig: Rig) -> None:
    created = rig.create({k: v for k, v in SLOW_FILL.items() if k != "id"})

    assert created["id"]
    assert rig.client.get(f"/api/recipes/{created['id']}").status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"name": ""}, "name", id="empty-name"),
        pytest.param({"steps": []}, "steps", id="no-steps"),
        pytest.param({"colour": "red"}, "colour", id="unknown-field"),
        pytest.param(
            {"steps": [{"doses": [{"pump": "X", "volume": -1, "flowRate": 15}]}]},
            "steps[0].doses[0].volume",
            id="negative-volume",
        ),
        pytest.param(
            {"steps": [{"doses": [{"pump": "B", "volume": 1, "flowRate": 15}]}]},
            "steps[0].doses[0].pump",
            id="unconfigured-pump",
        ),
    ],
)
def test_a_bad_recipe_is_422_naming_the_field(rig: Rig, change: dict[str, Any], field: str) -> None:
    response = rig.client.post("/api/recipes", json={**SLOW_FILL, **change}, headers=AUTH)

    assert response.status_code == 422
    assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid_recipe", field)
    assert rig.client.get("/api/recipes").json() == {"recipes": []}


def test_a_body_that_is_not_a_json_object_is_400(rig: Rig) -> None:
    response = rig.client.post("/api/recipes", content=b"[1, 2]", headers=AUTH)

    assert (response.status_code, error_of(response)["code"]) == (400, "bad_request")


def test_creating_a_recipe_under_a_taken_id_is_409(rig: Rig) -> None:
    rig.create(SLOW_FILL)

    response = rig.client.post("/api/recipes", json=SLOW_FILL, headers=AUTH)

    assert (response.status_code, error_of(response)["code"]) == (409, "recipe_exists")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/recipes"),
        ("PUT", "/api/recipes/slow-fill"),
        ("DELETE", "/api/recipes/slow-fill"),
        ("POST", "/api/recipe/slow-fill/execute"),
        ("POST", "/api/recipe-runs/r-1/abort"),
        ("POST", "/api/recipe-examples/color-mix-a/load"),
    ],
)
def test_changing_anything_without_the_token_is_401(rig: Rig, method: str, path: str) -> None:
    rig.create(SLOW_FILL)

    response = rig.client.request(method, path, json=SLOW_FILL)

    assert (response.status_code, error_of(response)["code"]) == (401, "unauthorized")
    assert rig.client.get("/api/recipes/slow-fill").json()["name"] == "Slow fill"
    assert rig.controller.moves == []


# Runs


def test_a_two_step_recipe_with_a_parallel_step_runs_to_completion(rig: Rig) -> None:
    rig.create(FEED_AND_RINSE)

    response = rig.client.post("/api/recipe/feed-and-rinse/execute", json={}, headers=AUTH)

    assert response.status_code == 202
    run_id = response.json()["runId"]
    assert response.json() == {
        "runId": run_id,
        "recipeId": "feed-and-rinse",
        "recipeName": "Feed and rinse",
        "steps": 2,
        "estimatedDuration_sec": 0.8,
    }
    run = rig.run_until(run_id, "completed")
    assert run["step"] == 2 and run["stepsCompleted"] == 2 and run["steps"] == 2
    assert run["dispensed_ml"] == pytest.approx({"X": 0.1, "Y": 0.1, "Z": 0.1})
    assert run["totalVolume_ml"] == pytest.approx(0.3)
    assert (run["origin"], run["reason"]) == ("http", None)
    assert run["endedAt"] >= run["startedAt"]
    assert [sorted(distances) for distances, _ in rig.controller.moves] == [["X", "Y"], ["Z"]]
    assert rig.client.get("/api/recipe-runs").json() == {"runs": [run]}


def test_aborting_a_run_mid_step_ends_it_and_journals_its_dose_as_stopped(rig: Rig) -> None:
    rig.create(SLOW_FILL)
    run_id = rig.execute("slow-fill")
    [dose_id] = rig.run(run_id)["doseIds"]
    rig.motion.advance(10.0)  # half of the 20 s step

    response = rig.steer(run_id, "abort")

    assert response.status_code == 200
    assert response.json()["state"] == "aborted"
    assert response.json()["dispensed_ml"] == {"X": pytest.approx(2.5, abs=0.01)}
    doses = rig.client.get("/api/history").json()["doses"]
    [dose] = [d for d in doses if d["doseId"] == dose_id]
    assert (dose["outcome"], dose["recipeRunId"], dose["recipeStep"]) == ("stopped", run_id, 1)
    assert dose["actualVolume"] == pytest.approx(2.5, abs=0.01)


def test_a_paused_run_holds_its_step_and_completes_once_resumed(rig: Rig) -> None:
    rig.create(SLOW_FILL)
    run_id = rig.execute("slow-fill")
    rig.motion.advance(10.0)

    paused = rig.steer(run_id, "pause")
    rig.motion.advance(600.0)  # held: no motion however long the pause

    assert (paused.status_code, paused.json()["state"]) == (200, "paused")
    assert rig.run(run_id)["state"] == "paused"
    assert rig.steer(run_id, "resume").json()["state"] == "dosing"
    run = rig.run_until(run_id, "completed")
    assert run["dispensed_ml"] == {"X": pytest.approx(5.0)}


def test_resuming_a_run_that_is_not_paused_is_409(rig: Rig) -> None:
    rig.create(SLOW_FILL)
    run_id = rig.execute("slow-fill")

    response = rig.steer(run_id, "resume")

    assert (response.status_code, error_of(response)["code"]) == (409, "recipe_run_conflict")
    assert rig.run(run_id)["state"] == "dosing"


def test_a_second_run_while_one_runs_is_409(rig: Rig) -> None:
    rig.create(SLOW_FILL)
    rig.execute("slow-fill")

    response = rig.client.post("/api/recipe/slow-fill/execute", headers=AUTH)

    assert (response.status_code, error_of(response)["code"]) == (409, "pump_busy")
    assert len(rig.controller.moves) == 1


def test_unknown_recipes_and_runs_are_404(rig: Rig) -> None:
    for response in (
        rig.client.post("/api/recipe/nope/execute", headers=AUTH),
        rig.client.get("/api/recipe-runs/nope"),
        rig.steer("nope", "pause"),
    ):
        assert (response.status_code, error_of(response)["code"]) == (404, "unknown_recipe")


def test_runs_are_listed_newest_first_up_to_the_limit(rig: Rig) -> None:
    rig.create(FEED_AND_RINSE)
    first = rig.execute("feed-and-rinse")
    rig.run_until(first, "completed")
    second = rig.execute("feed-and-rinse")
    rig.run_until(second, "completed")

    runs = rig.client.get("/api/recipe-runs").json()["runs"]
    limited = rig.client.get("/api/recipe-runs?limit=1").json()["runs"]

    assert [r["runId"] for r in runs] == [second, first]
    assert [r["runId"] for r in limited] == [second]
    assert rig.client.get("/api/recipe-runs?limit=0").status_code == 400


# Examples


def test_an_example_is_listed_and_loads_into_the_stored_recipes(rig: Rig) -> None:
    examples = rig.client.get("/api/recipe-examples").json()["examples"]
    assert [e["id"] for e in examples] == ["cleaning-flush", "color-mix-a", "nutrient-mix"]

    response = rig.client.post("/api/recipe-examples/color-mix-a/load", headers=AUTH)

    assert response.status_code == 201
    assert response.json() == next(e for e in examples if e["id"] == "color-mix-a")
    assert rig.client.get("/api/recipes/color-mix-a").json()["name"] == "Color Mix A"
    again = rig.client.post("/api/recipe-examples/color-mix-a/load", headers=AUTH)
    assert (again.status_code, error_of(again)["code"]) == (409, "recipe_exists")
