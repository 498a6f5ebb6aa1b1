"""The ``doser`` process as the benchmarks run it: the Grbl simulator on a real pty hosted in
the test, wrapped so it timestamps every G-code line it receives, a config file pointing the
daemon at it, the daemon started and stopped by PID, a keep-alive HTTP client, and, for the
MQTT benchmarks, the daemon on a local mosquitto with a timestamping observer and a
publisher standing in for the monitoring system.

CLOCK_MONOTONIC is system-wide, so a timestamp taken here (``time.monotonic``) and one the
pty thread takes when the daemon's bytes arrive are on the same clock."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from adapters.sim.grbl import GrblConfig, GrblEngine
from adapters.sim.pty_host import PtyHost
from support.mosquitto import Mosquitto, free_port

FEED_HOLD = b"!"  # Grbl 1.1 interface.md: real-time feed hold, 0x21
DOSER = Path(sys.executable).with_name("doser")
TOKEN = "bench-token"


class TimestampingEngine:
    """A Grbl engine that records when each G-code line's first byte arrived, and when
    each real-time feed hold ``!`` did."""

    def __init__(self, engine: GrblEngine) -> None:
        self._engine = engine
        self.gcode_arrivals: list[float] = []
        self.hold_arrivals: list[float] = []  # real-time feed hold ``!`` (0x21)
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> bytes:
        if FEED_HOLD in data:
            arrived = time.monotonic()
            with self._lock:
                self.hold_arrivals.append(arrived)
        if b"G1" in data or b"G91" in data:
            with self._lock:
                self.gcode_arrivals.append(time.monotonic())
        return self._engine.feed(data)

    def poll(self) -> bytes:
        return self._engine.poll()

    def arrivals_after(self, moment: float) -> list[float]:
        with self._lock:
            return [t for t in self.gcode_arrivals if t >= moment]

    def holds_after(self, moment: float) -> list[float]:
        """When each read holding a feed hold ``!`` arrived, from ``moment`` on."""
        with self._lock:
            return [t for t in self.hold_arrivals if t >= moment]

    def wait_hold_after(self, moment: float, timeout_s: float = 2.0) -> float | None:
        """The arrival of the first ``!`` at or after ``moment``, waiting up to
        ``timeout_s`` (s) for it; None when none came."""
        deadline = time.monotonic() + timeout_s
        while not (holds := self.holds_after(moment)) and time.monotonic() < deadline:
            time.sleep(0.001)
        return holds[0] if holds else None


@dataclass(frozen=True)
class Rig:
    """What a benchmark needs to run the daemon against the simulator."""

    engine: TimestampingEngine
    config: Path
    port: int  # HTTP
    data_dir: Path
    token: str = TOKEN


@contextmanager
def grbl_rig(tmp_path: Path) -> Iterator[Rig]:
    """The simulator (fast axes, so a 0.05 ml dose is a few ms of motion) on a pty, and a
    config for one pump ``X`` (0.05 ml/mm, up to 150 ml/min) on it; the pty closes on exit."""
    engine = TimestampingEngine(
        GrblEngine(GrblConfig(max_rate_mm_min=6000.0, acceleration_mm_s2=2000.0))
    )
    port, data_dir = free_port(), tmp_path / "var"
    with PtyHost(engine) as host:
        config = tmp_path / "doser.toml"
        config.write_text(
            f'data_dir = "{data_dir}"\nlog_level = "warning"\n'
            f'[http]\nport = {port}\ntoken = "{TOKEN}"\n'
            f'[controller]\nport = "{host.port}"\n'
            '[[pumps]]\nid = "X"\nname = "bench"\nml_per_mm = 0.05\nmax_flow_ml_min = 150\n'
        )
        yield Rig(engine, config, port, data_dir)


def start_daemon(config: Path, log_path: Path, **env: str) -> subprocess.Popen[bytes]:
    """``doser run --config config``, output to ``log_path``; ``env`` adds ``DOSER_*``
    variables (any inherited ones are dropped so the config file is what counts)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DOSER_")}
    environ.update(env)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(DOSER), "run", "--config", str(config)],
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_daemon(daemon: subprocess.Popen[bytes]) -> int:
    """SIGTERM the daemon this test started and wait for it; its exit code."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
    try:
        return daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait(timeout=10)
        raise


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
    client: Client, daemon: subprocess.Popen[bytes], started: float, timeout_s: float = 30.0
) -> tuple[float, float]:
    """Seconds from start to the first /healthz 200, and to the controller connected."""
    healthz_s: float | None = None
    deadline = started + timeout_s
    while True:
        assert daemon.poll() is None, "daemon exited"
        assert time.monotonic() < deadline, f"daemon not ready within {timeout_s} s"
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


class Inbox:
    """A paho client on the broker's plain MQTT port, subscribed (QoS 1) to ``filters``,
    that keeps every message with the ``time.monotonic()`` of its arrival. A ``client_id``
    makes it a durable session (clean session false), as a monitoring system connects."""

    def __init__(self, broker: Mosquitto, *filters: str, client_id: str = "") -> None:
        self._broker, self._filters = broker, filters
        self._messages: list[tuple[float, str, bytes]] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=not client_id,
            protocol=mqtt.MQTTv311,
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message

    def __enter__(self) -> Inbox:
        self._client.connect(self._broker.host, self._broker.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(10.0):
            self.__exit__()
            raise AssertionError(f"no SUBACK for {self._filters} within 10 s")
        return self

    def __exit__(self, *_: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages)

    def since(self, index: int) -> list[tuple[float, str, bytes]]:
        """(arrival, topic, payload) of the messages from the ``index``-th on."""
        with self._changed:
            return self._messages[index:]

    def last_arrival(self) -> float:
        with self._changed:
            return self._messages[-1][0]

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()

    def wait_count(self, count: int, timeout_s: float) -> bool:
        """Whether at least ``count`` messages arrived within ``timeout_s``."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._messages) >= count, timeout_s)

    def wait_json(
        self, topic: str, timeout_s: float = 10.0, **fields: object
    ) -> tuple[float, dict[str, Any]]:
        """The arrival time and body of the first message on ``topic`` whose JSON body has
        ``fields``; ``AssertionError`` after ``timeout_s``."""
        deadline, cursor = time.monotonic() + timeout_s, 0
        with self._changed:
            while True:
                for at, got, payload in self._messages[cursor:]:
                    if got == topic:
                        body = json.loads(payload)
                        if all(body.get(k) == v for k, v in fields.items()):
                            return at, body
                cursor = len(self._messages)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"nothing on {topic} with {fields} in {timeout_s} s")
                self._changed.wait(remaining)

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe([(f, 1) for f in self._filters])

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        arrived = time.monotonic()
        with self._changed:
            self._messages.append((arrived, message.topic, bytes(message.payload)))
            self._changed.notify_all()


@contextmanager
def publisher(broker: Mosquitto, *, websockets: bool = False) -> Iterator[mqtt.Client]:
    """A connected paho client (network thread running) to publish with; on the plain
    port, or on the WebSocket listener the daemon uses."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        protocol=mqtt.MQTTv311,
        transport="websockets" if websockets else "tcp",
    )
    if websockets:
        client.ws_set_options(path="/mqtt")
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect(broker.host, broker.ws_port if websockets else broker.port)
    client.loop_start()
    try:
        assert connected.wait(10.0), "no CONNACK within 10 s"
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def connect_daemon(
    rig: Rig, broker: Mosquitto, log_dir: Path, *, wait_mqtt: bool = True
) -> Iterator[tuple[subprocess.Popen[bytes], str, Client]]:
    """The daemon on ``rig`` with ``broker`` (WebSockets, fast reconnect), its MQTT base
    topic (``doser/<deviceId>``) and an HTTP client; stopped on exit. ``wait_mqtt``: return
    only once it answers a command (a stop for idle pump X) over MQTT."""
    started = time.monotonic()
    daemon = start_daemon(
        rig.config,
        log_dir / "doser.log",
        DOSER_MQTT__URL=broker.ws_url,
        DOSER_MQTT__BACKOFF_INITIAL_S="0.1",
        DOSER_MQTT__BACKOFF_MAX_S="0.5",
    )
    try:
        http = Client(rig.port)
        wait_ready(http, daemon, started)
        base = f"doser/{http.call('GET', '/api/config')[1]['deviceId']}"  # type: ignore[index]
        if wait_mqtt:
            _wait_answering(broker, base)
        yield daemon, base, http
    finally:
        stop_daemon(daemon)


def _wait_answering(broker: Mosquitto, base: str) -> None:
    with Inbox(broker, f"{base}/cmd/result") as inbox, publisher(broker) as client:
        for attempt in range(40):
            cid = f"probe-{attempt}"
            client.publish(f"{base}/cmd/X/stop", json.dumps({"correlationId": cid}), qos=1)
            try:
                inbox.wait_json(f"{base}/cmd/result", timeout_s=0.5, correlationId=cid)
                return
            except AssertionError:
                continue
    raise AssertionError("the daemon did not answer an MQTT command within 20 s")
