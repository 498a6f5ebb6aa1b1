"""Home Assistant MQTT discovery: the retained config messages that make each pump appear
in Home Assistant as a device with a dose button, a dose-volume box, a running sensor and
volume sensors, all fed by the status topics the daemon already publishes (DESIGN §5).

Pure: builds ``(topic, payload)`` pairs and publishes nothing. Schema and rules from the
Home Assistant MQTT docs (integrations/mqtt "Discovery messages", button.mqtt,
number.mqtt, binary_sensor.mqtt, sensor.mqtt) and Home Assistant core's
``sensor/const.py`` (device classes, their units and state classes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HA_BIRTH_PAYLOAD = "online"  # Home Assistant's default birth message on <prefix>/status
_UNIT_ML = "mL"  # UnitOfVolume.MILLILITERS, spelled as Home Assistant spells it
_STATUS_JSON = "{{{{ value_json.{} }}}}"
_RUNNING = "{{ 'ON' if value_json.state in ['dosing', 'holding'] else 'OFF' }}"
_MAC = re.compile(r"(?:[0-9A-Fa-f]{2}[:-]?){5}[0-9A-Fa-f]{2}")
_PRESS = json.dumps({"source": "homeassistant"}, separators=(",", ":"))
# What each pump contributes, in publish order: what -> component.
_COMPONENTS = {"dose": "button", "dose_volume": "number", "running": "binary_sensor"}
_COMPONENTS |= {"last_dose": "sensor", "dosed_today": "sensor"}


@dataclass(frozen=True, slots=True)
class HaDevice:
    """The doser as one Home Assistant device. ``identifier_mac`` is the MAC of the
    interface that talks to the broker, in any usual spelling (``AA:BB:CC:DD:EE:FF``,
    ``aa-bb-...``, ``aabbccddeeff``)."""

    identifier_mac: str
    name: str
    model: str
    sw_version: str
    manufacturer: str = "doser"


@dataclass(frozen=True, slots=True)
class HaPump:
    """One pump as Home Assistant shows it. ``pump_id`` is the id in the daemon's topics
    (``X``); ``max_dose_ml`` caps the dose-volume box (ml); ``max_flow_ml_min`` (ml/min)
    is the pump's limit, carried for callers and not yet exposed as an entity."""

    pump_id: str
    name: str
    max_dose_ml: float
    max_flow_ml_min: float


def ha_status_topic(discovery_prefix: str) -> str:
    """Where Home Assistant publishes its birth message (``online``) when it (re)starts;
    on that message every discovery config must be published again."""
    return f"{discovery_prefix.strip('/')}/status"


def discovery_messages(
    device: HaDevice,
    pumps: Sequence[HaPump],
    *,
    discovery_prefix: str,
    base: str,
    availability_topic: str,
) -> list[tuple[str, str]]:
    """``(config_topic, json_payload)`` pairs to publish RETAINED (QoS 1): five entities per
    pump, then the device-level ``System state`` sensor.

    Topics are ``<discovery_prefix>/<component>/<node_id>/<object_id>/config``, node_id
    the device id (last level of ``base``, e.g. ``doser/doser_A1B2C3``) cut to
    ``[a-zA-Z0-9_-]``. The dose button publishes ``{"source":"homeassistant"}`` to
    ``{base}/cmd/<pump>/dose``; the dose-volume number publishes the bare number in ml
    (``12.5``) to ``{base}/cmd/<pump>/dose_volume``. Same input, same output.
    Raises ``ValueError`` for an empty prefix or device id, a MAC that is not 6 bytes,
    a pump id that is empty or holds ``/ + #``, duplicate pump ids, pump ids that collide
    once sanitised, or a ``max_dose_ml`` that is not a finite number > 0.
    """
    root = _Root.of(discovery_prefix, base)
    common = _common(device, availability_topic)
    entities = [
        (_COMPONENTS[what], f"{pump.pump_id}_{what}", {**entity, "qos": 1})
        for pump in _checked(pumps)
        for what, entity in _pump_entities(pump, root.base).items()
    ]
    system = {
        "name": "System state",
        "state_topic": f"{root.base}/status",
        "value_template": _STATUS_JSON.format("state"),
        "icon": "mdi:state-machine",
    }
    entities.append(("sensor", "system_state", system))
    messages = [root.config(component, key, {**common, **e}) for component, key, e in entities]
    if len({topic for topic, _ in messages}) != len(messages):
        raise ValueError("pump ids collide once cut to [a-zA-Z0-9_-] for discovery topics")
    return messages


def removal_messages(
    pump_ids: Sequence[str], *, discovery_prefix: str, base: str
) -> list[tuple[str, str]]:
    """``(config_topic, "")`` pairs that delete a removed pump's entities: publish them
    RETAINED, which also clears the retained config at the broker (an empty config
    payload deletes the entity, per Home Assistant's discovery docs)."""
    root = _Root.of(discovery_prefix, base)
    return [
        (root.topic(component, f"{pump_id}_{what}"), "")
        for pump_id in pump_ids
        for what, component in _COMPONENTS.items()
    ]


def _pump_entities(pump: HaPump, base: str) -> dict[str, dict[str, Any]]:
    status = f"{base}/pump/{pump.pump_id}/status"

    def reads(name: str, template: str, icon: str, **extra: Any) -> dict[str, Any]:
        entity = {"name": f"{pump.name} {name}", "state_topic": status, "icon": icon}
        return {**entity, "value_template": template, **extra}

    volume = {"device_class": "volume", "unit_of_measurement": _UNIT_ML}
    return {
        "dose": {
            "name": f"Dose {pump.name}",
            "command_topic": f"{base}/cmd/{pump.pump_id}/dose",
            "payload_press": _PRESS,
            "icon": "mdi:water-pump",
        },
        "dose_volume": reads(
            "dose volume",
            _STATUS_JSON.format("doseVolume_ml"),
            "mdi:beaker-outline",
            command_topic=f"{base}/cmd/{pump.pump_id}/dose_volume",
            min=min(0.1, pump.max_dose_ml),
            max=pump.max_dose_ml,
            step=0.1,
            mode="box",
            unit_of_measurement=_UNIT_ML,
        ),
        "running": reads(
            "running",
            _RUNNING,
            "mdi:pump",
            payload_on="ON",
            payload_off="OFF",
            device_class="running",
        ),
        # Device class volume allows only the total/total_increasing state classes; a last
        # dose is neither, so none. A null lastDose_ml renders "None": unknown in HA.
        "last_dose": reads(
            "last dose", _STATUS_JSON.format("lastDose_ml"), "mdi:cup-water", **volume
        ),
        # total_increasing reads the midnight drop to 0 as a new cycle, not a negative dose.
        "dosed_today": reads(
            "dosed today",
            _STATUS_JSON.format("dosedToday_ml"),
            "mdi:water-plus",
            state_class="total_increasing",
            **volume,
        ),
    }


@dataclass(frozen=True, slots=True)
class _Root:
    prefix: str  # discovery prefix, no slashes at the ends
    base: str  # the daemon's topic root
    node: str  # node_id: the device id cut to [a-zA-Z0-9_-]

    @classmethod
    def of(cls, discovery_prefix: str, base: str) -> _Root:
        prefix, base = discovery_prefix.strip("/"), base.rstrip("/")
        node = _sanitise(base.rsplit("/", 1)[-1])
        if not prefix or not node:
            raise ValueError(f"need a discovery prefix and a device id: {prefix!r}, {base!r}")
        return cls(prefix, base, node)

    def topic(self, component: str, key: str) -> str:
        return f"{self.prefix}/{component}/{self.node}/{_sanitise(key)}/config"

    def config(self, component: str, key: str, entity: dict[str, Any]) -> tuple[str, str]:
        unique_id = f"{self.node}_{_sanitise(key)}"
        # default_entity_id must be "<domain>.<slug>" (cv.entity_id): a bare slug fails the
        # whole config. It replaces object_id, deprecated in Home Assistant 2025.10.
        slug = re.sub(r"[^a-z0-9]+", "_", unique_id.lower()).strip("_")
        payload = {**entity, "unique_id": unique_id, "default_entity_id": f"{component}.{slug}"}
        # allow_nan=False: an infinite max_dose_ml raises here instead of sending bad JSON.
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return self.topic(component, key), text


def _common(device: HaDevice, availability_topic: str) -> dict[str, Any]:
    if not _MAC.fullmatch(device.identifier_mac):
        raise ValueError(f"not a 6-byte MAC address: {device.identifier_mac!r}")
    mac = re.sub(r"[:-]", "", device.identifier_mac).upper()
    return {
        "device": {
            "identifiers": [f"doser_{mac}"],
            "connections": [["mac", ":".join(re.findall("..", mac.lower()))]],
            "name": device.name,
            "model": device.model,
            "sw_version": device.sw_version,
            "manufacturer": device.manufacturer,
        },
        "origin": {"name": "doser", "sw_version": device.sw_version},
        "availability_topic": availability_topic,
        "payload_available": "online",
        "payload_not_available": "offline",
    }


def _checked(pumps: Sequence[HaPump]) -> Sequence[HaPump]:
    ids = [pump.pump_id for pump in pumps]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate pump ids: {ids!r}")
    for pump in pumps:
        if not pump.pump_id or set(pump.pump_id) & set("/+#"):
            raise ValueError(f"pump id unusable in an MQTT topic: {pump.pump_id!r}")
        if not pump.max_dose_ml > 0:
            raise ValueError(f"pump {pump.pump_id!r}: max_dose_ml must be > 0 ml")
    return pumps


def _sanitise(text: str) -> str:
    """Discovery topic levels may hold only ``[a-zA-Z0-9_-]``."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text)
