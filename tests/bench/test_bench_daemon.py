"""Benchmarks of the daemon as a process (figures printed, nothing asserted about speed).

- HTTP dispense request → first G-code byte on the serial line, p50/p99 over 200 doses,
  against the same run's baseline: an HTTP GET /healthz round trip on the same connection.
- Idle RSS of the daemon against a bare Python interpreter's RSS.
- Start → /healthz ready against a bare ``python -c pass`` start.

The controller is the Grbl simulator on a real pty hosted here, wrapped so it timestamps
every byte it receives (CLOCK_MONOTONIC is system-wide, so the daemon process's and this
process's clocks agree).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.sim.grbl import GrblConfig, GrblEngine
from adapters.sim.pty_host import PtyHost
from support.mosquitto import free_port
from support.procfs import rss_kib

pytestmark = pytest.mark.bench
DOSER = Path(sys.executable).with_name("doser")
DOSES = 200


class TimestampingEngine:
    """A Grbl engine that records when each G-code line's first byte arrived."""

    def __init__(self, engine: GrblEngine) -> None:
        self._engine = engine
        self.gcode_arrivals: list[float] = []
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> bytes:
        if b"G1" in data or b"G91" in data:
            with self._lock:
                self.gcode_arrivals.append(time.monotonic())
        return self._engine.feed(data)

    def poll(self) -> bytes:
        return self._engine.poll()

    def arrivals_after(self, moment: float) -> list[float]:
        with self._lock:
            return [t for t in self.gcode_arrivals if t >= moment]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: object = None,
    token: str | None = None,
) -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, None if body is None else json.dumps(body), headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


@pytest.fixture
def bench_rig(tmp_path: Path) -> Iterator[tuple[TimestampingEngine, Path, str]]:
    engine = TimestampingEngine(
        GrblEngine(GrblConfig(max_rate_mm_min=6000.0, acceleration_mm_s2=2000.0))
    )
    with PtyHost(engine) as host:
        config = tmp_path / "doser.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "var"}"\nlog_level = "warning"\n'
            f'[http]\nport = {free_port()}\ntoken = "bench-token"\n'
            f'[controller]\nport = "{host.port}"\n'
            '[[pumps]]\nid = "X"\nname = "bench"\nml_per_mm = 0.05\nmax_flow_ml_min = 150\n'
        )
        yield engine, config, "bench-token"


class Client:
    """A keep-alive HTTP connection to the daemon that reconnects while it starts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(
        self, method: str, path: str, body: object = None, token: str | None = None
    ) -> tuple[int, object]:
        try:
            return request(self.conn, method, path, body, token)
        except (ConnectionError, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            raise


def wait_ready(
    client: Client, daemon: subprocess.Popen[bytes], started: float
) -> tuple[float, float]:
    """Seconds from start to the first /healthz 200, and to the controller connected."""
    healthz_s: float | None = None
    while True:
        assert daemon.poll() is None, "daemon exited"
        try:
            status, body = client.call("GET", "/healthz")
        except (ConnectionError, OSError):
            time.sleep(0.01)
            continue
        if status == 200 and healthz_s is None:
            healthz_s = time.monotonic() - started
        if status == 200 and body["controller"]:  # type: ignore[index]
            return healthz_s or 0.0, time.monotonic() - started
        time.sleep(0.01)


def bare_python_rss_kib() -> int:
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    time.sleep(0.5)
    try:
        return rss_kib(bare.pid)
    finally:
        bare.kill()
        bare.wait()


def dispense_latencies(client: Client, engine: TimestampingEngine, token: str) -> list[float]:
    """Seconds from sending each dispense request to its first G-code byte at the pty."""
    latencies = []
    for _ in range(DOSES):
        t0 = time.monotonic()
        status, body = client.call(
            "POST", "/api/pump/X/dispense", {"volume": 0.05, "flowRate": 150}, token
        )
        assert status == 202, body
        arrivals = engine.arrivals_after(t0)
        assert arrivals, "no G-code reached the controller"
        latencies.append(arrivals[0] - t0)
        while client.call("GET", "/api/pumps")[1][0]["state"] != "idle":  # type: ignore[index]
            time.sleep(0.005)
    return latencies


def test_bench_dispense_latency_rss_and_start_time(
    bench_rig: tuple[TimestampingEngine, Path, str], tmp_path: Path
) -> None:
    engine, config, token = bench_rig
    port = int(config.read_text().split("port = ")[1].split("\n")[0])
    bare_start_s = []
    for _ in range(5):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare_start_s.append(time.monotonic() - t0)

    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSER_")}
    started = time.monotonic()
    with (tmp_path / "doser.log").open("wb") as log:
        daemon = subprocess.Popen(
            [str(DOSER), "run", "--config", str(config)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        client = Client(port)
        healthz_ready_s, connected_s = wait_ready(client, daemon, started)
        time.sleep(2.0)  # idle: the control plane polls at 1 Hz, nothing else runs
        daemon_rss, bare_rss = rss_kib(daemon.pid), bare_python_rss_kib()
        healthz = []
        for _ in range(DOSES):
            t0 = time.monotonic()
            client.call("GET", "/healthz")
            healthz.append(time.monotonic() - t0)
        latencies = dispense_latencies(client, engine, token)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=30)

    ms = 1000.0
    p50, p99 = percentile(latencies, 0.5) * ms, percentile(latencies, 0.99) * ms
    h50, h99 = percentile(healthz, 0.5) * ms, percentile(healthz, 0.99) * ms
    bare_s = statistics.median(bare_start_s)
    print()
    print(
        f"dispense -> first G-code byte ({DOSES} doses): p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
        f"max {max(latencies) * ms:.2f} ms"
    )
    print(
        f"  baseline GET /healthz round trip:        p50 {h50:.2f} ms  p99 {h99:.2f} ms  "
        f"(ratio p50 {p50 / h50:.1f}x, p99 {p99 / h99:.1f}x)"
    )
    print(
        f"idle RSS: daemon {daemon_rss / 1024:.1f} MiB, bare python {bare_rss / 1024:.1f} MiB "
        f"(ratio {daemon_rss / bare_rss:.1f}x)"
    )
    print(
        f"start -> /healthz 200: {healthz_ready_s * ms:.0f} ms; -> controller connected: "
        f"{connected_s * ms:.0f} ms; bare python start {bare_s * ms:.0f} ms "
        f"(ratio {healthz_ready_s / bare_s:.1f}x)"
    )
    print(f"SIGTERM exit code: {code}")
