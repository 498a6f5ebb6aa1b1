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

import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.bench_daemon import (
    Client,
    Rig,
    TimestampingEngine,
    grbl_rig,
    percentile,
    start_daemon,
    stop_daemon,
    wait_ready,
)
from support.procfs import rss_kib

pytestmark = pytest.mark.bench
DOSES = 200


@pytest.fixture
def bench_rig(tmp_path: Path) -> Iterator[Rig]:
    with grbl_rig(tmp_path) as rig:
        yield rig


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


def test_bench_dispense_latency_rss_and_start_time(bench_rig: Rig, tmp_path: Path) -> None:
    engine, token = bench_rig.engine, bench_rig.token
    bare_start_s = []
    for _ in range(5):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare_start_s.append(time.monotonic() - t0)

    started = time.monotonic()
    daemon = start_daemon(bench_rig.config, tmp_path / "doser.log")
    try:
        client = Client(bench_rig.port)
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
        code = stop_daemon(daemon)

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
