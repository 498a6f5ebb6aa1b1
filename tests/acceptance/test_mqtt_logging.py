"""Steps for features/mqtt_logging.feature (the user's Test 23; fake and real wiring)."""

from __future__ import annotations

from typing import Any

from pytest_bdd import scenarios, then

from support.daemon_harness import wait_for
from support.mqtt_world import MqttWorld

scenarios("mqtt_logging.feature")
STEP_ML = 0.05 * 0.004  # the simulated pumps' one step of axis travel


def events(world: MqttWorld) -> list[tuple[str, dict[str, Any]]]:
    assert world.broker is not None
    return world.broker.events()


def of_dose(world: MqttWorld, dose_id: str, event_type: str) -> list[dict[str, Any]]:
    return [
        m for _, m in events(world) if m.get("doseId") == dose_id and m["eventType"] == event_type
    ]


@then("the monitoring system receives a dispenseStart and a dispenseComplete for each dose")
def both_events(mqtt_world: MqttWorld) -> None:
    def all_there() -> bool:
        return all(
            of_dose(mqtt_world, d, "dispenseStart") and of_dose(mqtt_world, d, "dispenseComplete")
            for d in mqtt_world.dose_ids
        )

    wait_for(all_there, 15, "both events of every dose")


@then(
    "each dispenseComplete reports the actual volume within one step and a duration that fits "
    "the flow rate"
)
def volumes_and_durations(mqtt_world: MqttWorld) -> None:
    assert mqtt_world.daemon is not None
    history = {d["doseId"]: d for d in mqtt_world.daemon.call("GET", "/api/history")[1]["doses"]}
    for dose_id in mqtt_world.dose_ids:
        [complete] = of_dose(mqtt_world, dose_id, "dispenseComplete")[:1]
        assert complete["pump"] == "X" and complete["success"] is True
        assert complete["volume_ml"] == history[dose_id]["requestedVolume"]
        assert abs(complete["actualVolume_ml"] - complete["volume_ml"]) <= STEP_ML + 1e-9
        ideal_s = complete["volume_ml"] / complete["flowRate_ml_min"] * 60
        # at least the ideal time; acceleration and the 20 Hz polling add a little
        assert ideal_s * 0.95 <= complete["duration_sec"] <= ideal_s + 1.5


@then("the seq numbers have no gaps and the timestamps are in order")
def ordered(mqtt_world: MqttWorld) -> None:
    messages = [m for _, m in events(mqtt_world)]
    seqs = sorted({m["seq"] for m in messages})
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    by_seq = {m["seq"]: m["timestamp"] for m in messages}
    stamps = [by_seq[s] for s in seqs]
    assert stamps == sorted(stamps)
    assert all(s.endswith("Z") for s in stamps)
