"""No event is lost to broker outages or a daemon crash (the issue's fault test).

While the daemon doses about once a second (two events per dose), the broker is stopped
and started twice and the daemon is SIGKILLed and restarted once. A subscriber with a
persistent session must receive every ``seq`` from the first to the last: zero gaps.
Duplicates (at-least-once after a reconnect or a crash) are counted and printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support.daemon_harness import http, wait_for
from support.mosquitto import Mosquitto, free_port
from support.mqtt_subscriber import Subscriber

pytestmark = pytest.mark.slow
DOSER = Path(sys.executable).with_name("doser")


class DaemonProcess:
    def __init__(self, tmp_path: Path, broker: Mosquitto) -> None:
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOSER_")}
        self.env.update(
            DOSER_DATA_DIR=str(tmp_path / "var"),
            DOSER_HTTP__PORT=str(self.port),
            DOSER_HTTP__TOKEN="fault-token",
            DOSER_MQTT__URL=broker.ws_url,
            DOSER_MQTT__BACKOFF_INITIAL_S="0.2",
            DOSER_MQTT__BACKOFF_MAX_S="1",
        )
        self.log = tmp_path / "doser.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(DOSER), "run", "--simulate"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, 30, "the daemon's HTTP API")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no clean shutdown, no offline, outbox as it was
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def _ready(self) -> bool:
        try:
            return http(self.base_url, "GET", "/healthz")[0] == 200
        except OSError:
            return False


def dose_every_second(daemon: DaemonProcess, stop: threading.Event, accepted: list[str]) -> None:
    while not stop.wait(1.0):
        try:
            status, body = http(
                daemon.base_url,
                "POST",
                "/api/pump/X/dispense",
                {"volume": 0.5, "flowRate": 60},
                token="fault-token",
            )
        except OSError:
            continue  # the daemon is restarting
        if status == 202:
            accepted.append(body["doseId"])


def test_every_seq_arrives_through_broker_restarts_and_a_daemon_crash(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    daemon = DaemonProcess(tmp_path, mosquitto)
    with Subscriber(mosquitto.host, mosquitto.port, "doser/#", qos=2) as sub:
        daemon.start()
        stop, accepted = threading.Event(), []
        producer = threading.Thread(target=dose_every_second, args=(daemon, stop, accepted))
        producer.start()
        try:
            for _ in range(2):
                time.sleep(3)  # events flow
                mosquitto.stop()
                time.sleep(3)  # events queue in the outbox
                mosquitto.start()
            time.sleep(3)
            daemon.kill()
            daemon.start()
            time.sleep(4)
        finally:
            stop.set()
            producer.join(timeout=30)

        def seqs() -> list[int]:
            # every outbox message carries seq: dose events and alarms
            return [json.loads(m.payload)["seq"] for m in sub.messages if _queued(m.topic)]

        def complete() -> bool:
            got = set(seqs())
            # each dose is a start and a complete, but the one the crash cut short
            return len(got) >= 2 * len(accepted) - 1 and got == set(range(1, max(got) + 1))

        try:
            wait_for(complete, 60, "every seq to arrive")
        finally:
            daemon.stop()
        received = seqs()
    gaps = sorted(set(range(1, max(received) + 1)) - set(received))
    duplicates = len(received) - len(set(received))
    print(
        f"\nfault test: {len(accepted)} doses, {len(set(received))} distinct seq "
        f"(1..{max(received)}), {duplicates} duplicates, gaps {gaps}"
    )
    assert min(received) == 1
    assert gaps == []
    assert len(accepted) >= 10


def _queued(topic: str) -> bool:
    return topic.endswith(("/dispense/event", "/dispense/complete", "/alarm"))
