"""Fixtures every test level can use: a real mosquitto broker on loopback ports.

``tests/`` goes on ``sys.path`` so tests anywhere below import helpers as
``from support.mosquitto import Mosquitto``; ``tests/support`` holds no tests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.certificates import TlsFiles
from support.mosquitto import Mosquitto, mosquitto_available


def _require_mosquitto() -> None:
    if not mosquitto_available():
        message = "mosquitto is not installed (run `make setup`)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must exercise the real broker, never skip it
        pytest.skip(message)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A started broker, anonymous clients allowed, persistent across ``restart``; stopped
    at teardown."""
    _require_mosquitto()
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Start extra brokers, e.g. ``mosquitto_factory(users={"pump-1": "secret"})``,
    ``mosquitto_factory(tls=make_server_certificate(path))`` or
    ``mosquitto_factory(persistent=False)``; all stopped at teardown."""
    _require_mosquitto()
    started: list[Mosquitto] = []

    def make(
        *,
        users: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
        persistent: bool = True,
    ) -> Mosquitto:
        workdir = tmp_path / f"mosquitto-{len(started)}"
        broker = Mosquitto(workdir, users=users, tls=tls, persistent=persistent)
        started.append(broker)
        broker.start()
        return broker

    try:
        yield make
    finally:
        for broker in started:
            broker.stop()
