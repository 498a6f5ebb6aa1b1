"""WS /ws through Starlette's TestClient, on the real use cases and control plane wired with
the fakes: the status feed and its cadence, and commands with the token."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from adapters.fakes import FakeMotionController
from adapters.http import ws_routes
from bootstrap.containers import UseCases, bootstrap
from bootstrap.settings import HttpSettings, PumpSettings, Settings
from domain.status import SystemState
from support.daemon_harness import wait_for
from support.fake_daemon import control_plane_running

TOKEN = "pump-room-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# 5 ml at 15 ml/min on 0.05 ml/mm: 20 s, long enough to catch it running.
LONG_DOSE = {"volume": 5.0, "flowRate": 15.0}
Socket = Any  # starlette.testclient.WebSocketTestSession


@dataclass
class HoldRecordingController(FakeMotionController):
    """The fake controller, counting feed holds written from the event loop's own thread
    (the WS handler's ``hold_now``) apart from those written from worker threads."""

    holds_from_event_loop: int = 0

    def feed_hold(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            self.holds_from_event_loop += 1
        super().feed_hold()


@dataclass
class Rig:
    client: TestClient
    controller: HoldRecordingController
    app: UseCases


@pytest.fixture
def rig() -> Iterator[Rig]:
    pumps = [PumpSettings(id="X", name="DMDEE", ml_per_mm=0.05, max_flow_ml_min=15.0)]
    settings = Settings(http=HttpSettings(token=TOKEN), pumps=pumps)
    app = bootstrap(settings.model_dump(mode="json"), wiring="fake")
    controller = HoldRecordingController()
    app.adapters.controller.override(controller)
    with control_plane_running(app), TestClient(app.http_app()) as client:
        wait_for(
            lambda: client.get("/api/status").json()["controller"]["connected"],
            3.0,
            "the controller link",
        )
        yield Rig(client, controller, app)


def command(ws: Socket, action: str, token: str | None = TOKEN, **fields: Any) -> dict[str, Any]:
    """Send a command with id "c-1" and return its result (status messages are skipped)."""
    message = {"type": "command", "action": action, "id": "c-1", **fields}
    if token is not None:
        message["token"] = token
    ws.send_json(message)
    return next_result(ws)


def next_result(ws: Socket) -> dict[str, Any]:
    while (message := ws.receive_json())["type"] != "result":
        pass
    return message


def next_status(ws: Socket) -> dict[str, Any]:
    while (message := ws.receive_json())["type"] != "status":
        pass
    return message["data"]


# Status feed


def test_the_first_message_is_the_status_body_of_get_api_status(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        first = ws.receive_json()

    assert first["type"] == "status"
    http_body = rig.client.get("/api/status").json()
    assert first["data"].keys() == http_body.keys()
    assert first["data"]["state"] == "IDLE"
    assert [p["id"] for p in first["data"]["pumps"]] == ["X"]


def test_status_comes_faster_in_emergency_than_when_idle(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The period the feed waits after each status, recorded rather than timed: 1 s idle,
    # 0.1 s in an emergency (DESIGN 4: 1 Hz / 10 Hz).
    periods: list[float] = []
    real_until_due = ws_routes._Session.until_due

    async def recording(session: Any, period_s: float, sent: SystemState | None) -> None:
        periods.append(period_s)
        await real_until_due(session, period_s, sent)

    monkeypatch.setattr(ws_routes._Session, "until_due", recording)
    with rig.client.websocket_connect("/ws") as ws:
        assert next_status(ws)["state"] == "IDLE"
        assert command(ws, "emergency-stop")["ok"] is True
        while next_status(ws)["state"] != "EMERGENCY":
            pass
        next_status(ws)  # the wait after an EMERGENCY status has begun by now

    idle, emergency = periods[0], periods[-1]
    assert idle == 1.0
    assert emergency == 0.1
    assert ws_routes.STATUS_PERIOD_S[SystemState.DISPENSING] == 0.2


def test_a_dose_started_elsewhere_is_reported_without_waiting_for_the_idle_period(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An idle period longer than the test's own timeout: only the state change can bring
    # the next status message.
    monkeypatch.setitem(ws_routes.STATUS_PERIOD_S, SystemState.IDLE, 3600.0)
    with rig.client.websocket_connect("/ws") as ws:
        assert next_status(ws)["state"] == "IDLE"
        response = rig.client.post(
            "/api/pump/X/dispense", json={"volume": 1.0, "flowRate": 10.0}, headers=AUTH
        )
        assert response.status_code == 202
        assert next_status(ws)["state"] == "DISPENSING"


# Emergency stop


def test_an_emergency_stop_over_ws_holds_first_latches_and_stops_the_dose(rig: Rig) -> None:
    response = rig.client.post("/api/pump/X/dispense", json=LONG_DOSE, headers=AUTH)
    dose_id = response.json()["doseId"]
    wait_for(
        lambda: (rig.client.get("/api/pumps").json()[0]["dispensedVolume"] or 0) > 0,
        3.0,
        "the dose to flow",
    )

    with rig.client.websocket_connect("/ws") as ws:
        result = command(ws, "emergency-stop")
        state = next_status(ws)["state"]

    assert result == {
        "type": "result",
        "id": "c-1",
        "ok": True,
        "state": "EMERGENCY",
        "latched": True,
    }
    assert rig.controller.holds_from_event_loop == 1
    assert state == "EMERGENCY"
    [row] = rig.client.get("/api/history").json()["doses"]
    assert (row["doseId"], row["outcome"]) == (dose_id, "stopped")
    assert 0 < row["actualVolume"] < LONG_DOSE["volume"]


def test_while_latched_a_ws_dose_is_refused_and_the_ws_reset_releases(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        command(ws, "emergency-stop")
        refused = command(ws, "dispense", pump="X", **LONG_DOSE)
        reset = command(ws, "emergency-stop-reset")

    assert refused["ok"] is False
    assert refused["error"]["code"] == "emergency_stop_latched"
    assert reset == {
        "type": "result",
        "id": "c-1",
        "ok": True,
        "latched": False,
        "wasLatched": True,
    }
    assert rig.client.get("/api/status").json()["state"] == "IDLE"


def test_a_ws_latch_is_released_by_the_http_reset(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        command(ws, "emergency-stop")
        rig.client.post("/api/emergency-stop/reset", headers=AUTH)
        deadline = time.monotonic() + 2.0
        while next_status(ws)["state"] != "IDLE":  # statuses sent before the reset drain first
            assert time.monotonic() < deadline, "the feed never showed IDLE"


# Authorisation


@pytest.mark.parametrize("token", [None, "not-the-token", 42], ids=["missing", "wrong", "number"])
def test_an_emergency_stop_without_the_right_token_is_unauthorized_and_holds_nothing(
    rig: Rig, token: Any
) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        result = command(ws, "emergency-stop", token=token)
        still_open = next_status(ws)

    assert result["id"] == "c-1"
    assert result["ok"] is False
    assert result["error"]["code"] == "unauthorized"
    assert rig.controller.holds_from_event_loop == 0
    assert still_open["state"] == "IDLE"


def test_the_token_may_come_as_a_bearer_header_on_the_upgrade_request(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws", headers=AUTH) as ws:
        result = command(ws, "emergency-stop", token=None)

    assert result["ok"] is True
    assert rig.client.get("/api/status").json()["state"] == "EMERGENCY"


# Bad messages


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("{not json", "bad_request", id="bad-json"),
        pytest.param("[1, 2]", "bad_request", id="not-an-object"),
        pytest.param('{"type": "hello"}', "bad_request", id="unknown-type"),
        pytest.param(
            json.dumps({"type": "command", "action": "fly", "token": TOKEN}),
            "bad_request",
            id="unknown-action",
        ),
        pytest.param(" " * 17_000 + "{}", "payload_too_large", id="oversized"),
    ],
)
def test_a_bad_message_gets_an_error_result_and_the_socket_keeps_working(
    rig: Rig, raw: str, code: str
) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        ws.send_text(raw)
        result = next_result(ws)
        then = command(ws, "stop", pump="X")

    assert result == {"type": "result", "id": None, "ok": False, "error": result["error"]}
    assert result["error"]["code"] == code
    assert then["ok"] is True
    assert rig.controller.moves == []


# Dosing


def test_a_dose_over_ws_is_accepted_with_a_dose_id_and_runs(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        result = command(ws, "dispense", pump="X", **LONG_DOSE)
        state = next_status(ws)["state"]
        stopped = command(ws, "stop", pump="X")

    assert result["ok"] is True
    assert result["doseId"]
    assert state == "DISPENSING"
    assert stopped == {"type": "result", "id": "c-1", "ok": True, "stopped": True, "pump": "X"}
    [row] = rig.client.get("/api/history").json()["doses"]
    assert (row["doseId"], row["outcome"]) == (result["doseId"], "stopped")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        pytest.param({"pump": "X", "volume": -1, "flowRate": 5}, "invalid_dose", id="negative"),
        pytest.param({"pump": "X", "volume": 1, "flowRate": 16}, "limit_exceeded", id="fast"),
        pytest.param({"pump": "X", "volume": "1", "flowRate": 5}, "invalid_dose", id="string"),
        pytest.param({"pump": "Q", "volume": 1, "flowRate": 5}, "unknown_pump", id="no-pump"),
        pytest.param({"volume": 1, "flowRate": 5}, "bad_request", id="pump-missing"),
    ],
)
def test_a_refused_ws_dose_gets_the_http_error_code_and_moves_nothing(
    rig: Rig, fields: dict[str, Any], code: str
) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        result = command(ws, "dispense", **fields)

    assert result["ok"] is False
    assert result["error"]["code"] == code
    assert rig.controller.moves == []


# Clients that leave


def test_an_emergency_stop_sent_just_before_leaving_still_latches(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "command", "action": "emergency-stop", "token": TOKEN})
    # leaving returns once the session ended, i.e. once its commands were carried out

    assert rig.client.get("/api/status").json()["state"] == "EMERGENCY"


def test_a_client_that_leaves_does_not_disturb_the_next_one(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "command", "action": "stop", "pump": "X", "token": TOKEN})
    with rig.client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "status"
        assert command(ws, "stop", pump="X")["ok"] is True
