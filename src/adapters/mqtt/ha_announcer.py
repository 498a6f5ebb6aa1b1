"""Publishes the Home Assistant discovery configs (retained) after every connection and
whenever Home Assistant announces itself (``<prefix>/status`` = ``online``), so the device
appears in HA by itself and reappears after an HA restart (HA MQTT discovery docs)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from adapters.mqtt.ha_discovery import HA_BIRTH_PAYLOAD, ha_status_topic
from application.ports import ReplyTo

_log = logging.getLogger(__name__)


class _Session(Protocol):
    def publish(self, topic: str, payload: str, *, qos: int, retain: bool) -> bool: ...

    def subscribe(
        self, topic_filter: str, qos: int, handler: Callable[[str, bytes, ReplyTo | None], None]
    ) -> None: ...


class HomeAssistantAnnouncer:
    """``messages()`` builds the ``(config topic, JSON)`` pairs afresh each time (the
    device name may have changed); empty ``discovery_prefix`` disables discovery."""

    def __init__(
        self,
        session: _Session,
        messages: Callable[[], list[tuple[str, str]]],
        discovery_prefix: str,
    ) -> None:
        self._session = session
        self._messages = messages
        self._prefix = discovery_prefix

    @property
    def enabled(self) -> bool:
        return bool(self._prefix)

    def start(self) -> None:
        """Listen for Home Assistant's birth message (before the first connect)."""
        if self.enabled:
            self._session.subscribe(ha_status_topic(self._prefix), 1, self._on_ha_status)

    def announce(self) -> None:
        """Publish every discovery config, QoS 1, retained. Never raises."""
        if not self.enabled:
            return
        try:
            messages = self._messages()
        except Exception:
            _log.exception("home assistant discovery: cannot build the configs")
            return
        sent = sum(
            self._session.publish(topic, payload, qos=1, retain=True) for topic, payload in messages
        )
        _log.info("home assistant discovery: %d of %d configs published", sent, len(messages))

    def _on_ha_status(self, _topic: str, payload: bytes, _reply: ReplyTo | None) -> None:
        if payload.strip() == HA_BIRTH_PAYLOAD.encode():
            self.announce()
