"""Steps for features/calibration.feature: the user calibrates a pump over the HTTP API and
the distance its axis really travels (read from the controller) shows what a dose used."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when
from starlette.testclient import TestClient

from bootstrap.containers import bootstrap
from bootstrap.settings import PumpSettings
from support.daemon_harness import wait_for

scenarios("calibration.feature")

TOKEN = "acceptance-token"  # the token the acceptance settings fixture configures
# Grbl's default $100 is 250 steps/mm (one step 0.004 mm); the fake rounds to 0.001 mm.
STEP_MM = 0.004


class Bench:
    """The running daemon as the user reaches it: its HTTP API and its pumps' axes."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.client = TestClient(
            daemon.app.http_app(), headers={"Authorization": f"Bearer {TOKEN}"}
        )
        wait_for(
            lambda: self.call("GET", "/api/status")[1]["controller"]["connected"],
            10,
            "the controller link",
        )
        self.positions_before = daemon.axis_positions()
        self.mark = dict(self.positions_before)
        self.response: tuple[int, Any] = (0, None)
        self.run: dict[str, Any] = {}
        self.measurement: dict[str, Any] = {}
        self.updated_at: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = self.client.request(method, path, json=body)
        return response.status_code, response.json()

    def calibration(self, pump: str) -> dict[str, Any]:
        status, body = self.call("GET", f"/api/pump/{pump}/calibration")
        assert status == 200, body
        return dict(body)

    def wait_completed(self, dose_id: str) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            rows = self.call("GET", "/api/history")[1]["doses"]
            row = next((r for r in rows if r["doseId"] == dose_id), None)
            return row if row and row["outcome"] != "running" else None

        row: dict[str, Any] = wait_for(ended, 10, f"dose {dose_id} to end")
        assert row["outcome"] == "completed", row
        return row


def start(settings: dict[str, Any], daemon_factory: Any, pump: dict[str, Any]) -> Bench:
    configured = PumpSettings(**{"name": "DMDEE", "max_flow_ml_min": 150.0, **pump})
    settings["pumps"] = [configured.model_dump(mode="json")]
    return Bench(daemon_factory())


def points(*pairs: tuple[float, float]) -> list[dict[str, float]]:
    return [{"flowRate": flow, "mlPerMm": ml_per_mm} for ml_per_mm, flow in pairs]


def point_list(calibration: dict[str, Any]) -> list[tuple[float, float]]:
    return [(p["mlPerMm"], p["flowRate"]) for p in calibration["points"]]


# Given


@given(parsers.parse('pump "{pump}" has no calibration'), target_fixture="bench")
def uncalibrated(settings: dict[str, Any], daemon_factory: Any, pump: str) -> Bench:
    return start(settings, daemon_factory, {"id": pump})


@given(
    parsers.parse('pump "{pump}" is configured at {ml_per_mm:g} ml per mm'),
    target_fixture="bench",
)
def configured(settings: dict[str, Any], daemon_factory: Any, pump: str, ml_per_mm: float) -> Bench:
    return start(settings, daemon_factory, {"id": pump, "ml_per_mm": ml_per_mm})


@given(
    parsers.parse(
        'I calibrate pump "{pump}" with {a:g} ml per mm at {flow_a:g} ml/min '
        "and {b:g} ml per mm at {flow_b:g} ml/min"
    )
)
def calibrate(bench: Bench, pump: str, a: float, flow_a: float, b: float, flow_b: float) -> None:
    body = {"points": points((a, flow_a), (b, flow_b))}
    status, calibration = bench.call("POST", f"/api/pump/{pump}/calibration", body)
    assert status == 200, calibration
    assert calibration["source"] == "nvs" and calibration["updatedAt"]
    bench.updated_at = calibration["updatedAt"]


# When


@when(parsers.parse('I ask pump "{pump}" for {volume:g} ml at {flow:g} ml/min'))
def ask(bench: Bench, pump: str, volume: float, flow: float) -> None:
    body = {"volume": volume, "flowRate": flow}
    bench.response = bench.call("POST", f"/api/pump/{pump}/dispense", body)


@when(parsers.parse('I dose {volume:g} ml on pump "{pump}" at {flow:g} ml/min'))
def dose(bench: Bench, pump: str, volume: float, flow: float) -> None:
    bench.mark = bench.daemon.axis_positions()
    status, body = bench.call(
        "POST", f"/api/pump/{pump}/dispense", {"volume": volume, "flowRate": flow}
    )
    assert status == 202, body
    bench.wait_completed(body["doseId"])


@when(
    parsers.parse(
        'I enter the calibration point {ml_per_mm:g} ml per mm at {flow:g} ml/min for pump "{pump}"'
    )
)
def enter_point(bench: Bench, ml_per_mm: float, flow: float, pump: str) -> None:
    body = {"flowRate": flow, "mlPerMm": ml_per_mm}
    status, calibration = bench.call("POST", f"/api/pump/{pump}/calibration", body)
    assert status == 200, calibration
    assert point_list(calibration) == [(ml_per_mm, flow)]


@when(parsers.parse('I start a calibration run of {mm:g} mm on pump "{pump}" at {flow:g} ml/min'))
def run_at_flow(bench: Bench, mm: float, pump: str, flow: float) -> None:
    start_run(bench, pump, {"distance": mm, "flowRate": flow})


@when(
    parsers.parse(
        'I start a calibration run of {mm:g} mm on pump "{pump}" at a feed of {feed:g} mm/min'
    )
)
def run_at_feed(bench: Bench, mm: float, pump: str, feed: float) -> None:
    start_run(bench, pump, {"distance": mm, "feedRate": feed})


@when(
    parsers.parse(
        'I ask for a calibration run of {mm:g} mm on pump "{pump}" at a feed of {feed:g} mm/min'
    )
)
def ask_run_at_feed(bench: Bench, mm: float, pump: str, feed: float) -> None:
    body = {"distance": mm, "feedRate": feed}
    bench.response = bench.call("POST", f"/api/pump/{pump}/calibration/run", body)


def start_run(bench: Bench, pump: str, body: dict[str, float]) -> None:
    bench.mark = bench.daemon.axis_positions()
    status, run = bench.call("POST", f"/api/pump/{pump}/calibration/run", body)
    assert status == 202, run
    assert run["distance"] == body["distance"]
    bench.run = run


@when(parsers.parse("I enter {measured:g} ml measured for the run"))
def enter_measurement(bench: Bench, measured: float) -> None:
    body = {"runId": bench.run["runId"], "measuredVolume": measured}
    status, calibration = bench.call("POST", f"/api/pump/{bench.run['pump']}/calibration", body)
    assert status == 200, calibration
    bench.measurement = calibration["measurement"]


@when("the daemon restarts", target_fixture="bench")
def restarts(
    bench: Bench, settings: dict[str, Any], wiring: str, request: pytest.FixtureRequest
) -> Bench:
    old = bench.daemon
    old.stop()
    app = bootstrap(settings, wiring=wiring)  # type: ignore[arg-type]
    if wiring == "fake":  # the fake NVS lives in memory: hand it over, as flash survives
        app.adapters.nvs.override(old.app.adapters.nvs())
    new = type(old)(app, wiring)  # the same in-process daemon, on the same data dir
    new.start()
    request.addfinalizer(new.stop)
    restarted = Bench(new)
    restarted.updated_at = bench.updated_at
    return restarted


@when(parsers.parse('I delete pump "{pump}"\'s calibration'))
def delete(bench: Bench, pump: str) -> None:
    status, body = bench.call("DELETE", f"/api/pump/{pump}/calibration")
    assert status == 200, body


# Then


@then(parsers.parse('the request is refused with {status:d} "{code}"'))
def refused(bench: Bench, status: int, code: str) -> None:
    got, body = bench.response
    assert (got, body["error"]["code"]) == (status, code), body
    assert body["error"]["message"]


@then(parsers.parse('pump "{pump}" shows no valid calibration'))
def no_calibration(bench: Bench, pump: str) -> None:
    [view] = [p for p in bench.call("GET", "/api/pumps")[1] if p["id"] == pump]
    assert view["calibration"] == {"source": "none", "valid": False}
    calibration = bench.calibration(pump)
    assert (calibration["valid"], calibration["points"]) == (False, [])


@then("no pump has moved")
def nothing_moved(bench: Bench) -> None:
    time.sleep(0.2)  # give a wrongly started move time to show on the axis
    assert bench.daemon.axis_positions() == bench.positions_before


@then(parsers.parse('pump "{pump}"\'s axis moved {mm:g} mm'))
def axis_moved(bench: Bench, pump: str, mm: float) -> None:
    travel = bench.daemon.axis_positions()[pump] - bench.mark[pump]
    assert travel == pytest.approx(mm, abs=STEP_MM)


@then(parsers.parse('the run completes and pump "{pump}"\'s axis moved {mm:g} mm'))
def run_completes(bench: Bench, pump: str, mm: float) -> None:
    row = bench.wait_completed(bench.run["runId"])
    assert row["kind"] == "calibration"
    axis_moved(bench, pump, mm)


@then(
    parsers.parse(
        'pump "{pump}"\'s calibration now has the points {first:g} ml per mm at {f1:g} ml/min '
        "and {second:g} ml per mm at {f2:g} ml/min"
    )
)
def has_points(bench: Bench, pump: str, first: float, f1: float, second: float, f2: float) -> None:
    calibration = bench.calibration(pump)
    assert point_list(calibration) == [pytest.approx((first, f1)), pytest.approx((second, f2))]


@then(
    parsers.parse(
        'pump "{pump}"\'s calibration has the point {ml_per_mm:g} ml per mm at {flow:g} ml/min'
    )
)
def has_point(bench: Bench, pump: str, ml_per_mm: float, flow: float) -> None:
    calibration = bench.calibration(pump)
    assert calibration["source"] == "nvs"
    assert point_list(calibration) == [pytest.approx((ml_per_mm, flow))]
    assert (bench.measurement["mlPerMm"], bench.measurement["flowRate"]) == pytest.approx(
        (ml_per_mm, flow)
    )


@then(
    parsers.parse(
        "the measurement reports {predicted:g} ml predicted, off by {residual:g} ml ({percent:g} %)"
    )
)
def residual(bench: Bench, predicted: float, residual: float, percent: float) -> None:
    m = bench.measurement
    assert (m["predictedVolume"], m["residualVolume"], m["residualPercent"]) == pytest.approx(
        (predicted, residual, percent), abs=1e-6
    )


@then("the measurement reports no prediction")
def no_prediction(bench: Bench) -> None:
    m = bench.measurement
    assert (m["predictedVolume"], m["residualVolume"], m["residualPercent"]) == (None, None, None)


@then(
    parsers.parse(
        'pump "{pump}"\'s calibration is still {a:g} ml per mm at {flow_a:g} ml/min and '
        "{b:g} ml per mm at {flow_b:g} ml/min, dated as before"
    )
)
def still_calibrated(
    bench: Bench, pump: str, a: float, flow_a: float, b: float, flow_b: float
) -> None:
    calibration = bench.calibration(pump)
    assert calibration["source"] == "nvs"
    assert point_list(calibration) == [(a, flow_a), (b, flow_b)]
    assert calibration["updatedAt"] == bench.updated_at


@then(
    parsers.parse('pump "{pump}" is calibrated from its configuration at {ml_per_mm:g} ml per mm')
)
def from_config(bench: Bench, pump: str, ml_per_mm: float) -> None:
    calibration = bench.calibration(pump)
    assert (calibration["source"], calibration["valid"]) == ("config", True)
    assert (calibration["points"], calibration["updatedAt"]) == ([], None)
    assert calibration["defaultMlPerMm"] == ml_per_mm
    [view] = [p for p in bench.call("GET", "/api/pumps")[1] if p["id"] == pump]
    assert view["calibration"] == {"source": "config", "valid": True}
