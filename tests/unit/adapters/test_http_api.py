"""The HTTP API through Starlette's TestClient, on the real use cases and control plane
wired with the fakes (time-driven fake controller, in-memory journal)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from adapters.fakes import FakeMotionController, InMemoryJournal
from bootstrap.containers import UseCases, bootstrap
from bootstrap.settings import HttpSettings, PumpSettings, Settings
from domain.journal import DoseRecord
from support.fake_daemon import control_plane_running

TOKEN = "pump-room-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# 0.1 ml at 15 ml/min on 0.05 ml/mm: 2 mm at 300 mm/min, done in 0.4 s.
QUICK_DOSE = {"volume": 0.1, "flowRate": 15.0}
# 5 ml at 15 ml/min: 20 s, long enough to catch it running.
LONG_DOSE = {"volume": 5.0, "flowRate": 15.0}


@dataclass
class Rig:
    client: TestClient
    controller: FakeMotionController
    journal: InMemoryJournal
    app: UseCases


def fake_app(token: str = TOKEN) -> UseCases:
    """The daemon's container wired on the fakes, with pumps X and Y."""
    pumps = [
        PumpSettings(id=axis, name=name, ml_per_mm=0.05, max_flow_ml_min=15.0)
        for axis, name in (("X", "DMDEE"), ("Y", "T-12"))
    ]
    settings = Settings(http=HttpSettings(token=token), pumps=pumps)
    return bootstrap(settings.model_dump(mode="json"), wiring="fake")


@pytest.fixture
def rig() -> Iterator[Rig]:
    with control_plane_running(fake_app()) as app, TestClient(app.http_app()) as client:
        wait_for(lambda: client.get("/api/status").json()["controller"]["connected"])
        yield Rig(client, app.adapters.controller(), app.adapters.journal(), app)


def wait_for(condition: Callable[[], Any], timeout_s: float = 3.0) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_s`` (s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.02)
    pytest.fail(f"condition not met within {timeout_s} s")


def dose_in_history(client: TestClient, dose_id: str, outcome: str) -> dict[str, Any] | None:
    doses = client.get("/api/history").json()["doses"]
    return next((d for d in doses if d["doseId"] == dose_id and d["outcome"] == outcome), None)


def pump(client: TestClient, pump_id: str) -> dict[str, Any]:
    pumps: list[dict[str, Any]] = client.get("/api/pumps").json()
    return next(p for p in pumps if p["id"] == pump_id)


# Status and pumps


def test_status_reports_idle_state_uptime_controller_and_pumps(rig: Rig) -> None:
    response = rig.client.get("/api/status")

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "IDLE"
    assert body["uptimeSec"] >= 0
    assert body["controller"] == {"connected": True, "state": "Idle", "detail": None}
    assert [p["id"] for p in body["pumps"]] == ["X", "Y"]


def test_pumps_lists_each_pump_with_calibration_and_limits(rig: Rig) -> None:
    response = rig.client.get("/api/pumps")

    assert response.status_code == 200
    assert response.json()[0] == {
        "id": "X",
        "name": "DMDEE",
        "state": "idle",
        "doseId": None,
        "requestedVolume": None,
        "dispensedVolume": None,
        "flowRate": None,
        "mlPerMm": 0.05,
        "maxFlowRate": 15.0,
        "maxDoseVolume": 500.0,
        "fault": None,
        "calibration": {"source": "config", "valid": True},
        "limits": {
            "maxDoseVolume": 500.0,
            "maxFlowRate": 15.0,
            "maxVolumePerHour": None,
            "maxVolumePerDay": None,
            "usedLastHour": 0.0,
            "usedLastDay": 0.0,
        },
        "reservoir": None,
    }


def test_healthz_is_ok_and_reports_the_controller_link(rig: Rig) -> None:
    response = rig.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "controller": True}


# Dosing


def test_dispense_is_accepted_with_a_dose_id_and_the_system_is_dispensing(rig: Rig) -> None:
    response = rig.client.post("/api/pump/X/dispense", json=LONG_DOSE, headers=AUTH)

    assert response.status_code == 202
    dose_id = response.json()["doseId"]
    assert rig.client.get("/api/status").json()["state"] == "DISPENSING"
    assert pump(rig.client, "X")["doseId"] == dose_id
    assert rig.controller.moves == [({"X": 100.0}, 300.0)]


def test_a_completed_dose_appears_in_history_with_its_actual_volume(rig: Rig) -> None:
    dose_id = rig.client.post("/api/pump/X/dispense", json=QUICK_DOSE, headers=AUTH).json()[
        "doseId"
    ]

    record = wait_for(lambda: dose_in_history(rig.client, dose_id, "completed"))

    assert record["pump"] == "X"
    assert record["requestedVolume"] == 0.1
    assert record["actualVolume"] == pytest.approx(0.1, abs=1e-6)
    assert record["flowRate"] == 15.0
    assert record["startedAt"].endswith("Z")
    assert record["endedAt"] >= record["startedAt"]
    assert rig.client.get("/api/status").json()["state"] == "IDLE"


def test_stopping_mid_dose_journals_a_stopped_dose_with_part_of_the_volume(rig: Rig) -> None:
    dose_id = rig.client.post("/api/pump/X/dispense", json=LONG_DOSE, headers=AUTH).json()["doseId"]
    wait_for(lambda: (pump(rig.client, "X")["dispensedVolume"] or 0) > 0)

    response = rig.client.post("/api/pump/X/stop", headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {"stopped": True, "pump": "X"}
    record = dose_in_history(rig.client, dose_id, "stopped")
    assert record is not None
    assert 0 < record["actualVolume"] < 5.0


def test_stopping_an_idle_pump_is_a_harmless_success(rig: Rig) -> None:
    response = rig.client.post("/api/pump/Y/stop", headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {"stopped": True, "pump": "Y"}


def test_a_second_dose_while_one_runs_is_refused_with_409(rig: Rig) -> None:
    rig.client.post("/api/pump/X/dispense", json=LONG_DOSE, headers=AUTH)

    response = rig.client.post("/api/pump/X/dispense", json=QUICK_DOSE, headers=AUTH)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "pump_busy"
    assert len(rig.controller.moves) == 1


def test_a_controller_rejection_is_409_with_the_controller_error_number(rig: Rig) -> None:
    rig.controller.reject_with = 22

    response = rig.client.post("/api/pump/X/dispense", json=QUICK_DOSE, headers=AUTH)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "controller_error"
    assert response.json()["error"]["controllerError"] == 22


# Refusals: nothing moves


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        pytest.param({"volume": 0, "flowRate": 5}, 422, "invalid_dose", "volume", id="zero"),
        pytest.param({"volume": 1, "flowRate": -5}, 422, "invalid_dose", "flowRate", id="neg"),
        pytest.param({"volume": "1", "flowRate": 5}, 422, "invalid_dose", "volume", id="str"),
        pytest.param({"volume": True, "flowRate": 5}, 422, "invalid_dose", "volume", id="bool"),
        pytest.param({"volume": None, "flowRate": 5}, 422, "invalid_dose", "volume", id="null"),
        pytest.param({"volume": 1}, 422, "invalid_dose", "flowRate", id="missing-field"),
        pytest.param({"volume": 1, "flowRate": 16}, 422, "limit_exceeded", "flowRate", id="fast"),
        pytest.param({"volume": 501, "flowRate": 5}, 422, "limit_exceeded", "volume", id="large"),
        pytest.param({"volume": 10**400, "flowRate": 5}, 422, "invalid_dose", "volume", id="huge"),
        pytest.param(
            b'{"volume": 1e400, "flowRate": 5}', 422, "invalid_dose", "volume", id="1e400"
        ),
        pytest.param(b'{"volume": NaN, "flowRate": 5}', 400, "bad_request", None, id="nan"),
        pytest.param(b'{"volume": 1, "flowRate": Infinity}', 400, "bad_request", None, id="inf"),
        pytest.param(b'{"volume": -Infinity, "flowRate": 5}', 400, "bad_request", None, id="-inf"),
        pytest.param([1, 5], 400, "bad_request", None, id="non-object"),
        pytest.param(b'{"volume": 1,', 400, "bad_request", None, id="invalid-json"),
        pytest.param(b"", 400, "bad_request", None, id="empty-body"),
        pytest.param(b"\xff\xfe\x00", 400, "bad_request", None, id="not-utf8"),
        pytest.param(b"[" * 10_000, 400, "bad_request", None, id="deep-nesting"),
    ],
)
def test_a_refused_dose_gets_its_status_and_code_and_moves_nothing(
    rig: Rig, body: object, status: int, code: str, field: str | None
) -> None:
    if isinstance(body, bytes):
        response = rig.client.post("/api/pump/X/dispense", content=body, headers=AUTH)
    else:
        response = rig.client.post("/api/pump/X/dispense", json=body, headers=AUTH)

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error.get("field") == field
    assert rig.controller.moves == []


def test_a_dose_for_an_unknown_pump_is_404_and_moves_nothing(rig: Rig) -> None:
    response = rig.client.post("/api/pump/Q/dispense", json=QUICK_DOSE, headers=AUTH)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_pump"
    assert rig.controller.moves == []


def test_an_oversized_body_is_refused_with_413(rig: Rig) -> None:
    body = b'{"volume": 1, "flowRate": 5, "pad": "' + b"x" * 20_000 + b'"}'

    response = rig.client.post("/api/pump/X/dispense", content=body, headers=AUTH)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert rig.controller.moves == []


# Auth


def test_a_dose_without_a_token_is_401_with_a_bearer_challenge(rig: Rig) -> None:
    response = rig.client.post("/api/pump/X/dispense", json=QUICK_DOSE)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert rig.controller.moves == []


def test_a_dose_with_a_wrong_token_is_401(rig: Rig) -> None:
    headers = {"Authorization": "Bearer not-the-token"}

    response = rig.client.post("/api/pump/X/dispense", json=QUICK_DOSE, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert rig.controller.moves == []


def test_a_stop_without_a_token_is_401(rig: Rig) -> None:
    response = rig.client.post("/api/pump/X/stop")

    assert response.status_code == 401


def test_a_dose_with_the_right_token_is_accepted(rig: Rig) -> None:
    headers = {"Authorization": f"bearer {TOKEN}"}  # the scheme is case-insensitive

    response = rig.client.post("/api/pump/X/dispense", json=QUICK_DOSE, headers=headers)

    assert response.status_code == 202


def test_an_empty_token_is_refused_when_building_the_app() -> None:
    with pytest.raises(ValueError, match="token"):
        fake_app(token="").http_app()


# History queries


def test_history_limit_returns_the_newest_doses_first(rig: Rig) -> None:
    ids = []
    for _ in range(2):
        ids.append(
            rig.client.post("/api/pump/X/dispense", json=QUICK_DOSE, headers=AUTH).json()["doseId"]
        )
        wait_for(lambda: dose_in_history(rig.client, ids[-1], "completed"))

    doses = rig.client.get("/api/history", params={"limit": 1}).json()["doses"]

    assert [d["doseId"] for d in doses] == [ids[-1]]


def test_history_since_a_naive_time_is_read_as_utc(rig: Rig) -> None:
    rig.client.post("/api/pump/X/dispense", json=QUICK_DOSE, headers=AUTH)

    past = rig.client.get("/api/history", params={"since": "2000-01-01T00:00:00"})
    future = rig.client.get("/api/history", params={"since": "2999-01-01T00:00:00"})

    assert len(past.json()["doses"]) == 1
    assert future.json()["doses"] == []


@pytest.mark.parametrize(
    "params",
    [{"limit": "ten"}, {"limit": "0"}, {"limit": "-1"}, {"limit": "9" * 5000}, {"since": "soon"}],
    ids=["word", "zero", "negative", "5000-digits", "bad-since"],
)
def test_history_with_a_bad_query_is_400(rig: Rig, params: dict[str, str]) -> None:
    response = rig.client.get("/api/history", params=params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


# Routing and unexpected errors


def test_an_unknown_route_is_a_json_404(rig: Rig) -> None:
    response = rig.client.get("/api/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(rig: Rig) -> None:
    response = rig.client.get("/api/pump/X/dispense")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST"


class _BrokenJournal(InMemoryJournal):
    def history(self, *, limit: int, since: datetime | None = None) -> list[DoseRecord]:
        raise RuntimeError("disk on fire")


def test_an_unexpected_error_is_a_generic_json_500() -> None:
    app = fake_app()
    with app.adapters.journal.override(_BrokenJournal()):
        response = TestClient(app.http_app()).get("/api/history")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "disk" not in response.json()["error"]["message"]
