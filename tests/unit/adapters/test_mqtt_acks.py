"""The acknowledgement registry when paho reports a PUBACK before ``publish`` has returned
the message id, and the paho internal it relies on. No broker."""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from adapters.mqtt.acks import PublishAcks


class EagerClient:
    """A paho stand-in whose network thread reports the PUBACK while ``publish`` is still
    running, as paho's real thread can once the PUBLISH is on the wire."""

    def __init__(self) -> None:
        self._out_message_mutex = threading.RLock()
        self.acks: PublishAcks | None = None
        self.network_thread: threading.Thread | None = None
        self.blocked_while_publishing = False

    def publish(self, topic: str, payload: str, qos: int, retain: bool) -> mqtt.MQTTMessageInfo:
        assert self.acks is not None
        acks = self.acks
        self.network_thread = threading.Thread(target=acks.on_publish, args=(None, None, 9, 0, 0))
        self.network_thread.start()
        self.network_thread.join(0.2)
        self.blocked_while_publishing = self.network_thread.is_alive()
        info = mqtt.MQTTMessageInfo(9)
        info.rc = mqtt.MQTT_ERR_SUCCESS
        return info


def test_an_acknowledgement_that_beats_publish_waits_and_reaches_its_callback() -> None:
    client = EagerClient()
    acks = PublishAcks(client)  # type: ignore[arg-type]
    client.acks = acks
    ran_on: list[threading.Thread] = []

    acks.publish("doser/x/alarm", "{}", 1, False, lambda: ran_on.append(threading.current_thread()))
    assert client.network_thread is not None
    client.network_thread.join(5.0)

    assert client.blocked_while_publishing
    assert ran_on == [client.network_thread]
    assert acks.pending() == 0


def test_a_callback_that_raises_is_logged_not_raised_into_paho() -> None:
    acks = PublishAcks(_real_client())

    def broken() -> None:
        raise RuntimeError("outbox bug")

    acks._callbacks[3] = broken
    acks.on_publish(None, None, 3, None, None)  # returns: paho's thread lives on

    assert acks.pending() == 0


def test_forget_drops_the_callbacks_of_the_earlier_connection() -> None:
    acks = PublishAcks(_real_client())
    called: list[int] = []
    acks._callbacks[5] = lambda: called.append(5)

    acks.forget()
    acks.on_publish(None, None, 5, None, None)  # paho's re-sent copy acknowledged

    assert called == []


def test_paho_still_guards_outgoing_messages_with_the_reentrant_lock_we_rely_on() -> None:
    lock: Any = _real_client()._out_message_mutex

    assert isinstance(lock, type(threading.RLock()))


def _real_client() -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
