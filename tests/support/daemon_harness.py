"""The daemon run in-process for acceptance scenarios, on fake or real adapters, and the
broker it talks to (the fake session, or a real mosquitto watched by a subscriber)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from adapters.fakes import FakeBrokerSession, FakeCommandSource, FakeTelemetryLink
from adapters.mqtt.commands import parse_command
from application.ports import BrokerSession
from bootstrap.containers import UseCases, Wiring, bootstrap
from bootstrap.daemon import Daemon
from bootstrap.settings import Settings
from domain.registration import DeviceRegistration
from support.mosquitto import Mosquitto
from support.mqtt_subscriber import Subscriber

TOKEN = "acceptance-token"


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``condition`` until truthy; ``AssertionError`` naming ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


def http(
    base_url: str, method: str, path: str, body: Any = None, token: str | None = TOKEN
) -> tuple[int, Any]:
    """One JSON request; returns (status, decoded body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token and method != "GET":
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class ProbingSession:
    """Wraps the wired ``BrokerSession``: before each connect it asks the daemon's HTTP API
    whether it answers, so a scenario can tell MQTT started only after HTTP listened."""

    def __init__(self, inner: BrokerSession, base_url: str) -> None:
        self.inner = inner
        self.http_up_at_connect: list[bool] = []
        self._base_url = base_url

    def connect(self, timeout_s: float) -> str:
        try:
            status, _ = http(self._base_url, "GET", "/healthz")
            self.http_up_at_connect.append(status == 200)
        except OSError:
            self.http_up_at_connect.append(False)
        return self.inner.connect(timeout_s)

    def wait_lost(self, timeout_s: float) -> str | None:
        return self.inner.wait_lost(timeout_s)

    def register(self, registration: DeviceRegistration) -> None:
        self.inner.register(registration)

    def disconnect(self) -> None:
        self.inner.disconnect()

    def __getattr__(self, name: str) -> Any:
        # publish, subscribe, generation, connected: the telemetry side, unprobed
        return getattr(self.inner, name)


class RunningDaemon:
    """``bootstrap.daemon.Daemon`` on a thread, as ``doser run`` runs it (no signals)."""

    def __init__(
        self,
        settings: Settings,
        wiring: Wiring,
        prepare: Callable[[UseCases], None] | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = f"http://127.0.0.1:{settings.http.port}"
        self.app: UseCases = bootstrap(settings.model_dump(mode="json"), wiring=wiring)
        if prepare is not None:  # e.g. override an adapter before anything is built
            prepare(self.app)
        self.probe = ProbingSession(self.app.adapters.broker(), self.base_url)
        self.app.adapters.broker.override(self.probe)
        self._daemon = Daemon(self.app, settings, wiring)
        self._thread = threading.Thread(target=self._daemon.run, name="daemon", daemon=True)

    def start(self) -> None:
        self._thread.start()
        wait_for(self._answers, 20, "the HTTP API")

    def stop(self) -> None:
        self._daemon.request_stop()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the daemon did not stop"

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http(self.base_url, method, path, body)

    def mqtt_link(self) -> dict[str, Any]:
        return dict(self.call("GET", "/api/config")[1]["mqtt"])

    def _answers(self) -> bool:
        try:
            return self.call("GET", "/healthz")[0] == 200
        except OSError:
            return False


class FakeBroker:
    """The fake session and telemetry link seen as a broker: what they received, commands
    delivered as the MQTT adapter would parse them, and switching it all off and on."""

    def __init__(
        self,
        session: FakeBrokerSession,
        registration_topic: str,
        telemetry: FakeTelemetryLink,
        commands: FakeCommandSource,
        base: str,
    ) -> None:
        self.session = session
        self.registration_topic = registration_topic
        self.telemetry = telemetry
        self.commands = commands
        self.base = base

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """(topic suffix, message) of every outbox message delivered, duplicates included."""
        return [(e.kind.value, e.message()) for e in list(self.telemetry.delivered)]

    def command_results(self) -> list[dict[str, Any]]:
        return [p for what, p in list(self.telemetry.published) if what == "cmd/result"]

    def send_command(self, suffix: str, payload: bytes) -> None:
        topic = f"{self.base}/{suffix}"
        request = parse_command(self.base, topic, payload, None)
        assert request is not None, topic
        self.commands.deliver(request)

    def registrations(self, topic: str | None = None) -> list[dict[str, Any]]:
        topic = topic or self.registration_topic
        return [json.loads(p) for t, p in list(self.session.published) if t == topic]

    def availability(self, topic: str) -> list[str]:
        return [p for t, p in list(self.session.published) if t == topic]

    def stop(self) -> None:
        self.session.up = False
        self.session.drop("broker stopped")
        self.telemetry.up = False

    def start(self) -> None:
        self.session.up = True
        self.telemetry.reconnect()


class RealBroker:
    """A real mosquitto and a subscriber to every topic on it (the monitoring system)."""

    def __init__(
        self,
        mosquitto: Mosquitto,
        registration_topic: str,
        login: tuple[str, str] = ("", ""),
    ) -> None:
        self.mosquitto = mosquitto
        self.registration_topic = registration_topic
        self._login = login
        self._subscriber: Subscriber | None = None
        self.base = ""  # set once the daemon says its device id

    def watch(self) -> None:
        """Subscribe to ``#`` (needs the broker up); messages before this are not seen."""
        username, password = self._login
        self._subscriber = Subscriber(
            self.mosquitto.host, self.mosquitto.port, "#", username=username, password=password
        )
        self._subscriber.__enter__()

    def close(self) -> None:
        if self._subscriber is not None:
            self._subscriber.__exit__()

    def registrations(self, topic: str | None = None) -> list[dict[str, Any]]:
        topic = topic or self.registration_topic
        assert self._subscriber is not None
        return [json.loads(m.payload) for m in self._subscriber.messages if m.topic == topic]

    def availability(self, topic: str) -> list[str]:
        assert self._subscriber is not None
        return [m.payload for m in self._subscriber.messages if m.topic == topic]

    def stop(self) -> None:
        self.mosquitto.stop()

    def start(self) -> None:
        self.mosquitto.start()

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """(topic suffix, message) of every outbox message received, duplicates included."""
        assert self._subscriber is not None
        kinds = ("dispense/event", "dispense/complete", "alarm")
        return [
            (m.topic.split("/", 2)[2], json.loads(m.payload))
            for m in self._subscriber.messages
            if m.topic.endswith(kinds) and m.topic.count("/") >= 2
        ]

    def command_results(self) -> list[dict[str, Any]]:
        assert self._subscriber is not None
        return [
            json.loads(m.payload)
            for m in self._subscriber.messages
            if m.topic.endswith("/cmd/result")
        ]

    def send_command(self, suffix: str, payload: bytes) -> None:
        """Publish as the monitoring system would (QoS 1) and wait for the PUBACK."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        username, password = self._login
        if username:
            client.username_pw_set(username, password)
        client.connect(self.mosquitto.host, self.mosquitto.port)
        client.loop_start()
        try:
            client.publish(f"{self.base}/{suffix}", payload, qos=1).wait_for_publish(10)
        finally:
            client.disconnect()
            client.loop_stop()
