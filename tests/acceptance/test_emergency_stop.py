"""Steps for features/emergency_stop.feature (fake and real wiring)."""

from __future__ import annotations

from pytest_bdd import parsers, scenarios, then, when

from bootstrap.containers import UseCases
from support.daemon_harness import RunningDaemon, wait_for
from support.mqtt_world import MqttWorld

scenarios("emergency_stop.feature")


def daemon(world: MqttWorld) -> RunningDaemon:
    assert world.daemon is not None
    return world.daemon


# When


@when(parsers.parse('pump "{pump}" has started dosing'))
def started(mqtt_world: MqttWorld, pump: str) -> None:
    def dosing() -> bool:
        pumps = daemon(mqtt_world).call("GET", "/api/pumps")[1]
        return any(p["id"] == pump and (p["dispensedVolume"] or 0) > 0.1 for p in pumps)

    wait_for(dosing, 10, f"pump {pump} to deliver something")


@when("I press the emergency stop over HTTP")
def press(mqtt_world: MqttWorld) -> None:
    status, body = daemon(mqtt_world).call("POST", "/api/emergency-stop")
    assert (status, body) == (200, {"state": "EMERGENCY", "latched": True})


@when("I reset the emergency stop over HTTP")
def reset(mqtt_world: MqttWorld) -> None:
    status, body = daemon(mqtt_world).call("POST", "/api/emergency-stop/reset")
    assert status == 200 and body["latched"] is False


@when("the daemon restarts")
def restarts(mqtt_world: MqttWorld) -> None:
    old = daemon(mqtt_world)
    old.stop()
    nvs = old.app.adapters.nvs()

    def same_nvs(app: UseCases) -> None:
        if not mqtt_world.real:  # the fake NVS lives in memory: hand the same one over
            app.adapters.nvs.override(nvs)

    new = RunningDaemon(old.settings, mqtt_world.wiring, same_nvs)  # type: ignore[arg-type]
    mqtt_world.daemon = new
    new.start()


# Then


@then(parsers.parse("the journal shows the dose stopped with less than {volume:g} ml delivered"))
def stopped(mqtt_world: MqttWorld, volume: float) -> None:
    [row] = daemon(mqtt_world).call("GET", "/api/history")[1]["doses"]
    assert row["outcome"] == "stopped"
    assert 0 < row["actualVolume"] < volume


@then(parsers.parse("the system state is {state}"))
def system_state(mqtt_world: MqttWorld, state: str) -> None:
    wait_for(
        lambda: daemon(mqtt_world).call("GET", "/api/status")[1]["state"] == state,
        5,
        f"state {state}",
    )


@then(parsers.parse('a dose over HTTP is refused as "{code}"'))
def refused(mqtt_world: MqttWorld, code: str) -> None:
    status, body = daemon(mqtt_world).call(
        "POST", "/api/pump/X/dispense", {"volume": 1, "flowRate": 60}
    )
    assert status == 409 and body["error"]["code"] == code


@then(parsers.parse('a dose of {volume:g} ml on pump "{pump}" at {flow:g} ml/min is accepted'))
def accepted(mqtt_world: MqttWorld, volume: float, pump: str, flow: float) -> None:
    status, body = daemon(mqtt_world).call(
        "POST", f"/api/pump/{pump}/dispense", {"volume": volume, "flowRate": flow}
    )
    assert status == 202, body


@then("the monitoring system receives an emergencyStop alarm")
def alarm(mqtt_world: MqttWorld) -> None:
    assert mqtt_world.broker is not None
    broker = mqtt_world.broker

    def alarmed() -> bool:
        return any(
            kind == "alarm" and message.get("alarmType") == "emergencyStop"
            for kind, message in broker.events()
        )

    wait_for(alarmed, 10, "the emergencyStop alarm")
