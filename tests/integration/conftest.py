"""Fixtures the MQTT integration tests share: the protocol version and the session maker."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from adapters.mqtt.session import PahoBrokerSession
from support.mqtt_sessions import session_maker


@pytest.fixture(params=["3.1.1", "5"])
def protocol(request: pytest.FixtureRequest) -> str:
    """The MQTT version the session speaks (``mqtt.protocol``)."""
    return str(request.param)


@pytest.fixture
def make_session() -> Iterator[Callable[..., PahoBrokerSession]]:
    """Make sessions with the test device's topics; all disconnected at teardown."""
    with session_maker() as make:
        yield make
