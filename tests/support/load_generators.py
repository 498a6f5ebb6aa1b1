"""Background load on the daemon for the benchmarks, from a separate process so that its
work never takes the test process's GIL from the pty thread that timestamps serial bytes:

- GET /api/status at a steady rate over a few keep-alive connections;
- malformed MQTT dose commands (``volume_ml`` not a number) on ``{b}/cmd/X/dose``, which the
  daemon must parse, refuse and answer on ``{b}/cmd/result``: work, but no motor moves;
- optionally, WebSocket clients on ``/ws`` that keep listening to the live status feed (one
  thread each, reconnecting after any failure), as open dashboard tabs do.

A rate of 0 leaves that kind of load out.

``background_load(...)`` runs it for the length of a ``with`` block and then holds its
``LoadReport``. Run directly, the script prints ``ready`` once connected, loads until its
stdin closes (or ``--max-s`` passed), then prints one JSON line: the report's fields.
"""

from __future__ import annotations

import argparse
import http.client
import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect as ws_connect

HTTP_CONNECTIONS = 4


@dataclass(frozen=True)
class LoadReport:
    """What the generator did: ``seconds`` loaded; GET /api/status requests, failures and
    round trip p50/p99 (s); MQTT commands sent, answered and publish → answer p50/p99 (s);
    WebSocket clients asked for, how many were connected at the end, status messages they
    received, failed connections or dropped sockets (each followed by a reconnect), and the
    longest wait between two status messages on one socket (s)."""

    seconds: float
    http_requests: int
    http_errors: int
    http_p50_s: float
    http_p99_s: float
    mqtt_sent: int
    mqtt_answered: int
    mqtt_p50_s: float
    mqtt_p99_s: float
    ws_clients: int = 0
    ws_connected: int = 0
    ws_messages: int = 0
    ws_errors: int = 0
    ws_max_gap_s: float = 0.0


class LoadRun:
    """Filled with the generator's ``report`` when its ``with`` block ends normally."""

    report: LoadReport | None = None


@contextmanager
def background_load(
    http_port: int,
    http_rate: float,
    mqtt_port: int,
    base: str,
    mqtt_rate: float,
    *,
    host: str = "127.0.0.1",
    max_s: float = 300.0,
    ws_clients: int = 0,
) -> Iterator[LoadRun]:
    """The generator process, loading the daemon (HTTP on ``http_port``, requests/s, and
    ``ws_clients`` WebSocket listeners on its ``/ws``) and its broker (plain MQTT on
    ``mqtt_port``, commands/s to base topic ``base``) once this yields: every WebSocket
    client has connected (or tried for 10 s) by then. Stopped by closing its stdin (killed,
    by its PID, if it does not end in 20 s). ``max_s`` (s) bounds its life whatever
    happens here."""
    args = [sys.executable, __file__, f"--host={host}", f"--http-port={http_port}"]
    args += [f"--http-rate={http_rate}", f"--mqtt-port={mqtt_port}", f"--base={base}"]
    args += [f"--mqtt-rate={mqtt_rate}", f"--max-s={max_s}", f"--ws-clients={ws_clients}"]
    process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    run, out = LoadRun(), b""
    try:
        _wait_ready(process, timeout_s=30.0)
        yield run
    finally:
        try:
            out, _ = process.communicate(timeout=20.0)  # closes stdin: the generator stops
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10.0)
            raise
    assert process.returncode == 0, f"load generator exited {process.returncode}"
    run.report = LoadReport(**json.loads(out.splitlines()[-1]))


def _wait_ready(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout_s)
    line = process.stdout.readline() if readable else b""
    if line.strip() != b"ready":
        process.kill()
        process.wait(timeout=10.0)
        raise AssertionError(f"load generator not ready in {timeout_s} s: {line!r}")


def _paced(rate: float, stop: threading.Event, action: Callable[[int], None]) -> None:
    """Call ``action(0)``, ``action(1)``, … ``rate`` times a second until ``stop``; after a
    stall of over 1 s the schedule restarts rather than bursting to catch up."""
    interval, start, i = 1.0 / rate, time.monotonic(), 0
    while not stop.is_set():
        delay = start + i * interval - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return
        if delay < -1.0:
            start, i = time.monotonic(), 0
        action(i)
        i += 1


class _HttpLoad:
    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self.latencies: list[float] = []
        self.errors = 0
        self._conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=10)

    def get_status(self, _: int) -> None:
        t0 = time.monotonic()
        try:
            self._conn.request("GET", "/api/status")
            response = self._conn.getresponse()
            response.read()
            ok = response.status == 200
        except (ConnectionError, OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = self._connect()
            ok = False
        if ok:
            self.latencies.append(time.monotonic() - t0)
        else:
            self.errors += 1


class _MqttLoad:
    def __init__(self, host: str, port: int, base: str) -> None:
        self._base = base
        self._sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(host, port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(10.0):
            raise RuntimeError("no SUBACK within 10 s")

    @property
    def sent(self) -> int:
        with self._lock:
            return len(self._sent)

    def publish_malformed_dose(self, i: int) -> None:
        cid = f"load-{i:07d}-{time.monotonic_ns()}"
        body = {"volume_ml": "plenty", "flowRate_ml_min": 150, "correlationId": cid}
        with self._lock:
            self._sent[cid] = time.monotonic()
        self._client.publish(f"{self._base}/cmd/X/dose", json.dumps(body), qos=1)

    def wait_answers(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.latencies) >= len(self._sent):
                    return
            time.sleep(0.05)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        sock = client.socket()
        if isinstance(sock, socket.socket):  # as the daemon does: no Nagle delay per command
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.subscribe(f"{self._base}/cmd/result", 1)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        arrived = time.monotonic()
        cid = json.loads(message.payload).get("correlationId") or ""
        with self._lock:
            if cid in self._sent:
                self.latencies.append(arrived - self._sent[cid])


class _WsListener:
    """One dashboard-like client of ``url`` (``ws://host:port/ws``): reads every message,
    counts the status ones and the longest wait between two, and reconnects (after 0.2 s)
    whenever connecting fails or the socket drops, counting each such error."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.messages = self.errors = 0
        self.max_gap_s = 0.0
        self.connected = threading.Event()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with ws_connect(self._url, open_timeout=10, close_timeout=1) as socket_:
                    self.connected.set()
                    self._listen(socket_, stop)
            except (OSError, TimeoutError, WebSocketException):
                self.errors += 1
                stop.wait(0.2)
            finally:
                self.connected.clear()

    def _listen(self, socket_: Any, stop: threading.Event) -> None:
        last = None
        while not stop.is_set():
            try:
                raw = socket_.recv(timeout=0.5)
            except TimeoutError:
                continue
            if json.loads(raw).get("type") != "status":
                continue
            now = time.monotonic()
            if last is not None:
                self.max_gap_s = max(self.max_gap_s, now - last)
            last = now
            self.messages += 1


def _set_at_eof(stop: threading.Event) -> None:
    sys.stdin.buffer.read()
    stop.set()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--http-rate", type=float, default=200.0, help="GET /api/status per s")
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--base", required=True, help="the daemon's base topic")
    parser.add_argument("--mqtt-rate", type=float, default=100.0, help="commands per s")
    parser.add_argument("--max-s", type=float, default=300.0)
    parser.add_argument("--ws-clients", type=int, default=0, help="listeners on /ws")
    args = parser.parse_args(argv)

    stop = threading.Event()
    webs = [_HttpLoad(args.host, args.http_port) for _ in range(HTTP_CONNECTIONS)]
    webs = webs if args.http_rate > 0 else []
    broker = _MqttLoad(args.host, args.mqtt_port, args.base) if args.mqtt_rate > 0 else None
    jobs: list[tuple[float, Callable[[int], None]]] = [
        (args.http_rate / len(webs), web.get_status) for web in webs
    ]
    if broker is not None:
        jobs.append((args.mqtt_rate, broker.publish_malformed_dose))
    threads = [threading.Thread(target=_paced, args=(r, stop, a), daemon=True) for r, a in jobs]
    listeners = [
        _WsListener(f"ws://{args.host}:{args.http_port}/ws") for _ in range(args.ws_clients)
    ]
    ws_threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in listeners]
    for thread in ws_threads:
        thread.start()
    deadline = time.monotonic() + 10.0
    for listener in listeners:  # the listeners are part of the load from the start
        listener.connected.wait(max(0.0, deadline - time.monotonic()))
    print("ready", flush=True)
    started = time.monotonic()
    for thread in threads:
        thread.start()
    # stdin closing is the signal to stop; max_s bounds the run whatever the parent does
    threading.Thread(target=_set_at_eof, args=(stop,), daemon=True).start()
    stop.wait(args.max_s)
    ws_connected = sum(listener.connected.is_set() for listener in listeners)
    stop.set()
    seconds = time.monotonic() - started  # loaded time: the joins below are not load
    for thread in threads + ws_threads:
        thread.join(timeout=15.0)
    if broker is not None:
        broker.wait_answers(timeout_s=5.0)
        broker.close()
    mqtt_s = broker.latencies if broker is not None else []
    http_s = [t for web in webs for t in web.latencies]
    report = LoadReport(
        seconds=seconds,
        http_requests=len(http_s) + sum(web.errors for web in webs),
        http_errors=sum(web.errors for web in webs),
        http_p50_s=_percentile(http_s, 0.5),
        http_p99_s=_percentile(http_s, 0.99),
        mqtt_sent=broker.sent if broker is not None else 0,
        mqtt_answered=len(mqtt_s),
        mqtt_p50_s=_percentile(mqtt_s, 0.5),
        mqtt_p99_s=_percentile(mqtt_s, 0.99),
        ws_clients=len(listeners),
        ws_connected=ws_connected,
        ws_messages=sum(listener.messages for listener in listeners),
        ws_errors=sum(listener.errors for listener in listeners),
        ws_max_gap_s=max((listener.max_gap_s for listener in listeners), default=0.0),
    )
    print(json.dumps(asdict(report)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
