"""Acceptance wiring: every scenario runs on the fakes and on the real Grbl adapter talking
to the Grbl simulator over a real pty, with the SQLite journal."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap.containers import UseCases, bootstrap
from bootstrap.settings import HttpSettings, Settings


class Daemon:
    """The container with its control-plane thread running, as the daemon runs it."""

    def __init__(self, app: UseCases, wiring: str) -> None:
        self.app = app
        self.wiring = wiring
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=app.control_plane().run, args=(self._stop,), name="control-plane"
        )

    def start(self) -> None:
        self.app.init_resources()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.app.shutdown_resources()

    def axis_positions(self) -> dict[str, float]:
        """Where each axis is (mm), read from the device itself, not the daemon."""
        if self.wiring == "fake":
            status = self.app.adapters.controller().status()
            return dict(status.positions_mm)
        return dict(self.app.adapters.simulator().positions_mm())


@pytest.fixture(params=["fake", "simulated"], autouse=True)
def wiring(request: pytest.FixtureRequest) -> str:
    """Each scenario runs twice: on the fakes and on the real adapter against the simulator."""
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path) -> dict[str, Any]:
    """The daemon's settings as bootstrap receives them; scenarios add their pumps."""
    configured = Settings(data_dir=tmp_path, http=HttpSettings(token="acceptance-token"))
    return configured.model_dump(mode="json")


@pytest.fixture
def daemon_factory(settings: dict[str, Any], wiring: str) -> Iterator[Any]:
    started: list[Daemon] = []

    def start() -> Daemon:
        daemon = Daemon(bootstrap(settings, wiring=wiring), wiring)  # type: ignore[arg-type]
        daemon.start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()
