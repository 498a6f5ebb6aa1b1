"""MQTT adapters (paho-mqtt 2.x): the broker session the connection supervisor drives
(connect, Last Will, registration, clean disconnect, publish with acknowledgement,
subscriptions held across reconnects), the telemetry and command adapters built on it
(``telemetry``, ``commands``), and the broker URL it is built from.

``broker_url`` is pure and imports no paho, so bootstrap can validate ``mqtt.url`` and
``mqtt.ca_file`` at start-up cheaply; ``session`` holds the paho client.
"""
