"""Home Assistant discovery on a real mosquitto: retained configs after connecting, and
again when Home Assistant says it is back online."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from adapters.mqtt.ha_announcer import HomeAssistantAnnouncer
from adapters.mqtt.ha_discovery import HaDevice, HaPump, discovery_messages
from adapters.mqtt.session import PahoBrokerSession
from support.mosquitto import Mosquitto
from support.mqtt_subscriber import Subscriber

pytestmark = pytest.mark.slow
BASE = "doser/doser_A1B2C3"


def configs() -> list[tuple[str, str]]:
    device = HaDevice("02:00:5e:a1:b2:c3", "Dosing Station 1", "doser", "0.1.0")
    pumps = [HaPump("X", "DMDEE", 500.0, 150.0)]
    return discovery_messages(
        device,
        pumps,
        discovery_prefix="homeassistant",
        base=BASE,
        availability_topic=f"{BASE}/availability",
    )


def test_configs_are_retained_and_republished_when_home_assistant_comes_online(
    mosquitto: Mosquitto,
) -> None:
    session = PahoBrokerSession(
        url=mosquitto.ws_url,
        client_id="doser_A1B2C3",
        availability_topic=f"{BASE}/availability",
        registration_topic="doser/registration",
    )
    announcer = HomeAssistantAnnouncer(session, configs, "homeassistant")
    announcer.start()
    session.connect(5.0)
    try:
        expected = dict(configs())
        with Subscriber(mosquitto.host, mosquitto.port, "homeassistant/#", durable=False) as seen:
            announcer.announce()
            for topic in expected:  # all reached the broker before a late subscriber looks
                seen.wait_for(lambda m, t=topic: m.topic == t, timeout=10)
        with Subscriber(mosquitto.host, mosquitto.port, "homeassistant/#", durable=False) as late:
            for topic in expected:
                late.wait_for(lambda m, t=topic: m.topic == t and m.retain, timeout=10)
            retained = {m.topic: m.payload for m in late.messages if m.retain}
            assert retained == expected
            for payload in retained.values():
                assert json.loads(payload)["availability_topic"] == f"{BASE}/availability"
            late.clear()
            ha = mqtt.Client(CallbackAPIVersion.VERSION2)
            ha.connect(mosquitto.host, mosquitto.port)
            ha.loop_start()
            ha.publish("homeassistant/status", "online", qos=1).wait_for_publish(5)
            ha.disconnect()
            ha.loop_stop()
            late.wait_for(lambda m: m.topic in expected and not m.retain, timeout=10)
    finally:
        session.disconnect()
