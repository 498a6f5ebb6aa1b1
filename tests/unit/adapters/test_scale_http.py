"""The scale and dispense-by-weight endpoints through Starlette's TestClient, on the real
use cases and control plane wired with the fakes (the fake controller pours into the
bench's beaker on the fake scale)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bootstrap.containers import UseCases
from bootstrap.settings import HttpSettings, ScaleSettings, Settings
from support.daemon_harness import wait_for
from support.fake_daemon import PUMP_X, control_plane_running, fake_app

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app() -> Iterator[UseCases]:
    settings = Settings(
        pumps=[PUMP_X],
        http=HttpSettings(token=TOKEN),
        scale=ScaleSettings(slow_flow_ml_min=30.0),
    )
    with control_plane_running(fake_app(settings)) as app:
        wait_for(lambda: app.weigher().view.connected, 5, "the scale link")
        yield app


@pytest.fixture
def client(app: UseCases) -> TestClient:
    return TestClient(app.http_app())


def post(client: TestClient, path: str, body: Any = None) -> Any:
    return client.post(path, json=body, headers=AUTH)


def test_the_scale_reads_the_empty_beaker_and_tares_to_zero(client: TestClient) -> None:
    def stable_reading() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get("/api/scale").json()
        return body if body["stable"] else None

    assert wait_for(stable_reading, 5, "a stable weight")["weight"] == pytest.approx(50.0)
    tared = post(client, "/api/scale/tare")
    assert tared.status_code == 200 and tared.json()["tareWeight"] == pytest.approx(50.0)
    assert client.get("/api/scale").json()["weight"] == pytest.approx(0.0, abs=0.01)
    assert client.get("/api/status").json()["scale"]["connected"] is True


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"pump": "X"}, 422, "targetGrams"),
        ({"pump": "X", "targetGrams": "5"}, 422, "targetGrams"),
        ({"pump": "X", "targetGrams": -1}, 422, "targetGrams"),
        ({"pump": "X", "targetGrams": 5, "tolerance": 6}, 422, "tolerance"),
        ({"pump": "X", "targetGrams": 5, "flowRate": 500}, 422, "flowRate"),
        ({"pump": "X", "targetGrams": 1e6}, 422, "targetGrams"),
        ({"targetGrams": 5}, 422, "pump"),
        ({"pump": "Q", "targetGrams": 5}, 404, None),
    ],
)
def test_a_bad_weight_request_is_refused_and_nothing_moves(
    app: UseCases, client: TestClient, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = post(client, "/api/dispense/weight", body)
    assert response.status_code == status, response.json()
    assert response.json()["error"].get("field") == field
    assert app.adapters.controller().moves == []


def test_a_body_that_is_not_json_is_a_400_and_no_token_a_401(client: TestClient) -> None:
    garbage = client.post("/api/dispense/weight", content=b"{not json", headers=AUTH)
    assert garbage.status_code == 400
    anonymous = client.post("/api/dispense/weight", json={"pump": "X", "targetGrams": 1})
    assert anonymous.status_code == 401


def test_a_dispense_by_weight_runs_to_the_target_and_reports_its_accuracy(
    app: UseCases, client: TestClient
) -> None:
    started = post(client, "/api/dispense/weight", {"pump": "X", "targetGrams": 2})
    assert started.status_code == 202, started.json()
    run_id = started.json()["runId"]
    assert started.json()["tolerance"] == 0.05
    busy = post(client, "/api/pump/X/dispense", {"volume": 1, "flowRate": 10})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "pump_busy"

    def result() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/api/dispense/weight/{run_id}").json()
        return body["result"]

    ended = wait_for(result, 30, "the dispense by weight to end")
    assert ended["outcome"] == "completed"
    assert abs(ended["actualWeight_g"] - 2.0) <= 0.05
    assert ended["accuracy_percent"] >= 97.5
    again = post(client, f"/api/dispense/weight/{run_id}/abort")
    assert again.status_code == 409


def test_an_aborted_dispense_stops_the_pump_and_says_so(app: UseCases, client: TestClient) -> None:
    run_id = post(client, "/api/dispense/weight", {"pump": "X", "targetGrams": 20}).json()["runId"]
    wait_for(lambda: app.adapters.bench().beaker_liquid_g() > 0.5, 10, "liquid to arrive")
    aborted = post(client, f"/api/dispense/weight/{run_id}/abort")
    assert aborted.status_code == 200
    assert aborted.json()["result"]["outcome"] == "aborted"
    assert app.report_status().execute().snapshot.pumps[0].dose_id is None


def test_an_unknown_run_is_a_404(client: TestClient) -> None:
    response = client.get("/api/dispense/weight/no-such-run")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_scale_run"


def test_calibration_from_the_scale_refuses_flow_rates_that_are_not_numbers(
    client: TestClient,
) -> None:
    response = post(client, "/api/pump/X/calibration/scale", {"flowRates": ["fast"]})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "flowRates"
