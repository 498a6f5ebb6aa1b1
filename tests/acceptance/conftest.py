"""Acceptance wiring: every scenario runs twice, on the fakes and on the real adapters (the
Grbl adapter talking to the Grbl simulator over a real pty, SQLite, paho-mqtt talking to a
real mosquitto). Shared steps live here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from pytest_bdd import given, parsers, then, when

from bootstrap.containers import UseCases, bootstrap
from bootstrap.settings import HttpSettings, PumpSettings, Settings
from support.daemon_harness import wait_for
from support.mqtt_world import MqttWorld
from support.weigh_rig import WeighRig


class Daemon:
    """The container with its control-plane thread running, as the daemon runs it."""

    def __init__(self, app: UseCases, wiring: str) -> None:
        self.app = app
        self.wiring = wiring
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=app.control_plane().run, args=(self._stop,), name="control-plane"
        )

    def start(self) -> None:
        self.app.init_resources()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.app.shutdown_resources()

    def axis_positions(self) -> dict[str, float]:
        """Where each axis is (mm), read from the device itself, not the daemon."""
        if self.wiring == "fake":
            status = self.app.adapters.controller().status()
            return dict(status.positions_mm)
        return dict(self.app.adapters.simulator().positions_mm())


@pytest.fixture(params=["fake", "simulated"], autouse=True)
def wiring(request: pytest.FixtureRequest) -> str:
    """Each scenario runs twice: on the fakes and on the real adapter against the simulator."""
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path) -> dict[str, Any]:
    """The daemon's settings as bootstrap receives them; scenarios add their pumps."""
    configured = Settings(data_dir=tmp_path, http=HttpSettings(token="acceptance-token"))
    return configured.model_dump(mode="json")


@pytest.fixture
def daemon_factory(settings: dict[str, Any], wiring: str) -> Iterator[Any]:
    started: list[Daemon] = []

    def start(**adapters: Any) -> Daemon:
        """Start a daemon; ``adapters`` replace its adapters by provider name (what a
        restarted fake daemon must find again: its journal, its stores)."""
        app = bootstrap(settings, wiring=wiring)  # type: ignore[arg-type]
        for name, adapter in adapters.items():
            getattr(app.adapters, name).override(providers.Object(adapter))
        daemon = Daemon(app, wiring)
        daemon.start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


# --- MQTT scenarios: the daemon in-process, and the broker it talks to -----------------


@pytest.fixture
def mqtt_world(wiring: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MqttWorld]:
    world = MqttWorld(wiring, tmp_path, request)
    yield world
    world.close()


# Given


@given("the broker is down")
def broker_down(mqtt_world: MqttWorld) -> None:
    """No broker answers at the configured address."""
    mqtt_world.broker_down = True


@given("the daemon is running and registered")
def running_and_registered(mqtt_world: MqttWorld) -> None:
    """Start the daemon and wait for its first registration."""
    mqtt_world.start()
    assert mqtt_world.broker is not None
    wait_for(mqtt_world.broker.registrations, 15, "the first registration")


# When


@when("the daemon starts")
def daemon_starts(mqtt_world: MqttWorld) -> None:
    """Start the daemon in-process in the user's start order."""
    mqtt_world.start()


@when("the broker is stopped")
def broker_stopped(mqtt_world: MqttWorld) -> None:
    """Stop the broker and wait until the daemon noticed."""
    assert mqtt_world.daemon is not None and mqtt_world.broker is not None
    mqtt_world.broker.stop()
    daemon = mqtt_world.daemon
    wait_for(lambda: daemon.mqtt_link()["state"] != "connected", 15, "the link to drop")


@when("the broker is started again")
def broker_started(mqtt_world: MqttWorld) -> None:
    """Start the broker again (same address)."""
    assert mqtt_world.broker is not None
    mqtt_world.registrations_before = len(mqtt_world.broker.registrations())
    mqtt_world.broker.start()


@when(parsers.parse('I dose {volume:g} ml on pump "{pump}" at {flow:g} ml/min over HTTP'))
def dose_over_http(mqtt_world: MqttWorld, volume: float, pump: str, flow: float) -> None:
    """Ask for a dose through the HTTP API; it must be accepted."""
    assert mqtt_world.daemon is not None
    status, body = mqtt_world.daemon.call(
        "POST", f"/api/pump/{pump}/dispense", {"volume": volume, "flowRate": flow}
    )
    assert status == 202, body
    mqtt_world.dose_id = body["doseId"]
    mqtt_world.dose_ids.append(body["doseId"])


@when(parsers.re(r'the monitoring system sends (?P<payload>.+) to "(?P<topic>[^"]+)"'))
def sends(mqtt_world: MqttWorld, payload: str, topic: str) -> None:
    """Publish a command as the monitoring system does."""
    broker = mqtt_world.broker
    assert broker is not None
    before = len(broker.command_results())
    broker.send_command(topic, payload.encode())
    wait_for(lambda: len(broker.command_results()) > before, 15, f"a result for {topic}")


# Then


@when(parsers.parse("the dose completes within {seconds:d} seconds"))
@then(parsers.parse("the dose completes within {seconds:d} seconds"))
def dose_completes(mqtt_world: MqttWorld, seconds: int) -> None:
    """The last dose asked for ends as completed."""
    assert mqtt_world.daemon is not None
    daemon, dose_id = mqtt_world.daemon, mqtt_world.dose_id

    def outcome() -> str | None:
        doses = daemon.call("GET", "/api/history")[1]["doses"]
        found = [d["outcome"] for d in doses if d["doseId"] == dose_id]
        return found[0] if found and found[0] != "running" else None

    assert wait_for(outcome, seconds, "the dose to end") == "completed"


# --- Weighing scenarios: the daemon on the bench (pumps pour into a beaker on the scale) --


@pytest.fixture
def weighing(settings: dict[str, Any], daemon_factory: Any) -> WeighRig:
    return WeighRig(settings, daemon_factory)


# Given


@given(parsers.parse('pump "{pump}" pours into a beaker on the scale at up to {flow:g} ml/min'))
def pump_on_bench(weighing: WeighRig, pump: str, flow: float) -> None:
    """One pump, 0.05 ml/mm by config (the bench's truth differs a little), and a dribble
    of 20 ml/min."""
    spec = PumpSettings(id=pump, name=f"pump {pump}", ml_per_mm=0.05, max_flow_ml_min=flow)
    weighing.settings["pumps"] = [spec.model_dump(mode="json")]
    # a quicker dribble than the default keeps the scenarios short; the rule is the same
    weighing.settings["scale"]["slow_flow_ml_min"] = 20.0




# Then


@then(parsers.parse("the beaker really holds {grams:g} g within {tolerance:g} g"))
def beaker_holds(weighing: WeighRig, grams: float, tolerance: float) -> None:
    """What truly landed in the beaker (the bench), not what the daemon thinks."""
    wait_for(lambda: weighing.bench.in_flight_g() < 1e-4, 5, "the last drops to land")
    assert abs(weighing.bench.beaker_liquid_g() - grams) <= tolerance


