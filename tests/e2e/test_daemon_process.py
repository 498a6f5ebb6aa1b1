"""The daemon as a user runs it: ``doser run --simulate``, HTTP, SIGTERM."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from adapters.storage.journal import SqliteDoseJournal
from domain.events import DoseOutcome
from e2e.conftest import start_daemon

pytestmark = pytest.mark.slow

# The simulated pumps deliver 0.05 ml per mm; Grbl's default 250 steps/mm makes one step
# 0.004 mm, i.e. 0.0002 ml.
STEP_ML = 0.05 * 0.004


def test_an_authenticated_dose_completes_and_the_journal_shows_the_actual_volume(
    daemon: Any,
) -> None:
    status, body = daemon.call(
        "POST", "/api/pump/X/dispense", {"volume": 2, "flowRate": 120}, token=daemon.token
    )
    assert status == 202, body
    dose_id = body["doseId"]
    deadline = time.monotonic() + 15
    while True:
        _, history = daemon.call("GET", "/api/history")
        [row] = [d for d in history["doses"] if d["doseId"] == dose_id]
        if row["outcome"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert row["outcome"] == "completed"
    assert abs(row["actualVolume"] - 2.0) <= STEP_ML


def test_an_unauthenticated_dose_is_refused_with_401_and_nothing_moves(
    daemon: Any,
) -> None:
    status, body = daemon.call("POST", "/api/pump/X/dispense", {"volume": 2, "flowRate": 120})
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    _, history = daemon.call("GET", "/api/history")
    assert history["doses"] == []


def test_sigterm_mid_dose_stops_the_pump_and_exits_0(daemon: Any) -> None:
    status, body = daemon.call(
        "POST", "/api/pump/X/dispense", {"volume": 5, "flowRate": 30}, token=daemon.token
    )
    assert status == 202, body
    assert daemon.terminate() == 0
    journal = SqliteDoseJournal(daemon.data_dir / "journal.sqlite3")
    [record] = journal.history(limit=10)
    assert record.dose_id == body["doseId"]
    assert record.outcome is DoseOutcome.STOPPED
    assert record.actual_ml is not None and record.actual_ml < 5.0


def _restart(tmp_path: Path) -> Any:
    again = start_daemon(tmp_path)
    again.wait_ready()
    return again


def test_sigterm_that_cut_a_dose_short_latches_the_emergency_stop(
    daemon: Any, tmp_path: Path
) -> None:
    # safety.latch_on_shutdown = "if_dosing" (the default): a person looks first
    status, body = daemon.call(
        "POST", "/api/pump/X/dispense", {"volume": 5, "flowRate": 30}, token=daemon.token
    )
    assert status == 202, body
    assert daemon.terminate() == 0
    again = _restart(tmp_path)
    try:
        _, state = again.call("GET", "/api/status")
        assert state["state"] == "EMERGENCY"
        status, refused = again.call(
            "POST", "/api/pump/X/dispense", {"volume": 1, "flowRate": 30}, token=again.token
        )
        assert (status, refused["error"]["code"]) == (409, "emergency_stop_latched")
        assert "shutdown (SIGTERM) while dosing on X" in refused["error"]["message"]
    finally:
        again.terminate()


def test_sigterm_while_idle_does_not_latch(daemon: Any, tmp_path: Path) -> None:
    assert daemon.terminate() == 0
    again = _restart(tmp_path)
    try:
        _, state = again.call("GET", "/api/status")
        assert state["state"] == "IDLE"
    finally:
        again.terminate()
