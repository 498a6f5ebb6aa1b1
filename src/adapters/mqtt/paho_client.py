"""How the one paho client of the broker session is built: MQTT 3.1.1 or MQTT 5, a fresh
session on every connection, no automatic reconnect, transport and TLS from the broker URL,
credentials, Last Will; and the MQTT 5 PUBLISH properties a command result carries back.
Opens nothing: paho connects only when the session asks it to."""

from __future__ import annotations

from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from adapters.mqtt.broker_url import BrokerAddress, check_ca_file

OFFLINE = "offline"

MqttProtocol = Literal["3.1.1", "5"]
PROTOCOLS: dict[str, MQTTProtocolVersion] = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}


def build_client(
    address: BrokerAddress,
    *,
    client_id: str,
    username: str,
    password: str,
    ca_file: str,
    availability_topic: str,
    protocol: MqttProtocol = "3.1.1",
) -> mqtt.Client:
    """A paho ``Client`` (callback API version 2) for ``address`` speaking ``protocol``
    ("3.1.1" or "5"): clean session under MQTT 3.1.1 (under MQTT 5 the session asks for a
    clean start on every ``connect`` instead: paho 2.2 refuses ``clean_session`` with
    MQTTv5), ``reconnect_on_failure`` off (the connection supervisor owns retry and
    backoff), Last Will ``offline`` (QoS 1, retained, no Will properties, so MQTT 5 sends
    it at once: Will Delay Interval 0) on ``availability_topic``. ``ca_file``: PEM CA
    bundle for TLS, empty for the system CAs; empty ``username`` sends no credentials.
    Raises ``ValueError`` for an unusable CA file or an unknown ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"MQTT protocol must be one of {sorted(PROTOCOLS)}, not {protocol!r}")
    version = PROTOCOLS[protocol]
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True if version == mqtt.MQTTv311 else None,
        protocol=version,
        transport=address.transport,
        reconnect_on_failure=False,
    )
    if address.transport == "websockets":
        client.ws_set_options(path=address.path)
    if address.tls:
        check_ca_file(ca_file)
        client.tls_set(ca_certs=ca_file or None)
    if username:
        client.username_pw_set(username, password or None)
    # MQTT 3.1.1 §3.1.2.5, MQTT 5.0 §3.1.2.5: the broker publishes the Will when the
    # network connection closes without a (normal) DISCONNECT (keep-alive expiry, socket
    # error).
    client.will_set(availability_topic, OFFLINE, qos=1, retain=True)
    return client


def correlated(correlation_data: bytes) -> Properties:
    """MQTT 5 PUBLISH properties carrying ``correlation_data`` as Correlation Data (MQTT
    5.0 §3.3.2.3.6), for ``Client.publish(..., properties=...)``."""
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]  # paho 2.2
    properties.CorrelationData = correlation_data
    return properties
