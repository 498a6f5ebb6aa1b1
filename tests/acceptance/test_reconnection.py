"""Steps for features/reconnection.feature (the user's AC-003 and the outage cases)."""

from __future__ import annotations

from pytest_bdd import given, parsers, scenarios, then, when

from adapters.fakes import ManualSleeper
from bootstrap.containers import bootstrap
from support.daemon_harness import wait_for
from support.mqtt_world import MqttWorld

scenarios("reconnection.feature")


# Given


@given("the broker refuses the device's credentials")
def refuses(mqtt_world: MqttWorld) -> None:
    mqtt_world.refused = True


# When


@when(
    parsers.parse("the daemon has tried to connect {attempts:d} times on a fake clock"),
    target_fixture="sleeper",
)
def tries_on_fake_clock(mqtt_world: MqttWorld, attempts: int) -> ManualSleeper:
    """The user's backoff, in seconds as configured by default, without waiting for it."""
    url, _, _ = mqtt_world.broker_url()
    settings = mqtt_world.settings(url)
    mqtt = settings.mqtt.model_copy(update={"backoff_initial_s": 30.0, "backoff_max_s": 3600.0})
    app = bootstrap(
        settings.model_copy(update={"mqtt": mqtt}).model_dump(mode="json"), wiring=mqtt_world.wiring
    )  # type: ignore[arg-type]
    sleeper = ManualSleeper(stop_after=attempts)
    app.adapters.sleeper.override(sleeper)
    if not mqtt_world.real:
        app.adapters.broker().up = False
    app.supervisor().run()
    return sleeper


# Then


@then(parsers.parse("it waited {waits} seconds between attempts"))
def waited(sleeper: ManualSleeper, waits: str) -> None:
    expected = [float(w) for w in waits.replace(" and ", ", ").split(", ")]
    assert sleeper.waits == expected


@then("the daemon reconnects and registers again")
def reregisters(mqtt_world: MqttWorld) -> None:
    assert mqtt_world.daemon is not None and mqtt_world.broker is not None
    broker, daemon = mqtt_world.broker, mqtt_world.daemon
    before = mqtt_world.registrations_before

    def reconnected_and_registered() -> bool:
        return daemon.mqtt_link()["state"] == "connected" and len(broker.registrations()) > before

    wait_for(reconnected_and_registered, 15, "the reconnection and a new registration")


@then("the daemon keeps retrying with growing waits")
def keeps_retrying(mqtt_world: MqttWorld) -> None:
    assert mqtt_world.daemon is not None
    daemon = mqtt_world.daemon
    wait_for(lambda: daemon.mqtt_link()["failures"] >= 3, 20, "three failed attempts")
    link = daemon.mqtt_link()
    initial, cap = 0.2, 1.6  # the scenario's configured backoff
    assert link["nextRetrySec"] == min(initial * 2 ** (link["failures"] - 1), cap)


@then("the link status shows the broker's reason")
def shows_reason(mqtt_world: MqttWorld) -> None:
    assert mqtt_world.daemon is not None
    reason = (mqtt_world.daemon.mqtt_link()["lastError"] or "").lower()
    assert "not authori" in reason or "bad user name or password" in reason, reason


@then("the link status shows the daemon waiting to reconnect")
def waiting(mqtt_world: MqttWorld) -> None:
    assert mqtt_world.daemon is not None
    link = mqtt_world.daemon.mqtt_link()
    assert link["state"] in ("waiting", "connecting")
    assert link["failures"] >= 1
