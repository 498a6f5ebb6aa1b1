"""Steps for features/safety_limits.feature: the operator doses over the HTTP API; refusals
are checked in the journal and in the alarms queued for the monitoring system, motion on
the controller itself (axis positions, and the moves it was sent)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when
from starlette.testclient import TestClient

from bootstrap.settings import PumpSettings
from support.daemon_harness import wait_for
from support.gcode_tap import GcodeTap

scenarios("safety_limits.feature")

TOKEN = "acceptance-token"  # the token the acceptance settings fixture configures
STEP_MM = 0.004  # Grbl's default $100 = 250 steps/mm; the fake rounds to 0.001 mm


class PumpRoom:
    """The pumps as configured, the daemon (started on first use) and what happened."""

    def __init__(self, settings: dict[str, Any], daemon_factory: Any) -> None:
        self.settings = settings
        self.pumps: dict[str, dict[str, Any]] = {}
        self._factory = daemon_factory
        self._daemon: Any = None
        self._client: TestClient | None = None
        self._tap: GcodeTap | None = None
        self.response: tuple[int, Any] = (0, None)
        self.run: dict[str, Any] = {}
        self.hung_at: tuple[float, dict[str, float]] = (0.0, {})

    def configure(self, pump: str, **fields: Any) -> None:
        assert self._daemon is None, "configure the pumps before the daemon starts"
        self.pumps.setdefault(pump, {"id": pump, "name": f"pump {pump}"}).update(fields)

    @property
    def daemon(self) -> Any:
        """The running daemon; the first use starts it with the pumps configured so far."""
        if self._daemon is None:
            self.settings["pumps"] = [
                PumpSettings(**p).model_dump(mode="json") for p in self.pumps.values()
            ]
            daemon = self._factory()
            if daemon.wiring == "simulated":
                self._tap = GcodeTap(daemon.app.adapters.simulator())
            self._client = TestClient(
                daemon.app.http_app(), headers={"Authorization": f"Bearer {TOKEN}"}
            )
            self._daemon = daemon
            wait_for(
                lambda: self.call("GET", "/api/status")[1]["controller"]["connected"],
                10,
                "the controller link",
            )
            self.positions_before = daemon.axis_positions()
        return self._daemon

    @property
    def client(self) -> TestClient:
        if self._client is None:
            self.daemon.app  # noqa: B018 - the first use starts the daemon and its client
        assert self._client is not None
        return self._client

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = self.client.request(method, path, json=body)
        return response.status_code, response.json()

    def pump_view(self, pump: str) -> dict[str, Any]:
        [view] = [p for p in self.call("GET", "/api/pumps")[1] if p["id"] == pump]
        return dict(view)

    def journal(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/api/history")[1]["doses"])

    def ended(self, dose_id: str, timeout_s: float = 10) -> dict[str, Any]:
        def row() -> dict[str, Any] | None:
            found = [r for r in self.journal() if r["doseId"] == dose_id]
            return found[0] if found and found[0]["outcome"] != "running" else None

        ended: dict[str, Any] = wait_for(row, timeout_s, f"dose {dose_id} to end")
        return ended

    def alarms(self, alarm_type: str) -> list[dict[str, Any]]:
        """The alarms queued for the monitoring system (MQTT {b}/alarm), oldest first."""
        entries = self.daemon.app.adapters.outbox().pending(100_000)
        return [
            dict(e.payload)
            for e in entries
            if e.payload.get("eventType") == "alarm" and e.payload["alarmType"] == alarm_type
        ]

    def moves(self) -> list[tuple[float, float]]:
        """Every move the controller was sent: (mm, mm/min)."""
        if self._tap is not None:
            return [(sum(abs(d) for d in axes.values()), feed) for axes, feed in self._tap.moves]
        controller = self.daemon.app.adapters.controller()
        return [(sum(abs(d) for d in dist.values()), feed) for dist, feed in controller.moves]

    def travel_ml(self, pump: str, since: dict[str, float]) -> float:
        ml_per_mm: float = self.pumps[pump]["ml_per_mm"]
        return (self.daemon.axis_positions()[pump] - since[pump]) * ml_per_mm


@pytest.fixture
def room(settings: dict[str, Any], daemon_factory: Any) -> PumpRoom:
    return PumpRoom(settings, daemon_factory)


@pytest.fixture
def unhang() -> Iterator[threading.Event]:
    """Released at teardown, before the daemon is stopped, so a hung daemon can stop."""
    release = threading.Event()
    yield release
    release.set()


# Given


@given(parsers.parse('pump "{pump}" delivers {ml_per_mm:g} ml per mm at up to {flow:g} ml/min'))
def pump_delivers(room: PumpRoom, pump: str, ml_per_mm: float, flow: float) -> None:
    """A calibrated pump with no limit but its flow rate (and the default 500 ml dose)."""
    room.configure(pump, ml_per_mm=ml_per_mm, max_flow_ml_min=flow)


@given(parsers.parse('pump "{pump}" doses at most {ml:g} ml at a time'))
def max_dose(room: PumpRoom, pump: str, ml: float) -> None:
    room.configure(pump, max_dose_ml=ml)


@given(parsers.re(r'pump "(?P<pump>\w)" may deliver (?P<ml>[\d.]+) ml per (?P<window>hour|day)'))
def quota(room: PumpRoom, pump: str, ml: str, window: str) -> None:
    room.configure(pump, **{f"max_ml_per_{window}": float(ml)})


@given(parsers.parse("all pumps together may deliver {ml:g} ml per day"))
def global_cap(room: PumpRoom, ml: float) -> None:
    room.settings["safety"]["max_ml_per_day"] = ml


@given(parsers.parse('pump "{pump}" draws from a {ml:g} ml reservoir that is low at {low:g} ml'))
def reservoir(room: PumpRoom, pump: str, ml: float, low: float) -> None:
    room.configure(pump, reservoir_ml=ml, reservoir_low_ml=low)


@given(parsers.re(r"a continuous run must be renewed within (?P<seconds>[\d.]+) seconds?"))
def dead_man(room: PumpRoom, seconds: str) -> None:
    """The dead man: how long a pump may go on without the daemon renewing its run."""
    room.settings["safety"]["dead_man_s"] = float(seconds)


# When


@when(parsers.parse('I ask pump "{pump}" for {volume:g} ml at {flow:g} ml/min'))
def ask(room: PumpRoom, pump: str, volume: float, flow: float) -> None:
    room.response = room.call(
        "POST", f"/api/pump/{pump}/dispense", {"volume": volume, "flowRate": flow}
    )


@when(parsers.parse('pump "{pump}" delivers a dose of {volume:g} ml at {flow:g} ml/min'))
@then(parsers.parse('pump "{pump}" delivers a dose of {volume:g} ml at {flow:g} ml/min'))
def delivers(room: PumpRoom, pump: str, volume: float, flow: float) -> None:
    """The dose is accepted and completes with the volume asked for."""
    status, body = room.call(
        "POST", f"/api/pump/{pump}/dispense", {"volume": volume, "flowRate": flow}
    )
    assert status == 202, body
    row = room.ended(body["doseId"])
    assert row["outcome"] == "completed", row
    assert row["actualVolume"] == pytest.approx(volume, abs=1e-3)


@when(parsers.parse('I refill pump "{pump}"\'s reservoir'))
def refill(room: PumpRoom, pump: str) -> None:
    status, body = room.call("POST", f"/api/pump/{pump}/reservoir", {})
    assert status == 200, body


@when(parsers.parse('I start pump "{pump}" running at {flow:g} ml/min'))
def start_run(room: PumpRoom, pump: str, flow: float) -> None:
    room.run = {"pump": pump, "flow": flow, "from": room.daemon.axis_positions()}
    status, body = room.call("POST", f"/api/pump/{pump}/start", {"flowRate": flow})
    assert status == 202, body
    room.run["doseId"] = body["doseId"]


@when(parsers.parse('pump "{pump}" has delivered more than {ml:g} ml'))
def delivered_more(room: PumpRoom, pump: str, ml: float) -> None:
    wait_for(lambda: (room.pump_view(pump)["dispensedVolume"] or 0) > ml, 10, f"{ml} ml to flow")


@when(parsers.parse('I stop pump "{pump}"'))
def stop(room: PumpRoom, pump: str) -> None:
    status, body = room.call("POST", f"/api/pump/{pump}/stop")
    assert status == 200, body


@when("the daemon hangs")
def hangs(room: PumpRoom, unhang: threading.Event) -> None:
    """The control plane stops renewing anything (blocked, as by a deadlock)."""
    runner = room.daemon.app.runner()
    tick = runner.tick

    def hung_tick() -> None:
        unhang.wait()
        tick()

    runner.tick = hung_tick
    # read after hanging it: a poll already under way read the axis before this did
    room.hung_at = (time.monotonic(), room.daemon.axis_positions())


# Then


@then(parsers.parse('the request is refused with {status:d} "{code}" by rule "{rule}"'))
def refused(room: PumpRoom, status: int, code: str, rule: str) -> None:
    got, body = room.response
    assert (got, body["error"]["code"], body["error"]["rule"]) == (status, code, rule), body


@then(
    parsers.parse(
        'the journal shows a refused dose of {volume:g} ml on pump "{pump}" by rule "{rule}"'
    )
)
def journaled_refusal(room: PumpRoom, volume: float, pump: str, rule: str) -> None:
    row = room.journal()[0]  # newest first
    assert (row["outcome"], row["pump"], row["requestedVolume"]) == ("refused", pump, volume)
    assert row["actualVolume"] == 0
    assert row["reason"].startswith(rule), row


@then(
    parsers.parse(
        'the monitoring system is alarmed that pump "{pump}"\'s dose was refused by rule "{rule}"'
    )
)
def refusal_alarm(room: PumpRoom, pump: str, rule: str) -> None:
    [alarm] = room.alarms("doseRefused")
    assert (alarm["pump"], alarm["rule"]) == (pump, rule)
    assert alarm["doseId"] == room.journal()[0]["doseId"]


@then("no pump has moved")
def nothing_moved(room: PumpRoom) -> None:
    time.sleep(0.2)  # give a wrongly started move time to show on the axis
    assert room.daemon.axis_positions() == room.positions_before


@then(
    parsers.re(
        r"the monitoring system has received (?P<n>\d+) "
        r'"(?P<kind>\w+)" alarms? for pump "(?P<pump>\w)"'
    )
)
def alarm_count(room: PumpRoom, n: str, kind: str, pump: str) -> None:
    assert [a["pump"] for a in room.alarms(kind)] == [pump] * int(n)


@then(parsers.parse('pump "{pump}"\'s reservoir holds {ml:g} ml'))
def reservoir_holds(room: PumpRoom, pump: str, ml: float) -> None:
    assert room.pump_view(pump)["reservoir"]["level"] == pytest.approx(ml, abs=1e-3)


FIELDS = {
    "max single dose": ("limits", "maxDoseVolume"),
    "max flow rate": ("limits", "maxFlowRate"),
    "max per hour": ("limits", "maxVolumePerHour"),
    "max per day": ("limits", "maxVolumePerDay"),
    "used last hour": ("limits", "usedLastHour"),
    "used last day": ("limits", "usedLastDay"),
    "reservoir level": ("reservoir", "level"),
    "capacity": ("reservoir", "capacity"),
    "low mark": ("reservoir", "lowMark"),
    "percent full": ("reservoir", "percent"),
    "low": ("reservoir", "low"),
}


@then(parsers.parse('the pump list shows for pump "{pump}":'))
def pump_list(room: PumpRoom, pump: str, datatable: list[list[str]]) -> None:
    view = room.pump_view(pump)
    shown = {name: view[group][key] for name, (group, key) in FIELDS.items()}
    expected: dict[str, Any] = {
        name: {"yes": True, "no": False}.get(value) if value in ("yes", "no") else float(value)
        for name, value in datatable
    }
    assert shown == pytest.approx(expected, abs=1e-3)


@then("the journal shows the continuous run stopped with the volume its axis travelled")
def run_stopped(room: PumpRoom) -> None:
    row = room.ended(room.run["doseId"])
    assert (row["outcome"], row["kind"]) == ("stopped", "continuous"), row
    assert row["actualVolume"] == pytest.approx(
        room.travel_ml(row["pump"], room.run["from"]), abs=1e-6
    )
    assert row["actualVolume"] > 0


@then(parsers.parse("the continuous run completes by itself with {volume:g} ml delivered"))
def run_completes(room: PumpRoom, volume: float) -> None:
    row = room.ended(room.run["doseId"])
    assert (row["outcome"], row["kind"]) == ("completed", "continuous"), row
    assert row["actualVolume"] == pytest.approx(volume, abs=1e-3)
    assert room.travel_ml(row["pump"], room.run["from"]) == pytest.approx(volume, abs=1e-3)


@then(
    parsers.re(
        r"the controller was sent more than (?P<count>\d+) moves, "
        r"none longer than (?P<seconds>[\d.]+) seconds?"
    )
)
def bounded_moves(room: PumpRoom, count: str, seconds: str) -> None:
    """Every move's travel takes at most ``seconds`` at its feed: no open-ended move."""
    moves = room.moves()
    assert len(moves) > int(count), moves
    assert max(mm * 60 / feed for mm, feed in moves) <= float(seconds) + 1e-9, moves


@then(
    parsers.parse(
        'pump "{pump}" comes to rest within {limit:g} seconds, after at most {dead_man:g} '
        "second of travel"
    )
)
def comes_to_rest(room: PumpRoom, pump: str, limit: float, dead_man: float) -> None:
    hung_at, hung_position = room.hung_at
    seen = {"position": hung_position[pump], "since": hung_at}

    def at_rest() -> bool:
        position = room.daemon.axis_positions()[pump]
        if position != seen["position"]:
            seen.update(position=position, since=time.monotonic())
        return time.monotonic() - seen["since"] >= 0.3

    wait_for(at_rest, limit + 1, f"pump {pump} to come to rest")
    assert seen["since"] - hung_at <= limit
    feed_mm_min = room.run["flow"] / room.pumps[pump]["ml_per_mm"]
    assert seen["position"] - hung_position[pump] <= dead_man * feed_mm_min / 60 + STEP_MM
