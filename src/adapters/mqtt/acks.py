"""Which published message waits for which acknowledgement callback, so the outbox learns
when the broker has a message (PUBACK for QoS 1, PUBCOMP for QoS 2).

The race it closes (paho-mqtt 2.2, ``client.py``): ``Client.publish`` hands out the message
id (mid) only when it returns, yet paho's network thread may already have read the PUBACK
and called ``on_publish`` with that mid. The facts the design rests on:

- QoS 1/2: ``publish`` stores the message in ``_out_messages`` and queues it while holding
  the client's ``_out_message_mutex`` (an RLock); ``_handle_pubackcomp`` holds the same
  lock while it calls ``on_publish``. Holding it across ``publish`` *and* the registration
  keeps the acknowledgement waiting until the callback is in the map.
- QoS 0: ``on_publish`` comes from ``_packet_write`` once the packet is written, without
  that lock; ``on_publish`` here takes it, so it too waits for a registration under way.
- With ``loop_start`` only paho's thread writes (``_packet_queue`` writes on the caller's
  thread only when no network thread runs), so callbacks run on paho's thread.
- Our own lock is a leaf: nothing calls paho or user code while holding it. Holding it
  across ``publish`` instead would deadlock: the publisher would wait for paho's lock
  while paho's thread, holding it, waited in ``on_publish`` for ours.

Reconnects: ``Client.connect`` runs ``reconnect``, whose ``_messages_reconnect_reset_out``
keeps every QoS 1/2 message not yet acknowledged (also with clean session) and
``_handle_connack`` sends it again, same mid, DUP set, right after the next good CONNACK.
A clean session means the broker kept no state, so the broker takes it as a new message.
The session drops the callbacks when a new connection starts (``forget``) and the caller,
seeing the new generation, sends again: a subscriber may get a message twice, never zero
times. A callback only ever runs for a real acknowledgement.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties

_log = logging.getLogger(__name__)

OnAcked = Callable[[], None]


class PublishAcks:
    """mid -> ``on_acked`` for the messages of the current connection. ``publish`` may be
    called from any thread; ``on_publish`` is paho's callback (its network thread)."""

    def __init__(self, client: mqtt.Client) -> None:
        self._client = client
        # paho 2.2 internals (see the module docstring); pinned in pyproject.toml.
        self._paho_lock = client._out_message_mutex
        self._lock = threading.Lock()
        self._callbacks: dict[int, OnAcked] = {}

    def publish(
        self,
        topic: str,
        payload: str,
        qos: int,
        retain: bool,
        on_acked: OnAcked | None,
        *,
        properties: Properties | None = None,
    ) -> mqtt.MQTTMessageInfo:
        """paho's ``publish`` (with MQTT 5 ``properties`` if given), with ``on_acked``
        registered under its mid before paho can report the acknowledgement. Raises
        ``ValueError`` for a bad topic or QoS."""
        if on_acked is None:
            return self._send(topic, payload, qos, retain, properties)
        with self._paho_lock:
            info = self._send(topic, payload, qos, retain, properties)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                with self._lock:
                    self._callbacks[info.mid] = on_acked
        return info

    def _send(
        self, topic: str, payload: str, qos: int, retain: bool, properties: Properties | None
    ) -> mqtt.MQTTMessageInfo:
        if properties is None:  # the MQTT 3.1.1 call, which paho stand-ins also take
            return self._client.publish(topic, payload, qos=qos, retain=retain)
        return self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)

    def forget(self) -> None:
        """A new connection starts: what was in flight is the caller's to send again."""
        with self._lock:
            self._callbacks.clear()

    def pending(self) -> int:
        """How many callbacks wait for their acknowledgement."""
        with self._lock:
            return len(self._callbacks)

    def on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _props: Any) -> None:
        """paho's ``on_publish`` (callback API 2): run and drop the callback for ``mid``.
        A callback that raises is logged; it must not end paho's thread. An MQTT 5 PUBACK
        or PUBCOMP may carry a failure reason (e.g. "Not authorized", MQTT 5.0 §3.4.2.1):
        logged, and the message still counts as done, as under MQTT 3.1.1, where the broker
        acknowledges a message it drops without saying so; sending it again would not
        change the broker's mind."""
        if getattr(reason, "is_failure", False):
            _log.warning("MQTT broker refused message %d: %s", mid, reason)
        with self._paho_lock, self._lock:
            callback = self._callbacks.pop(mid, None)
        if callback is None:
            return  # availability, registration, or sent by an earlier connection
        try:
            callback()
        except Exception:
            _log.exception("MQTT acknowledgement callback for mid %d failed", mid)


def wait_published(info: mqtt.MQTTMessageInfo, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` (s) for a QoS 1 PUBACK; a miss is logged, not raised: the
    loss it means shows up in ``wait_lost``."""
    try:
        info.wait_for_publish(timeout_s)
    except (RuntimeError, ValueError) as exc:
        _log.warning("publish not sent: %s", exc)
        return
    if not info.is_published():
        _log.warning("no PUBACK within %g s", timeout_s)
