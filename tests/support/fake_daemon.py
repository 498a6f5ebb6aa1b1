"""The daemon's container on the fakes with its control-plane thread running, for tests
that drive use cases directly (no HTTP server, no MQTT threads)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bootstrap.containers import UseCases, bootstrap
from bootstrap.settings import PumpSettings, Settings

# One pump, as most command tests need: 0.05 ml/mm, up to 60 ml/min.
PUMP_X = PumpSettings(id="X", name="DMDEE", ml_per_mm=0.05, max_flow_ml_min=60.0)


def fake_app(settings: Settings | None = None) -> UseCases:
    """The container wired on the fakes (default: pump X only)."""
    settings = settings or Settings(pumps=[PUMP_X])
    return bootstrap(settings.model_dump(mode="json"), wiring="fake")


@contextmanager
def control_plane_running(app: UseCases) -> Iterator[UseCases]:
    """Run ``app``'s control plane on its thread for the block; stop and join it after."""
    stop = threading.Event()
    plane = threading.Thread(target=app.control_plane().run, args=(stop,), daemon=True)
    plane.start()
    try:
        yield app
    finally:
        stop.set()
        plane.join(timeout=5)
