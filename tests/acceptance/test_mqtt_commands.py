"""Steps for features/mqtt_commands.feature (fake and real wiring)."""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, scenarios, then

from support.daemon_harness import wait_for
from support.mqtt_world import MqttWorld

scenarios("mqtt_commands.feature")


def results(world: MqttWorld, correlation_id: str | None = None) -> list[dict[str, Any]]:
    assert world.broker is not None
    found = world.broker.command_results()
    return [r for r in found if correlation_id is None or r["correlationId"] == correlation_id]


def journal(world: MqttWorld) -> list[dict[str, Any]]:
    assert world.daemon is not None
    return list(world.daemon.call("GET", "/api/history")[1]["doses"])


# When


# Then


@then(parsers.parse('a result for "{correlation_id}" says ok with a dose id'))
def ok_with_dose(mqtt_world: MqttWorld, correlation_id: str) -> None:
    [result] = results(mqtt_world, correlation_id)
    assert result["ok"] is True and result["error"] is None and result["doseId"]
    mqtt_world.dose_id = result["doseId"]


@then(parsers.parse('a result for "{correlation_id}" says ok'))
def ok(mqtt_world: MqttWorld, correlation_id: str) -> None:
    [result] = results(mqtt_world, correlation_id)
    assert result["ok"] is True and result["error"] is None


@then(parsers.parse("that dose completes with {volume:g} ml delivered"))
def completes(mqtt_world: MqttWorld, volume: float) -> None:
    def done() -> dict[str, Any] | None:
        rows = [d for d in journal(mqtt_world) if d["doseId"] == mqtt_world.dose_id]
        return rows[0] if rows and rows[0]["outcome"] != "running" else None

    row = wait_for(done, 15, "the dose to end")
    assert row["outcome"] == "completed"
    assert abs(row["actualVolume"] - volume) <= 0.05 * 0.004 + 1e-9


@then(parsers.parse('{count:d} results for "{correlation_id}" name the same dose'))
def same_dose(mqtt_world: MqttWorld, count: int, correlation_id: str) -> None:
    found = results(mqtt_world, correlation_id)
    assert len(found) == count
    assert len({r["doseId"] for r in found}) == 1 and all(r["ok"] for r in found)


@then(parsers.parse("the journal holds {count:d} dose"))
@then(parsers.parse("the journal holds {count:d} doses"))
def journal_holds(mqtt_world: MqttWorld, count: int) -> None:
    assert len(journal(mqtt_world)) == count


@then("no dose ran")
def no_dose_ran(mqtt_world: MqttWorld) -> None:
    # a safety rule's refusal is journaled (0 ml, outcome refused); nothing else may be
    assert [r["outcome"] for r in journal(mqtt_world) if r["outcome"] != "refused"] == []
    assert all(r["actualVolume"] == 0 for r in journal(mqtt_world))


@then("the journal shows the dose stopped")
def dose_stopped(mqtt_world: MqttWorld) -> None:
    [row] = journal(mqtt_world)
    assert row["outcome"] == "stopped"


@then(parsers.parse('an error result "{code}" arrives'))
def error_result(mqtt_world: MqttWorld, code: str) -> None:
    result = results(mqtt_world)[-1]
    assert result["ok"] is False and result["code"] == code and result["error"]
