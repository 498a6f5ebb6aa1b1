"""Benchmarks of the MQTT link, figures printed, nothing asserted about speed:

- broker restart → registration received by a subscriber (backoff_initial_s 0.1 s), against
  the same run's baseline: a plain paho client connecting and publishing to itself after the
  same restart;
- idle RSS and CPU of the daemon while the broker is down, over a window that holds what 10
  minutes of the real backoff holds (the schedule compressed 60x: 0.5 s doubling to 60 s),
  against the same daemon with MQTT disabled over the same window.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from support.mosquitto import Mosquitto, free_port
from support.mqtt_subscriber import Subscriber
from support.procfs import cpu_seconds, rss_kib

pytestmark = pytest.mark.bench
DOSER = Path(sys.executable).with_name("doser")
RESTARTS = 5
WINDOW_S = 10.0  # = 10 minutes of the real backoff schedule, compressed 60x


def start_daemon(tmp_path: Path, name: str, **env: str) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DOSER_")}
    environ.update(
        DOSER_DATA_DIR=str(tmp_path / name),
        DOSER_HTTP__PORT=str(free_port()),
        DOSER_LOG_LEVEL="warning",
        **env,
    )
    with (tmp_path / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [str(DOSER), "run", "--simulate"], env=environ, stdout=log, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def baseline_reconnect_s(broker: Mosquitto) -> float:
    """A bare paho client: connect as soon as the broker is back, publish, see it arrive."""
    with Subscriber(broker.host, broker.port, "baseline/#") as subscriber:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="baseline")
        broker.stop()
        broker.start()
        t0 = time.monotonic()
        while True:
            try:
                client.connect(broker.host, broker.port)
                break
            except OSError:
                time.sleep(0.01)
        client.loop_start()
        client.publish("baseline/ping", "1", qos=1)
        subscriber.wait_for(lambda m: m.topic == "baseline/ping", timeout=20)
        elapsed = time.monotonic() - t0
        client.disconnect()
        client.loop_stop()
    return elapsed


@pytest.fixture
def broker(mosquitto_factory) -> Iterator[Mosquitto]:  # type: ignore[no-untyped-def]
    yield mosquitto_factory()


def test_bench_broker_restart_to_registration(broker: Mosquitto, tmp_path: Path) -> None:
    daemon = start_daemon(
        tmp_path,
        "restart",
        DOSER_MQTT__URL=broker.ws_url,
        DOSER_MQTT__BACKOFF_INITIAL_S="0.1",
        DOSER_MQTT__BACKOFF_MAX_S="0.4",
    )
    samples = []
    try:
        with Subscriber(broker.host, broker.port, "doser/device/registration") as watcher:
            watcher.wait_for(lambda m: True, timeout=30)
            for _ in range(RESTARTS):
                watcher.clear()
                broker.stop()
                time.sleep(0.5)  # let the daemon notice and back off
                broker.start()
                t0 = time.monotonic()
                watcher.wait_for(lambda m: True, timeout=30)
                samples.append(time.monotonic() - t0)
    finally:
        stop(daemon)
    baseline = [baseline_reconnect_s(broker) for _ in range(RESTARTS)]
    ms = 1000.0
    print()
    print(
        f"broker restart -> registration received ({RESTARTS} restarts, backoff 0.1-0.4 s): "
        f"p50 {statistics.median(samples) * ms:.0f} ms, max {max(samples) * ms:.0f} ms"
    )
    print(
        f"  baseline bare paho connect+publish after restart: p50 "
        f"{statistics.median(baseline) * ms:.0f} ms (ratio "
        f"{statistics.median(samples) / statistics.median(baseline):.1f}x)"
    )


def test_bench_idle_with_the_broker_down(tmp_path: Path) -> None:
    down = f"ws://127.0.0.1:{free_port()}/mqtt"
    figures = {}
    for name, env in (
        ("mqtt-disabled", {"DOSER_MQTT__URL": ""}),
        (
            "broker-down",
            {
                "DOSER_MQTT__URL": down,
                "DOSER_MQTT__BACKOFF_INITIAL_S": "0.5",
                "DOSER_MQTT__BACKOFF_MAX_S": "60",
            },
        ),
    ):
        daemon = start_daemon(tmp_path, name, **env)
        try:
            time.sleep(3.0)  # start-up settles (imports, simulator, first connect attempt)
            cpu0, rss0 = cpu_seconds(daemon.pid), rss_kib(daemon.pid)
            time.sleep(WINDOW_S)
            figures[name] = (cpu_seconds(daemon.pid) - cpu0, rss0, rss_kib(daemon.pid))
        finally:
            stop(daemon)
    print()
    for name, (cpu, rss0, rss1) in figures.items():
        print(
            f"{name}: CPU {cpu * 1000:.0f} ms over {WINDOW_S:.0f} s "
            f"({cpu / WINDOW_S * 100:.2f} % of a core), RSS {rss0 / 1024:.1f} -> "
            f"{rss1 / 1024:.1f} MiB"
        )
    cpu_down, cpu_off = figures["broker-down"][0], figures["mqtt-disabled"][0]
    print(f"  ratio broker-down / mqtt-disabled CPU: {cpu_down / max(cpu_off, 1e-3):.2f}x")
