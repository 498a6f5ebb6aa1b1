"""A simulated MT-SICS scale on a real pty, for the daemon's serial scale adapter and the
bench (``doser simulate scale --link PATH``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from adapters.sim.mt_sics import MtSicsEngine, ScaleConfig, empty_pan
from adapters.sim.mt_sics_cell import Sample
from adapters.sim.pty_host import PtyHost

LOG = logging.getLogger(__name__)


class PtyScaleSimulator(PtyHost[MtSicsEngine]):
    """A simulated Mettler Toledo MT-SICS balance (``MtSicsEngine``) on a real pty.

    ``link`` (optional): symlink path to the slave, e.g. ``/tmp/scale``. ``config`` sets
    resolution, capacity, noise (g), settling and stability times (s), the serial number.
    ``load(t)`` gives the grams on the pan at ``clock()`` time ``t`` (s); it is called once
    per ``sample_period_s`` with non-decreasing ``t``, on the host's thread under its lock,
    so it must be quick and must not call back into the simulator. Every helper below is
    thread-safe.
    """

    def __init__(
        self,
        link: Path | None = None,
        *,
        config: ScaleConfig | None = None,
        load: Callable[[float], float] = empty_pan,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = 0.005,
    ) -> None:
        engine = MtSicsEngine(config, load=load, clock=clock)
        super().__init__(engine, link=link, poll_interval_s=poll_interval_s)

    def set_silent(self, silent: bool) -> None:
        """Pull (True) or plug back (False) the simulated cable (``MtSicsEngine.set_silent``)."""
        self.with_engine(lambda engine: engine.set_silent(silent))

    def inject_garbage(self, data: bytes) -> None:
        """Send ``data`` as it is, between the balance's own lines."""
        self.with_engine(lambda engine: engine.inject_garbage(data))

    def set_load(self, load: Callable[[float], float]) -> None:
        """From now on ``load(t)`` gives the grams on the pan."""
        self.with_engine(lambda engine: engine.set_load(load))

    def tare_g(self) -> float:
        """The balance's tare register (g)."""
        return self.with_engine(lambda engine: engine.tare_g)

    def sample(self) -> Sample:
        """What the balance's display shows now."""
        return self.with_engine(lambda engine: engine.sample())


def serve_forever(
    link: Path,
    stop: threading.Event,
    config: ScaleConfig | None = None,
    load: Callable[[float], float] = empty_pan,
) -> None:
    """Serve a simulated MT-SICS balance on a pty linked at ``link`` until ``stop`` is set
    (for a ``doser simulate scale --link PATH`` command)."""
    with PtyScaleSimulator(link, config=config, load=load) as sim:
        LOG.info("simulated MT-SICS balance on %s (link %s)", sim.port, link)
        stop.wait()
