"""Benchmark of the latched emergency stop (issue 5): request sent → the feed hold ``!``
reaching the controller's pty, p50/p99/max, against a target of p99 ≤ 10 ms.

- over HTTP (POST /api/emergency-stop on a keep-alive connection) and over MQTT (a publish
  on ``{b}/cmd/emergency-stop``), each stopping a dose that is moving;
- idle, and while another process loads the daemon with ~200 GET /api/status per second
  and ~100 malformed MQTT dose commands per second (each parsed, refused and answered);
- baselines from the same run and conditions: a GET /healthz round trip on the same
  connection (the cheapest request through the same event loop and thread pool) and, for
  MQTT, a bare publish → receive through the same broker.

Figures are printed; only behaviour is asserted: every e-stop put a ``!`` on the line and
journaled the moving dose as stopped.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from support.bench_daemon import Client, Inbox, Rig, connect_daemon, grbl_rig, percentile, publisher
from support.load_generators import LoadReport, background_load
from support.mosquitto import Mosquitto

pytestmark = [pytest.mark.bench, pytest.mark.timeout(300)]
HTTP_SAMPLES, MQTT_SAMPLES, WARM_UP = 100, 60, 3
HTTP_LOAD_PER_S, MQTT_LOAD_PER_S = 200.0, 100.0
DOSE = {"volume": 50.0, "flowRate": 60.0}  # 50 s of motion: the stop always hits it moving
TARGET_S = 0.010
MS = 1000.0


@dataclass
class Figures:
    """Seconds, per sample, under one condition."""

    http_hold: list[float] = field(default_factory=list)  # POST sent → '!' at the pty
    http_answer: list[float] = field(default_factory=list)  # POST sent → 200 (halted)
    mqtt_hold: list[float] = field(default_factory=list)  # publish → '!' at the pty
    mqtt_answer: list[float] = field(default_factory=list)  # publish → cmd/result received
    healthz: list[float] = field(default_factory=list)  # GET /healthz round trip
    ping: list[float] = field(default_factory=list)  # bare MQTT publish → receive


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with grbl_rig(tmp_path) as made:
        yield made


class EstopBench:
    """One sample at a time: a dose starts moving, the e-stop hits it, the latch resets."""

    def __init__(
        self, rig: Rig, base: str, http: Client, inbox: Inbox, client: mqtt.Client
    ) -> None:
        self._rig, self._base, self._http = rig, base, http
        self._inbox, self._client = inbox, client
        self._jitter = random.Random(5)  # the stop lands at any phase of the 20 Hz polling
        self._n = 0

    def run(self, figures: Figures, http_samples: int, mqtt_samples: int) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            self._http.call("GET", "/healthz")  # renews a connection the server closed idle
        for i in range(max(http_samples, mqtt_samples)):
            if i < http_samples:
                self.http_sample(figures)
            if i < mqtt_samples:
                self.mqtt_sample(figures)

    def http_sample(self, figures: Figures) -> None:
        dose_id = self._moving_dose(figures)
        t0 = time.monotonic()
        status, body = self._http.call("POST", "/api/emergency-stop", None, self._rig.token)
        answered = time.monotonic()
        assert status == 200, body
        figures.http_hold.append(self._hold_after(t0) - t0)
        figures.http_answer.append(answered - t0)
        self._reset(dose_id)

    def mqtt_sample(self, figures: Figures) -> None:
        dose_id = self._moving_dose(figures)
        self._n += 1
        cid, topic = f"estop-{self._n:04d}", f"{self._base}/cmd/emergency-stop"
        self._inbox.clear()
        t0 = time.monotonic()
        self._client.publish(topic, json.dumps({"correlationId": cid}), qos=1)
        hold = self._hold_after(t0)
        answered, result = self._inbox.wait_json(f"{self._base}/cmd/result", correlationId=cid)
        assert result["ok"], result
        figures.mqtt_hold.append(hold - t0)
        figures.mqtt_answer.append(answered - t0)
        self._reset(dose_id)
        t1 = time.monotonic()
        self._client.publish(f"bench/ping/{cid}", json.dumps({"correlationId": cid}), qos=1)
        arrived, _ = self._inbox.wait_json(f"bench/ping/{cid}", correlationId=cid)
        figures.ping.append(arrived - t1)

    def _moving_dose(self, figures: Figures) -> str:
        """Start a dose, wait until it moves; two baseline round trips; a random pause."""
        t0 = time.monotonic()
        status, body = self._http.call("POST", "/api/pump/X/dispense", DOSE, self._rig.token)
        assert status == 202, body
        assert self._rig.engine.arrivals_after(t0), "no G-code reached the controller"
        self._wait_pump("dosing")
        for _ in range(2):
            t1 = time.monotonic()
            assert self._http.call("GET", "/healthz")[0] == 200
            figures.healthz.append(time.monotonic() - t1)
        time.sleep(self._jitter.uniform(0.0, 0.05))
        return str(body["doseId"])  # type: ignore[index]

    def _hold_after(self, t0: float) -> float:
        hold = self._rig.engine.wait_hold_after(t0)
        assert hold is not None, "the e-stop put no feed hold '!' on the serial line"
        return hold

    def _reset(self, dose_id: str) -> None:
        """Check the journal says the dose stopped, release the latch, wait for idle."""
        _, history = self._http.call("GET", "/api/history?limit=20")
        entry = next(d for d in history["doses"] if d["doseId"] == dose_id)  # type: ignore[index]
        assert entry["outcome"] == "stopped", entry
        status, body = self._http.call("POST", "/api/emergency-stop/reset", None, self._rig.token)
        assert status == 200, body
        self._wait_pump("idle")

    def _wait_pump(self, state: str) -> None:
        for _ in range(1000):
            if self._http.call("GET", "/api/pumps")[1][0]["state"] == state:  # type: ignore[index]
                return
            time.sleep(0.002)
        raise AssertionError(f"pump X not {state} within ~2 s")


def test_bench_emergency_stop_to_feed_hold_idle_and_under_load(
    rig: Rig, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    idle, loaded = Figures(), Figures()
    with (
        connect_daemon(rig, mosquitto, tmp_path) as (_, base, http),
        Inbox(mosquitto, f"{base}/cmd/result", "bench/ping/#") as inbox,
        publisher(mosquitto) as client,
    ):
        bench = EstopBench(rig, base, http, inbox, client)
        bench.run(Figures(), WARM_UP, WARM_UP)  # uncounted
        bench.run(idle, HTTP_SAMPLES, MQTT_SAMPLES)
        with background_load(
            rig.port, HTTP_LOAD_PER_S, mosquitto.port, base, MQTT_LOAD_PER_S
        ) as load:
            time.sleep(1.0)  # let the load settle
            bench.run(loaded, HTTP_SAMPLES, MQTT_SAMPLES)
    assert load.report is not None
    print_table(idle, loaded, load.report)


def print_table(idle: Figures, loaded: Figures, load: LoadReport) -> None:
    print("\ne-stop request sent -> feed hold '!' at the controller's pty (target p99 <= 10 ms)")
    print(f"{'':46}{'n':>4}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}   vs baseline p50/p99")
    for name, f in (("idle", idle), ("under load", loaded)):
        print(name)
        _row("HTTP POST /api/emergency-stop -> '!'", f.http_hold, f.healthz, "healthz")
        _row("MQTT cmd/emergency-stop -> '!'", f.mqtt_hold, f.healthz, "healthz", f.ping)
        _row("baseline GET /healthz round trip", f.healthz)
        _row("baseline bare MQTT publish -> receive", f.ping)
        _row("HTTP e-stop POST -> 200 (halted, journaled)", f.http_answer)
        _row("MQTT e-stop publish -> cmd/result", f.mqtt_answer)
    print(
        f"load over {load.seconds:.0f} s: GET /api/status {load.http_requests / load.seconds:.0f}"
        f"/s ({load.http_errors} failed; p50 {load.http_p50_s * MS:.2f} ms, p99 "
        f"{load.http_p99_s * MS:.2f} ms); malformed MQTT doses {load.mqtt_sent / load.seconds:.0f}"
        f"/s, {load.mqtt_answered} of {load.mqtt_sent} answered (p50 {load.mqtt_p50_s * MS:.2f}"
        f" ms, p99 {load.mqtt_p99_s * MS:.2f} ms)"
    )


def _row(
    name: str,
    values: list[float],
    baseline: list[float] | None = None,
    label: str = "",
    ping: list[float] | None = None,
) -> None:
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    line = f"  {name:44}{len(values):4d}{p50 * MS:9.2f}{p99 * MS:9.2f}{max(values) * MS:9.2f}"
    if baseline:
        line += f"   {_ratio(values, baseline)} {label}"
        if ping:
            line += f", {_ratio(values, ping)} bare MQTT"
        line += f"   p99 <= 10 ms: {'met' if p99 <= TARGET_S else 'MISSED'}"
    print(line)


def _ratio(values: list[float], baseline: list[float]) -> str:
    r50 = percentile(values, 0.5) / percentile(baseline, 0.5)
    r99 = percentile(values, 0.99) / percentile(baseline, 0.99)
    return f"{r50:.1f}x/{r99:.1f}x"
