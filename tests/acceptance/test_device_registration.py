"""Steps for features/device_registration.feature (the user's AC-001, 002, 004, 005)."""

from __future__ import annotations

import re
import threading
from typing import Any

from pytest_bdd import given, parsers, scenarios, then, when

from support.daemon_harness import wait_for
from support.mqtt_world import MqttWorld

scenarios("device_registration.feature")


def registrations(world: MqttWorld, topic: str | None = None) -> list[dict[str, Any]]:
    assert world.broker is not None
    return world.broker.registrations(topic)


def device_mac(world: MqttWorld) -> str:
    assert world.daemon is not None
    return str(world.daemon.app.adapters.identity().device_mac())


# Given


@given(parsers.parse('the device is named "{name}" at "{location}"'))
def named(mqtt_world: MqttWorld, name: str, location: str) -> None:
    """The configured name and location (defaults until changed over HTTP)."""
    mqtt_world.device_name, mqtt_world.location = name, location


@given(parsers.parse('the registration topic is "{topic}"'))
def registration_topic(mqtt_world: MqttWorld, topic: str) -> None:
    mqtt_world.registration_topic = topic


# When


@when(parsers.parse('I rename the device to "{name}" at "{location}" over HTTP'))
def rename(mqtt_world: MqttWorld, name: str, location: str) -> None:
    assert mqtt_world.daemon is not None
    status, body = mqtt_world.daemon.call(
        "POST", "/api/config", {"deviceName": name, "location": location}
    )
    assert status == 200, body


@when("I rename the device to an empty name over HTTP", target_fixture="response")
def rename_empty(mqtt_world: MqttWorld) -> tuple[int, Any]:
    assert mqtt_world.daemon is not None
    return mqtt_world.daemon.call("POST", "/api/config", {"deviceName": "", "location": "x"})


@when(
    parsers.parse(
        "{clients:d} HTTP clients rename the device {times:d} times each while the broker "
        "goes down and comes back"
    )
)
def hammer(mqtt_world: MqttWorld, clients: int, times: int) -> None:
    daemon, broker = mqtt_world.daemon, mqtt_world.broker
    assert daemon is not None and broker is not None
    failures: list[str] = []

    def renamer(client: int) -> None:
        for i in range(times):
            status, body = daemon.call(
                "POST",
                "/api/config",
                {"deviceName": f"Station {client}-{i}", "location": f"Bench {client}-{i}"},
            )
            if status != 200:
                failures.append(f"{status} {body}")

    threads = [threading.Thread(target=renamer, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for _ in range(2):  # two outages while the renames go on
        broker.stop()
        wait_for(lambda: daemon.mqtt_link()["state"] != "connected", 15, "the link to drop")
        broker.start()
        wait_for(lambda: daemon.mqtt_link()["state"] == "connected", 15, "the reconnection")
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []


# Then


@then("the device comes online on the configured broker")
def comes_online(mqtt_world: MqttWorld) -> None:
    assert mqtt_world.daemon is not None and mqtt_world.broker is not None
    device_id = mqtt_world.daemon.call("GET", "/api/config")[1]["deviceId"]
    topic = f"doser/{device_id}/availability"
    broker = mqtt_world.broker
    wait_for(lambda: "online" in broker.availability(topic), 15, f"online on {topic}")


@then(parsers.parse('its client id is "{prefix}" followed by the last three bytes of its MAC'))
def client_id(mqtt_world: MqttWorld, prefix: str) -> None:
    assert mqtt_world.daemon is not None
    device_id = mqtt_world.daemon.call("GET", "/api/config")[1]["deviceId"]
    assert re.fullmatch(re.escape(prefix) + r"[0-9A-F]{6}", device_id)
    assert device_id == prefix + device_mac(mqtt_world).replace(":", "")[-6:]


@then(
    parsers.parse(
        'the monitoring system receives a registration naming "{name}" at "{location}" '
        "with the device's MAC and IP address"
    )
)
def registration_received(mqtt_world: MqttWorld, name: str, location: str) -> None:
    [first, *_] = wait_for(lambda: registrations(mqtt_world), 15, "a registration")
    expected_ip = "127.0.0.1" if mqtt_world.real else "192.0.2.10"
    assert first == {
        "event_type": "register",
        "mac_address": device_mac(mqtt_world),
        "device_name": name,
        "ip_address": expected_ip,
        "location_description": location,
    }


@then("the HTTP API was already answering when the daemon connected to the broker")
def http_first(mqtt_world: MqttWorld) -> None:
    assert mqtt_world.daemon is not None
    assert mqtt_world.daemon.probe.http_up_at_connect[:1] == [True]


@then(parsers.parse('the monitoring system receives a registration on "{topic}"'))
def registration_on_topic(mqtt_world: MqttWorld, topic: str) -> None:
    wait_for(lambda: registrations(mqtt_world, topic), 15, f"a registration on {topic}")


@then(
    parsers.parse('the monitoring system receives a registration naming "{name}" at "{location}"')
)
def registration_naming(mqtt_world: MqttWorld, name: str, location: str) -> None:
    def named() -> bool:
        return any(
            r["device_name"] == name and r["location_description"] == location
            for r in registrations(mqtt_world)
        )

    wait_for(named, 15, f"a registration naming {name!r} at {location!r}")


@then(parsers.parse('the HTTP API reports the device as "{name}" at "{location}"'))
def http_reports(mqtt_world: MqttWorld, name: str, location: str) -> None:
    assert mqtt_world.daemon is not None
    body = mqtt_world.daemon.call("GET", "/api/config")[1]
    assert (body["deviceName"], body["location"]) == (name, location)


@then(parsers.parse('the request is refused with status {status:d} naming "{field}"'))
def refused(response: tuple[int, Any], status: int, field: str) -> None:
    assert response[0] == status
    assert response[1]["error"]["field"] == field


@then("every registration received pairs a name with the location written with it")
def never_torn(mqtt_world: MqttWorld) -> None:
    # the first, and one per reconnection (queued ones arrive after the observer is back)
    wait_for(lambda: len(registrations(mqtt_world)) >= 3, 15, "3 registrations")
    received = registrations(mqtt_world)
    for registration in received:
        name, location = registration["device_name"], registration["location_description"]
        if name.startswith("Station "):
            assert location == "Bench " + name.removeprefix("Station "), registration
        else:
            assert (name, location) == (mqtt_world.device_name, mqtt_world.location)


@then("the last registration received matches the stored name and location")
def last_matches(mqtt_world: MqttWorld) -> None:
    assert mqtt_world.daemon is not None
    body = mqtt_world.daemon.call("GET", "/api/config")[1]
    stored = (body["deviceName"], body["location"])

    def latest_matches() -> bool:
        received = registrations(mqtt_world)
        return (
            bool(received)
            and (
                received[-1]["device_name"],
                received[-1]["location_description"],
            )
            == stored
        )

    wait_for(latest_matches, 15, f"a registration of {stored}")
