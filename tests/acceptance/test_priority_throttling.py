"""Steps for features/priority_throttling.feature: the drainer stepped by hand on the
fake link, or on the real paho session and outbox talking to a real mosquitto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from bootstrap.containers import UseCases, bootstrap
from bootstrap.settings import SIMULATED_PUMPS, MqttSettings, Settings
from domain.status import ControllerView, SystemSnapshot, SystemState
from domain.telemetry import MessageKind, Severity
from support.daemon_harness import wait_for
from support.mosquitto import Mosquitto
from support.mqtt_subscriber import Subscriber

scenarios("priority_throttling.feature")


class DrainWorld:
    def __init__(self, wiring: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.wiring, self.tmp_path, self.request = wiring, tmp_path, request
        self.capacity = 10_000
        self.app: UseCases | None = None
        self.subscriber: Subscriber | None = None
        self.pending = 0
        self.alarm = False

    @property
    def real(self) -> bool:
        return self.wiring != "fake"

    def build(self) -> UseCases:
        url = "ws://127.0.0.1:9/mqtt"
        if self.real:
            mosquitto: Mosquitto = self.request.getfixturevalue("mosquitto")
            url = mosquitto.ws_url
            self.subscriber = Subscriber(mosquitto.host, mosquitto.port, "doser/#")
            self.subscriber.__enter__()
        settings = Settings(
            data_dir=self.tmp_path / "var",
            mqtt=MqttSettings(url=url, outbox_capacity=self.capacity),
            pumps=SIMULATED_PUMPS,
        )
        self.app = bootstrap(settings.model_dump(mode="json"), wiring=self.wiring)  # type: ignore[arg-type]
        self.app.init_resources()
        if self.real:
            self.app.adapters.broker().connect(5.0)
        return self.app

    def close(self) -> None:
        if self.app is not None:
            self.app.adapters.broker().disconnect()
            self.app.shutdown_resources()
        if self.subscriber is not None:
            self.subscriber.__exit__()

    def sent(self) -> list[dict[str, Any]]:
        """Outbox messages the broker side received, in order."""
        assert self.app is not None
        if not self.real:
            return [e.message() for e in self.app.adapters.telemetry().delivered]
        assert self.subscriber is not None
        kinds = ("/dispense/complete", "/alarm")
        return [json.loads(m.payload) for m in self.subscriber.messages if m.topic.endswith(kinds)]

    def published(self, suffix: str) -> list[dict[str, Any]]:
        assert self.app is not None
        if not self.real:
            return [p for what, p in self.app.adapters.telemetry().published if what == suffix]
        assert self.subscriber is not None
        return [
            json.loads(m.payload)
            for m in self.subscriber.messages
            if m.topic.endswith("/" + suffix)
        ]

    def in_state(self, state: SystemState) -> None:
        assert self.app is not None
        self.app.adapters.board().publish(SystemSnapshot(state, (), ControllerView(True, "Idle")))


@pytest.fixture
def drain_world(
    wiring: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[DrainWorld]:
    world = DrainWorld(wiring, tmp_path, request)
    yield world
    world.close()


# Given


@given(parsers.parse("{count:d} dose events are waiting to be sent"))
def waiting(drain_world: DrainWorld, count: int) -> None:
    drain_world.pending = count


@given("an alarm is raised")
def alarm_raised(drain_world: DrainWorld) -> None:
    drain_world.alarm = True


@given(parsers.parse("the outbox holds at most {capacity:d} messages"))
def capacity(drain_world: DrainWorld, capacity: int) -> None:
    drain_world.capacity = capacity


def fill(world: DrainWorld) -> UseCases:
    app = world.build()
    outbox = app.adapters.outbox()
    for n in range(world.pending):
        outbox.append(MessageKind.DISPENSE_COMPLETE, {"eventType": "dispenseComplete", "n": n})
    if world.alarm:
        app.record_telemetry().raise_alarm("emergencyStop", "stop pressed", Severity.CRITICAL)
    return app


# When


@when("the device is idle")
def idle(drain_world: DrainWorld) -> None:
    fill(drain_world)
    drain_world.in_state(SystemState.IDLE)


@when("a pump is dosing")
def dosing(drain_world: DrainWorld) -> None:
    fill(drain_world)
    drain_world.in_state(SystemState.DISPENSING)


@when("the device is in an emergency")
def emergency(drain_world: DrainWorld) -> None:
    fill(drain_world)
    drain_world.in_state(SystemState.EMERGENCY)


@when("the status is published")
def status_published(drain_world: DrainWorld) -> None:
    app = fill(drain_world)
    drain_world.in_state(SystemState.IDLE)
    app.publish_status().tick()


# Then


@then(parsers.parse("one drain step sends {count:d} messages and pauses {ms:d} ms"))
@then(parsers.parse("one drain step sends {count:d} message and pauses {ms:d} ms"))
def one_step(drain_world: DrainWorld, count: int, ms: int) -> None:
    assert drain_world.app is not None
    pause_s = drain_world.app.drainer().step()
    assert pause_s == pytest.approx(ms / 1000)
    wait_for(lambda: len(drain_world.sent()) >= count, 10, f"{count} messages")
    time.sleep(0.2)  # a step that sent too many would show by now
    assert [m["n"] for m in drain_world.sent()] == list(range(count))


@then("one drain step sends the alarm first")
def alarm_first(drain_world: DrainWorld) -> None:
    assert drain_world.app is not None
    drain_world.app.drainer().step()
    wait_for(drain_world.sent, 10, "the first message")
    assert drain_world.sent()[0]["eventType"] == "alarm"


@then(parsers.parse("the queue status reports {depth:d} of {capacity:d} with a warning"))
def queue_warning(drain_world: DrainWorld, depth: int, capacity: int) -> None:
    [status] = wait_for(lambda: drain_world.published("queue/status"), 10, "queue status")
    assert (status["depth"], status["capacity"], status["warning"]) == (depth, capacity, True)
