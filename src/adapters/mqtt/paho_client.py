"""How the one paho client of the broker session is built: MQTT 3.1.1, clean session, no
automatic reconnect, transport and TLS from the broker URL, credentials, Last Will. Opens
nothing: paho connects only when the session asks it to."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from adapters.mqtt.broker_url import BrokerAddress, check_ca_file

OFFLINE = "offline"


def build_client(
    address: BrokerAddress,
    *,
    client_id: str,
    username: str,
    password: str,
    ca_file: str,
    availability_topic: str,
) -> mqtt.Client:
    """A paho ``Client`` (callback API version 2) for ``address``: clean session,
    ``reconnect_on_failure`` off (the connection supervisor owns retry and backoff), Last
    Will ``offline`` (QoS 1, retained) on ``availability_topic``. ``ca_file``: PEM CA bundle
    for TLS, empty for the system CAs; empty ``username`` sends no credentials.
    Raises ``ValueError`` for an unusable CA file."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True,
        protocol=mqtt.MQTTv311,
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
    # MQTT 3.1.1 §3.1.2.5: the broker publishes the Will when the network connection
    # closes without a DISCONNECT packet (keep-alive expiry, socket error).
    client.will_set(availability_topic, OFFLINE, qos=1, retain=True)
    return client
