"""The WebSocket emergency stop against the real ``doser run --simulate`` process: a dose
started over HTTP, the stop and the reset sent over WS /ws with the token."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from e2e.conftest import DaemonProcess

pytestmark = pytest.mark.slow

# 5 ml at 30 ml/min: 10 s, long enough to stop it half way.
DOSE = {"volume": 5, "flowRate": 30}


def open_feed(daemon: DaemonProcess) -> ClientConnection:
    url = daemon.base_url.replace("http://", "ws://", 1) + "/ws"
    return connect(url, proxy=None, open_timeout=10)


def send_command(ws: ClientConnection, daemon: DaemonProcess, action: str) -> dict[str, Any]:
    """Send ``action`` with the token and return its result (status messages skipped)."""
    ws.send(json.dumps({"type": "command", "action": action, "id": action, "token": daemon.token}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        if message["type"] == "result" and message["id"] == action:
            return message
    pytest.fail(f"no result for {action}")


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_an_emergency_stop_over_the_websocket_latches_and_stops_the_running_dose(
    daemon: DaemonProcess,
) -> None:
    status, body = daemon.call("POST", "/api/pump/X/dispense", DOSE, token=daemon.token)
    assert status == 202, body
    dose_id = body["doseId"]

    def pump_x_delivering() -> bool:
        pumps = daemon.call("GET", "/api/pumps")[1]
        return any(p["id"] == "X" and (p["dispensedVolume"] or 0) > 0.1 for p in pumps)

    wait_for(pump_x_delivering, "pump X to deliver something")

    with open_feed(daemon) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "status"
        stopped = send_command(ws, daemon, "emergency-stop")
        assert stopped == {
            "type": "result",
            "id": "emergency-stop",
            "ok": True,
            "state": "EMERGENCY",
            "latched": True,
        }
        assert daemon.call("GET", "/api/status")[1]["state"] == "EMERGENCY"
        [row] = daemon.call("GET", "/api/history")[1]["doses"]
        assert (row["doseId"], row["outcome"]) == (dose_id, "stopped")
        assert 0 < row["actualVolume"] < DOSE["volume"]

        reset = send_command(ws, daemon, "emergency-stop-reset")
        assert reset["ok"] is True
        assert reset["wasLatched"] is True
    assert daemon.call("GET", "/api/status")[1]["state"] == "IDLE"


def test_a_connected_websocket_client_does_not_hold_up_sigterm(daemon: DaemonProcess) -> None:
    with open_feed(daemon) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "status"
        assert daemon.terminate(timeout_s=15) == 0
