"""The calibration endpoints through Starlette's TestClient, on the real use cases with an
in-memory NVS and journal and a stub control plane: shapes, status codes, error fields."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from adapters.fakes import InMemoryJournal, InMemoryNvs, ManualClock
from adapters.http.calibration_routes import CalibrationEndpoints, calibration_routes
from adapters.http.errors import exception_handlers
from application.calibrate_pump import (
    AddCalibrationPoint,
    DeleteCalibration,
    ReadCalibration,
    RecordCalibrationRun,
    ReplaceCalibration,
    RunCalibration,
)
from application.calibration_book import CalibrationBook
from domain.errors import LimitExceeded, LimitReached
from domain.events import DoseKind, DoseOutcome
from domain.journal import DoseRecord

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)
THREE_POINTS = {
    "points": [
        {"flowRate": 40.0, "mlPerMm": 0.036},
        {"flowRate": 10.0, "mlPerMm": 0.05},
        {"flowRate": 20.0, "mlPerMm": 0.04},
    ]
}


class Journal(InMemoryJournal):
    """The in-memory journal with ``get`` (the port's lookup by dose id)."""

    def get(self, dose_id: str) -> DoseRecord | None:
        return self.records.get(dose_id)


class StubControl:
    """Stands in for the control plane: every calibration run gets the id ``run-1``."""

    def request(self, command: Any, timeout_s: float = 5.0) -> str:
        return "run-1"


@dataclass
class Rig:
    client: TestClient
    journal: Journal


@pytest.fixture
def rig() -> Iterator[Rig]:
    book = CalibrationBook(InMemoryNvs(), ManualClock(T0), {"X": 0.05, "Y": None})
    journal = Journal()
    endpoints = CalibrationEndpoints(
        read=ReadCalibration(book),
        replace=ReplaceCalibration(book),
        add_point=AddCalibrationPoint(book),
        delete=DeleteCalibration(book),
        run=RunCalibration(book, StubControl()),  # type: ignore[arg-type]
        record=RecordCalibrationRun(book, journal),
    )
    app = Starlette(routes=calibration_routes(endpoints), exception_handlers=exception_handlers())
    with TestClient(app) as client:
        yield Rig(client, journal)


def error_of(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def finish_run(journal: Journal, run_id: str, outcome: DoseOutcome) -> None:
    journal.dose_started(
        DoseRecord(run_id, "X", 1.0, 15.0, T0, outcome=outcome, kind=DoseKind.CALIBRATION)
    )


# GET and DELETE


def test_get_shows_the_configured_calibration(rig: Rig) -> None:
    response = rig.client.get("/api/pump/X/calibration")

    assert response.status_code == 200
    assert response.json() == {
        "pump": "X",
        "source": "config",
        "valid": True,
        "updatedAt": None,
        "defaultMlPerMm": 0.05,
        "points": [],
    }


def test_get_shows_an_uncalibrated_pump_as_not_valid(rig: Rig) -> None:
    body = rig.client.get("/api/pump/Y/calibration").json()

    assert (body["source"], body["valid"], body["defaultMlPerMm"]) == ("none", False, None)


def test_an_unknown_pump_is_404(rig: Rig) -> None:
    response = rig.client.get("/api/pump/Q/calibration")

    assert response.status_code == 404
    assert error_of(response)["code"] == "unknown_pump"


def test_delete_falls_back_to_the_config(rig: Rig) -> None:
    rig.client.post("/api/pump/X/calibration", json=THREE_POINTS)

    response = rig.client.delete("/api/pump/X/calibration")

    assert response.status_code == 200
    assert response.json()["source"] == "config"
    assert rig.client.get("/api/pump/X/calibration").json()["points"] == []


# POST: replace and add


def test_posting_points_replaces_the_curve_and_reports_residuals(rig: Rig) -> None:
    response = rig.client.post("/api/pump/X/calibration", json=THREE_POINTS)

    assert response.status_code == 200
    body = response.json()
    assert (body["source"], body["valid"]) == ("nvs", True)
    assert body["updatedAt"] == "2026-11-21T12:00:00.000Z"
    assert body["points"] == [
        {"flowRate": 10.0, "mlPerMm": 0.05, "predictedMlPerMm": 0.04, "residualPercent": 25.0},
        {
            "flowRate": 20.0,
            "mlPerMm": 0.04,
            "predictedMlPerMm": pytest.approx(0.0453333333),
            "residualPercent": -11.765,
        },
        {"flowRate": 40.0, "mlPerMm": 0.036, "predictedMlPerMm": 0.04, "residualPercent": -10.0},
    ]
    assert rig.client.get("/api/pump/X/calibration").json() == body


def test_posting_one_point_adds_it(rig: Rig) -> None:
    response = rig.client.post("/api/pump/Y/calibration", json={"flowRate": 12.0, "mlPerMm": 0.03})

    assert response.status_code == 200
    assert response.json()["points"] == [
        {"flowRate": 12.0, "mlPerMm": 0.03, "predictedMlPerMm": None, "residualPercent": None}
    ]
    assert response.json()["valid"] is True


# POST: a calibration run and its measurement


def test_a_run_at_a_flow_rate_is_accepted_with_its_feed_and_expected_volume(rig: Rig) -> None:
    response = rig.client.post(
        "/api/pump/X/calibration/run", json={"distance": 20, "flowRate": 15.0}
    )

    assert response.status_code == 202
    assert response.json() == {
        "runId": "run-1",
        "pump": "X",
        "distance": 20.0,
        "feedRate": 300.0,
        "expectedVolume": pytest.approx(1.0),
    }


def test_a_run_at_a_feed_on_an_uncalibrated_pump_has_no_expected_volume(rig: Rig) -> None:
    response = rig.client.post(
        "/api/pump/Y/calibration/run", json={"distance": 50.0, "feedRate": 200.0}
    )

    assert response.status_code == 202
    assert response.json()["expectedVolume"] is None


def test_a_run_at_a_flow_rate_on_an_uncalibrated_pump_is_409(rig: Rig) -> None:
    response = rig.client.post(
        "/api/pump/Y/calibration/run", json={"distance": 50.0, "flowRate": 10.0}
    )

    assert response.status_code == 409
    assert error_of(response)["code"] == "not_calibrated"
    assert "/api/pump/Y/calibration/run" in error_of(response)["message"]


def test_the_measured_volume_of_a_completed_run_becomes_a_point(rig: Rig) -> None:
    rig.client.post("/api/pump/X/calibration/run", json={"distance": 20.0, "feedRate": 300.0})
    finish_run(rig.journal, "run-1", DoseOutcome.COMPLETED)

    response = rig.client.post(
        "/api/pump/X/calibration", json={"runId": "run-1", "measuredVolume": 1.1}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["measurement"] == {
        "runId": "run-1",
        "distance": 20.0,
        "feedRate": 300.0,
        "measuredVolume": 1.1,
        "flowRate": pytest.approx(16.5),
        "mlPerMm": pytest.approx(0.055),
        "predictedVolume": 1.0,
        "residualVolume": 0.1,
        "residualPercent": 10.0,
    }
    assert body["source"] == "nvs"
    assert body["points"][0]["flowRate"] == pytest.approx(16.5)


def test_a_run_still_running_cannot_be_recorded(rig: Rig) -> None:
    rig.client.post("/api/pump/X/calibration/run", json={"distance": 20.0, "feedRate": 300.0})
    finish_run(rig.journal, "run-1", DoseOutcome.RUNNING)

    response = rig.client.post(
        "/api/pump/X/calibration", json={"runId": "run-1", "measuredVolume": 1.1}
    )

    assert response.status_code == 422
    assert error_of(response)["field"] == "runId"
    assert "still running" in error_of(response)["message"]


# Refusals


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"volume": 1.0}, "body"),
        ({"flowRate": 10.0, "mlPerMm": 0.05, "runId": "run-1"}, "body"),
        ({"points": [], "flowRate": 10.0}, "body"),
        ({"flowRate": 10.0}, "mlPerMm"),
        ({"flowRate": True, "mlPerMm": 0.05}, "flowRate"),
        ({"flowRate": "10", "mlPerMm": 0.05}, "flowRate"),
        ({"flowRate": None, "mlPerMm": 0.05}, "flowRate"),
        ({"flowRate": 10.0, "mlPerMm": -0.05}, "mlPerMm"),
        ({"flowRate": 10.0, "mlPerMm": 0}, "mlPerMm"),
        ({"points": {"flowRate": 10.0}}, "points"),
        ({"points": []}, "points"),
        ({"points": [{"flowRate": 10.0, "mlPerMm": 0.05}, 3]}, "points[1]"),
        ({"points": [{"flowRate": 10.0, "mlPerMm": 0.05}, {"flowRate": 20}]}, "points[1].mlPerMm"),
        ({"points": [{"flowRate": 0, "mlPerMm": 0.05}]}, "points[0].flowRate"),
        (
            {"points": [{"flowRate": 10, "mlPerMm": 0.05}, {"flowRate": 10.05, "mlPerMm": 0.04}]},
            "flowRate",
        ),
        ({"runId": "", "measuredVolume": 1.0}, "runId"),
        ({"runId": 7, "measuredVolume": 1.0}, "runId"),
        ({"runId": "run-9", "measuredVolume": 1.0}, "runId"),
        ({"runId": "run-1", "measuredVolume": False}, "measuredVolume"),
    ],
)
def test_a_calibration_body_that_breaks_a_rule_is_422_naming_the_field(
    rig: Rig, body: dict[str, Any], field: str
) -> None:
    response = rig.client.post("/api/pump/X/calibration", json=body)

    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_calibration"
    assert error_of(response)["field"] == field
    assert rig.client.get("/api/pump/X/calibration").json()["source"] == "config"


def test_a_body_matching_no_shape_says_what_is_expected(rig: Rig) -> None:
    response = rig.client.post("/api/pump/X/calibration", json={"volume": 1.0})

    message = error_of(response)["message"]
    assert '"points"' in message and '"runId"' in message and '"mlPerMm"' in message


def test_an_infinite_number_is_422(rig: Rig) -> None:
    response = rig.client.post(
        "/api/pump/X/calibration", content=b'{"flowRate": 1e999, "mlPerMm": 0.05}'
    )

    assert response.status_code == 422
    assert error_of(response)["field"] == "flowRate"


@pytest.mark.parametrize(
    "content", [b"{", b'{"flowRate": NaN, "mlPerMm": 0.05}', b"[1, 2]", b"\xff"]
)
def test_a_body_that_is_not_a_json_object_is_400(rig: Rig, content: bytes) -> None:
    response = rig.client.post("/api/pump/X/calibration", content=content)

    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"feedRate": 300.0}, "distance"),
        ({"distance": "20", "feedRate": 300.0}, "distance"),
        ({"distance": 0, "feedRate": 300.0}, "distance"),
        ({"distance": 20_000, "feedRate": 300.0}, "distance"),
        ({"distance": 20.0}, "flowRate"),
        ({"distance": 20.0, "flowRate": 15.0, "feedRate": 300.0}, "flowRate"),
        ({"distance": 20.0, "feedRate": True}, "feedRate"),
        ({"distance": 20.0, "feedRate": -300.0}, "feedRate"),
    ],
)
def test_a_run_body_that_breaks_a_rule_is_422_naming_the_field(
    rig: Rig, body: dict[str, Any], field: str
) -> None:
    response = rig.client.post("/api/pump/X/calibration/run", json=body)

    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_calibration"
    assert error_of(response)["field"] == field


# Error mapping of the safety limits (adapters.http.errors)


def limit_client(error: Exception) -> TestClient:
    async def refuse(request: Request) -> Response:
        raise error

    routes = [Route("/refuse", refuse, methods=["POST"])]
    return TestClient(Starlette(routes=routes, exception_handlers=exception_handlers()))


def test_a_limit_exceeded_is_422_with_its_rule_and_field() -> None:
    error = LimitExceeded("at most 50 ml at once", field="volume", rule="max_dose")

    response = limit_client(error).post("/refuse")

    assert response.status_code == 422
    assert error_of(response) == {
        "code": "limit_exceeded",
        "message": "at most 50 ml at once",
        "field": "volume",
        "rule": "max_dose",
    }


def test_a_limit_reached_is_409_with_its_rule() -> None:
    response = limit_client(LimitReached("reservoir empty", rule="reservoir_empty")).post("/refuse")

    assert response.status_code == 409
    assert error_of(response) == {
        "code": "limit_reached",
        "message": "reservoir empty",
        "rule": "reservoir_empty",
    }
