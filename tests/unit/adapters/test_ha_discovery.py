"""Home Assistant discovery configs: the topics, ids, device block and templates Home
Assistant needs to show each pump as a device it can dose from."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.mqtt.ha_discovery import (
    HaDevice,
    HaPump,
    discovery_messages,
    ha_status_topic,
    removal_messages,
)

BASE = "doser/doser_A1B2C3"
AVAILABILITY = f"{BASE}/availability"
DEVICE = HaDevice("A0:B1:C2:A1:B2:C3", "Bench doser", "doser-pi", "1.2.3")
PUMPS = [HaPump("X", "DMDEE", 50.0, 15.0), HaPump("Y", "T-12", 20.0, 10.0)]
# Home Assistant core's VALID_ENTITY_ID (homeassistant/core.py).
VALID_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")


def build(
    pumps: list[HaPump] | None = None, base: str = BASE, device: HaDevice = DEVICE
) -> list[tuple[str, str]]:
    return discovery_messages(
        device,
        PUMPS if pumps is None else pumps,
        discovery_prefix="homeassistant",
        base=base,
        availability_topic=AVAILABILITY,
    )


def configs() -> dict[str, dict[str, Any]]:
    return {topic: json.loads(payload) for topic, payload in build()}


def entity(topic_tail: str) -> dict[str, Any]:
    return configs()[f"homeassistant/{topic_tail}/config"]


def render(template: str, status: dict[str, Any]) -> str:
    """Render a one-expression template the way Jinja would: these expressions are also
    Python, and Jinja prints None and floats as str() does."""
    match = re.fullmatch(r"\{\{ (.+) \}\}", template)
    assert match, template
    value_json = json.loads(json.dumps(status), object_hook=lambda d: SimpleNamespace(**d))
    return str(eval(match.group(1), {"__builtins__": {}}, {"value_json": value_json}))


STATUS = {"state": "dosing", "lastDose_ml": 2.5, "dosedToday_ml": 12.5, "doseVolume_ml": 5.0}


def test_each_pump_gets_five_entities_plus_one_system_sensor_under_the_device_node() -> None:
    assert [topic for topic, _ in build()[:5]] == [
        "homeassistant/button/doser_A1B2C3/X_dose/config",
        "homeassistant/number/doser_A1B2C3/X_dose_volume/config",
        "homeassistant/binary_sensor/doser_A1B2C3/X_running/config",
        "homeassistant/sensor/doser_A1B2C3/X_last_dose/config",
        "homeassistant/sensor/doser_A1B2C3/X_dosed_today/config",
    ]
    assert len(build()) == 11
    assert build()[-1][0] == "homeassistant/sensor/doser_A1B2C3/system_state/config"


def test_every_payload_is_json_with_device_block_availability_and_origin() -> None:
    for payload in configs().values():
        assert payload["device"] == {
            "identifiers": ["doser_A0B1C2A1B2C3"],
            "connections": [["mac", "a0:b1:c2:a1:b2:c3"]],
            "name": "Bench doser",
            "model": "doser-pi",
            "sw_version": "1.2.3",
            "manufacturer": "doser",
        }
        assert payload["availability_topic"] == AVAILABILITY
        assert (payload["payload_available"], payload["payload_not_available"]) == (
            "online",
            "offline",
        )
        assert payload["origin"]["name"] == "doser"
        assert payload["icon"].startswith("mdi:")


def test_unique_ids_are_unique_and_stable_and_entity_ids_valid() -> None:
    payloads = list(configs().values())
    unique_ids = [p["unique_id"] for p in payloads]
    assert len(set(unique_ids)) == len(unique_ids)
    assert "doser_A1B2C3_X_dose" in unique_ids
    assert "doser_A1B2C3_system_state" in unique_ids
    for payload in payloads:
        assert VALID_ENTITY_ID.match(payload["default_entity_id"]), payload["default_entity_id"]
    assert entity("button/doser_A1B2C3/X_dose")["default_entity_id"] == (
        "button.doser_a1b2c3_x_dose"
    )


def test_the_dose_button_sends_a_json_press_to_the_pump_dose_command() -> None:
    button = entity("button/doser_A1B2C3/X_dose")
    assert button["name"] == "Dose DMDEE"
    assert button["command_topic"] == f"{BASE}/cmd/X/dose"
    assert json.loads(button["payload_press"]) == {"source": "homeassistant"}
    assert "state_topic" not in button


def test_the_dose_volume_box_is_bounded_by_the_pump_and_reads_the_status() -> None:
    number = entity("number/doser_A1B2C3/Y_dose_volume")
    assert number["command_topic"] == f"{BASE}/cmd/Y/dose_volume"
    assert number["state_topic"] == f"{BASE}/pump/Y/status"
    assert (number["min"], number["max"], number["step"]) == (0.1, 20.0, 0.1)
    assert (number["mode"], number["unit_of_measurement"]) == ("box", "mL")
    assert render(number["value_template"], STATUS) == "5.0"


@pytest.mark.parametrize(
    ("state", "shown"), [("dosing", "ON"), ("holding", "ON"), ("idle", "OFF"), ("fault", "OFF")]
)
def test_running_is_on_while_dosing_or_holding(state: str, shown: str) -> None:
    running = entity("binary_sensor/doser_A1B2C3/X_running")
    assert running["device_class"] == "running"
    assert (running["payload_on"], running["payload_off"]) == ("ON", "OFF")
    assert render(running["value_template"], {**STATUS, "state": state}) == shown


def test_volume_sensors_use_ml_and_only_state_classes_volume_allows() -> None:
    last = entity("sensor/doser_A1B2C3/X_last_dose")
    today = entity("sensor/doser_A1B2C3/X_dosed_today")
    for sensor in (last, today):
        assert (sensor["device_class"], sensor["unit_of_measurement"]) == ("volume", "mL")
        assert sensor["state_topic"] == f"{BASE}/pump/X/status"
    assert "state_class" not in last
    assert today["state_class"] == "total_increasing"
    assert render(last["value_template"], STATUS) == "2.5"
    assert render(today["value_template"], STATUS) == "12.5"


def test_no_last_dose_yet_renders_none_which_home_assistant_shows_as_unknown() -> None:
    last = entity("sensor/doser_A1B2C3/X_last_dose")
    assert render(last["value_template"], {**STATUS, "lastDose_ml": None}) == "None"


def test_the_system_state_sensor_reads_the_daemon_status() -> None:
    system = entity("sensor/doser_A1B2C3/system_state")
    assert system["state_topic"] == f"{BASE}/status"
    assert render(system["value_template"], {"state": "IDLE"}) == "IDLE"


def test_templates_render_the_same_in_jinja_when_it_is_installed() -> None:
    jinja2 = pytest.importorskip("jinja2")
    templated = [p for p in configs().values() if "value_template" in p]
    assert len(templated) == 9
    for payload in templated:
        template = jinja2.Environment().from_string(payload["value_template"])
        status = STATUS if "pump" in payload["state_topic"] else {"state": "IDLE"}
        assert template.render(value_json=status) == render(payload["value_template"], status)


def test_node_id_is_the_device_id_cut_to_the_characters_discovery_allows() -> None:
    topics = [topic for topic, _ in build(base="doser/doser A1.B2+C3/")]
    assert topics[0] == "homeassistant/button/doser_A1_B2_C3/X_dose/config"
    messages = build([HaPump("pump 1", "Acid", 5.0, 1.0)])
    assert messages[0][0] == "homeassistant/button/doser_A1B2C3/pump_1_dose/config"
    assert json.loads(messages[0][1])["command_topic"] == f"{BASE}/cmd/pump 1/dose"


def test_same_input_gives_byte_identical_output() -> None:
    assert build() == build()


def test_removal_clears_every_config_topic_a_pump_had() -> None:
    removal = removal_messages(["X"], discovery_prefix="homeassistant", base=BASE)
    assert {payload for _, payload in removal} == {""}
    assert [topic for topic, _ in removal] == [topic for topic, _ in build()[:5]]


def test_home_assistant_announces_restarts_on_the_prefix_status_topic() -> None:
    assert ha_status_topic("homeassistant") == "homeassistant/status"


@pytest.mark.parametrize(
    ("pumps", "base", "device"),
    [
        ([HaPump("X", "a", 5.0, 1.0), HaPump("X", "b", 5.0, 1.0)], BASE, DEVICE),
        ([HaPump("a.b", "a", 5.0, 1.0), HaPump("a b", "b", 5.0, 1.0)], BASE, DEVICE),
        ([HaPump("X/1", "a", 5.0, 1.0)], BASE, DEVICE),
        ([HaPump("", "a", 5.0, 1.0)], BASE, DEVICE),
        ([HaPump("X", "a", 0.0, 1.0)], BASE, DEVICE),
        ([HaPump("X", "a", float("inf"), 1.0)], BASE, DEVICE),
        (PUMPS, "", DEVICE),
        (PUMPS, BASE, HaDevice("A0:B1:C2", "d", "m", "1")),
        (PUMPS, BASE, HaDevice("G0:B1:C2:A1:B2:C3", "d", "m", "1")),
    ],
)
def test_inputs_that_would_make_broken_configs_are_refused(
    pumps: list[HaPump], base: str, device: HaDevice
) -> None:
    with pytest.raises(ValueError):
        build(pumps, base, device)
