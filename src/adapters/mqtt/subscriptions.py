"""The topic filters the session holds on every connection and the handlers their messages
go to. A clean session ends the broker's subscriptions with the connection (MQTT 3.1.1
§3.1.2.4; MQTT 5 clean start with no session expiry, §3.1.2.4, §3.1.2.11.2), so each new
connection subscribes again before it counts as up; messages are handed to the handlers on
paho's network thread, which a failing handler must not end. Under MQTT 5 paho 2.2 turns a
plain QoS into ``SubscribeOptions(qos=...)`` itself (``Client.subscribe``), so the same
calls serve both protocols."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from application.ports import ReplyTo

_log = logging.getLogger(__name__)

# Topic, payload, where an MQTT 5 command wants its result (None without; always under 3.1.1).
MessageHandler = Callable[[str, bytes, ReplyTo | None], None]
# How often a SUBACK wait checks that the connection is still wanted and up (s).
_POLL_S = 0.1


class Subscriptions:
    """Remembered topic filters (filter -> QoS) and the SUBACKs of the current connection.
    Thread-safe; our lock is never held while calling paho or a handler."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._filters: dict[str, int] = {}
        self._subacks: dict[int, list[ReasonCode]] = {}  # mid -> reason codes, unclaimed
        self._live: dict[int, list[str]] = {}  # mid -> filters sent outside ``renew``

    def add(
        self, client: mqtt.Client, topic_filter: str, qos: int, handler: MessageHandler
    ) -> None:
        """Remember ``topic_filter`` at ``qos`` and route its messages to ``handler``; the
        same filter again replaces its handler. Sends nothing (``renew``, ``send_one``)."""
        client.message_callback_add(topic_filter, _dispatcher(topic_filter, handler))
        with self._changed:
            self._filters[topic_filter] = qos

    def send_one(self, client: mqtt.Client, topic_filter: str) -> None:
        """SUBSCRIBE to one remembered filter now, on a live connection."""
        with self._changed:
            qos = self._filters[topic_filter]
        rc, mid = client.subscribe(topic_filter, qos=qos)
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            _log.warning("SUBSCRIBE %s not sent: %s", topic_filter, mqtt.error_string(rc))
            return  # the next connection subscribes it
        with self._changed:
            codes = self._subacks.pop(mid, None)
            if codes is None:
                self._live[mid] = [topic_filter]
        if codes is not None:
            _report([topic_filter], codes)

    def renew(self, client: mqtt.Client, timeout_s: float, still_up: Callable[[], bool]) -> str:
        """Subscribe every remembered filter in one SUBSCRIBE and wait up to ``timeout_s``
        (s) for its SUBACK. Returns "" when done (a filter the broker refused is logged,
        not fatal: telemetry still flows), else why not: no SUBACK in time, or
        ``still_up()`` turned False (connection lost or disconnect requested)."""
        with self._changed:
            self._subacks.clear()
            self._live.clear()
            filters = list(self._filters.items())
        if not filters:
            return ""
        rc, mid = client.subscribe(filters)
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            return f"SUBSCRIBE not sent ({mqtt.error_string(rc)})"
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while mid not in self._subacks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return f"no SUBACK within {timeout_s:g} s"
                if not still_up():
                    return "connection closed before SUBACK"
                self._changed.wait(min(remaining, _POLL_S))
            codes = self._subacks.pop(mid)
        _report([name for name, _ in filters], codes)
        return ""

    def on_subscribe(
        self, _c: Any, _u: Any, mid: int, reason_codes: list[ReasonCode], _props: Any
    ) -> None:
        """paho's ``on_subscribe`` (callback API 2), on its network thread."""
        with self._changed:
            names = self._live.pop(mid, None)
            if names is None:
                self._subacks[mid] = list(reason_codes)
                self._changed.notify_all()
        if names is not None:
            _report(names, reason_codes)


def reply_to_of(message: mqtt.MQTTMessage) -> ReplyTo | None:
    """Where the sender wants its answer: the Response Topic and Correlation Data
    properties of an MQTT 5 PUBLISH (MQTT 5.0 §3.3.2.3.5-6), which paho 2.2 puts on
    ``message.properties`` as ``ResponseTopic`` (str) and ``CorrelationData`` (bytes).
    None without a Response Topic, and always under MQTT 3.1.1, which has no properties
    (paho leaves ``properties`` None). A Response Topic we could not publish on (with
    ``+``, ``#`` or NUL, which MQTT 5.0 §3.3.2.3.5 forbids) is logged and ignored, so the
    result goes to the usual result topic rather than nowhere."""
    properties = message.properties
    topic = getattr(properties, "ResponseTopic", None) if properties is not None else None
    if not topic:
        return None
    topic = str(topic)
    if any(char in topic for char in "+#\x00"):
        _log.warning("MQTT response topic %.80r is not a topic name; ignored", topic)
        return None
    data = getattr(properties, "CorrelationData", None)
    return ReplyTo(topic, bytes(data) if data is not None else None)


def _dispatcher(topic_filter: str, handler: MessageHandler) -> mqtt.CallbackOnMessage:
    def dispatch(_client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # paho re-raises a callback's exception on its network thread, which ends it.
        try:
            handler(message.topic, bytes(message.payload), reply_to_of(message))
        except Exception:
            _log.exception("MQTT handler for %s failed", topic_filter)

    return dispatch


def _report(filters: list[str], codes: list[ReasonCode]) -> None:
    for name, code in zip(filters, codes, strict=False):
        if code.is_failure:
            _log.error("MQTT broker refused the subscription to %s: %s", name, code)
        else:
            _log.info("subscribed to %s (%s)", name, code)
