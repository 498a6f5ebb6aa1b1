"""The daemon serves its dashboard, its outbox depth and its timing figures over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from bootstrap.containers import bootstrap
from bootstrap.settings import HttpSettings, PumpSettings, Settings
from support.daemon_harness import wait_for
from support.fake_daemon import control_plane_running

TOKEN = "dashboard-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUICK_DOSE = {"volume": 0.1, "flowRate": 15.0}  # 2 mm at 300 mm/min: 0.4 s


@pytest.fixture
def client() -> Iterator[TestClient]:
    pump = PumpSettings(id="X", name="DMDEE", ml_per_mm=0.05, max_flow_ml_min=15.0)
    settings = Settings(http=HttpSettings(token=TOKEN), pumps=[pump])
    app = bootstrap(settings.model_dump(mode="json"), wiring="fake")
    with control_plane_running(app), TestClient(app.http_app()) as client:
        wait_for(lambda: client.get("/api/status").json()["controller"]["connected"], 3, "link")
        yield client


def test_the_dashboard_is_served_at_the_root_and_revalidated_on_every_load(
    client: TestClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert "/static/app.js" in page.text


def test_the_dashboard_assets_are_served_gzipped_from_the_package(client: TestClient) -> None:
    script = client.get("/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200
    assert script.headers["content-encoding"] == "gzip"
    assert "javascript" in script.headers["content-type"]
    assert client.get("/static/missing.js").status_code == 404


def test_a_token_can_be_checked_without_changing_anything(client: TestClient) -> None:
    assert client.post("/api/auth/check", headers=AUTH).status_code == 204
    wrong = client.post("/api/auth/check", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert client.post("/api/auth/check").status_code == 401


def test_status_shows_how_many_messages_wait_in_the_outbox(client: TestClient) -> None:
    before = client.get("/api/status").json()["mqtt"]["outboxDepth"]
    assert isinstance(before, int)
    response = client.post("/api/pump/X/dispense", json=QUICK_DOSE, headers=AUTH)
    assert response.status_code == 202
    # the dose's start and completion events are queued for the broker (none drains here)
    wait_for(
        lambda: client.get("/api/status").json()["mqtt"]["outboxDepth"] >= before + 2,
        3,
        "the dose's events in the outbox",
    )


def test_timing_figures_are_open_to_read_and_reset_only_with_the_token(
    client: TestClient,
) -> None:
    wait_for(
        lambda: client.get("/api/diagnostics/timing").json()["controlTick"]["samples"] > 0,
        5,
        "a timed control tick",
    )
    figures = client.get("/api/diagnostics/timing").json()
    assert set(figures) == {"controlTick"}  # no LEDs configured
    assert set(figures["controlTick"]) == {"samples", "p50Ms", "p99Ms", "maxMs"}
    assert client.post("/api/diagnostics/timing/reset").status_code == 401
    assert client.post("/api/diagnostics/timing/reset", headers=AUTH).status_code == 204
