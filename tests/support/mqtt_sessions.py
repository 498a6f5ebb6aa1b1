"""The broker sessions the MQTT integration tests make: one device's topics, closed after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from adapters.mqtt.session import PahoBrokerSession

CLIENT_ID = "doser_A1B2C3"
AVAILABILITY = f"doser/{CLIENT_ID}/availability"
REGISTRATION = "/liwaisi/iot/smart-irrigation/device/registration"  # the user's topic


@contextmanager
def session_maker() -> Iterator[Callable[..., PahoBrokerSession]]:
    """``make(url, **options)`` builds a ``PahoBrokerSession`` with this device's defaults
    (keepalive 5 s) overridden by ``options``; every one made is disconnected after."""
    made: list[PahoBrokerSession] = []

    def make(url: str, **options: object) -> PahoBrokerSession:
        settings: dict[str, object] = {
            "url": url,
            "client_id": CLIENT_ID,
            "keepalive_s": 5,
            "availability_topic": AVAILABILITY,
            "registration_topic": REGISTRATION,
        }
        settings.update(options)
        session = PahoBrokerSession(**settings)  # type: ignore[arg-type]
        made.append(session)
        return session

    try:
        yield make
    finally:
        for session in made:
            session.disconnect()
