"""The simulated dosing bench: pumps pour through their tubes into a beaker on the scale pan.

A scale simulator asks ``DosingBench.load_g(now)`` for the gross mass on its pan; the bench
reads the motion controller's axis positions lazily and turns travel into liquid (see
``bench_tube`` for the physics). Deterministic: no randomness here, noise is the scale's.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping

from adapters.sim.bench_tube import PumpLine, PumpTube
from domain.errors import ControllerUnavailable

SIMULATED_PUMPS = ("X", "Y", "Z", "A")


class DosingBench:
    """Pumps pouring into a beaker that stands on a scale; thread-safe.

    ``positions`` returns the machine position (mm) of each axis now, e.g.
    ``PtyGrblSimulator.positions_mm`` or ``lambda: controller.status().positions_mm``; a call
    that raises ``ControllerUnavailable`` counts as no sample. ``clock`` is monotonic (s).
    ``pumps`` maps an axis (the pump id) to its true ``PumpLine``; by default X, Y, Z and A
    with ``PumpLine()``. ``beaker_tare_g`` (g) is the empty beaker's own weight;
    ``beaker_capacity_ml`` (ml, ``None`` for unlimited) is where it overflows.

    Positions are sampled on every call and on ``sample()``, which a host may call more
    often: feed (mm/min) is estimated from consecutive samples, so an interval that spans a
    start or stop of motion sees a lower feed than the real one and slightly more liquid
    (at most ``loss * feed / 100`` of that interval's volume). Forward travel pours;
    backward travel sucks the column back into the tube, which forward travel refills
    before anything drips again; nothing is ever taken out of the beaker. A controller that
    restarted its positions at 0 must be announced with ``controller_restarted()``.
    """

    def __init__(
        self,
        positions: Callable[[], Mapping[str, float]],
        clock: Callable[[], float],
        pumps: Mapping[str, PumpLine] | None = None,
        *,
        beaker_tare_g: float = 50.0,
        beaker_capacity_ml: float | None = None,
    ) -> None:
        self._positions = positions
        self._clock = clock
        lines = pumps if pumps is not None else dict.fromkeys(SIMULATED_PUMPS, PumpLine())
        self._tubes = {axis: PumpTube(line) for axis, line in lines.items()}
        self.beaker_tare_g = beaker_tare_g
        self.beaker_capacity_ml = beaker_capacity_ml
        self._placed = True
        self._held_g = 0.0  # liquid in the beaker at the last beaker event (g, ml)
        self._held_ml = 0.0
        self._base_ml = dict.fromkeys(self._tubes, 0.0)  # landed (ml) at that event
        self._rebase_pending = False
        self._lock = threading.Lock()
        with self._lock:
            self._sample()

    def load_g(self, now: float) -> float:
        """Gross mass (g) on the pan at monotonic time ``now`` (s): the beaker and the
        liquid that has reached it, or 0 with no beaker on the pan."""
        with self._lock:
            self._sample()
            if not self._placed:
                return 0.0
            return self.beaker_tare_g + self._content(now)[0]

    def sample(self) -> None:
        """Read the axis positions now; calling often sharpens the feed estimate."""
        with self._lock:
            self._sample()

    def poured_ml(self, pump: str) -> float:
        """Volume (ml) pump ``pump`` has truly pushed towards the beaker so far."""
        with self._lock:
            self._sample()
            return self._tube(pump).pushed_ml

    def arrived_g(self) -> float:
        """Liquid mass (g) that has left the tube ends so far, beaker or not."""
        with self._lock:
            self._sample()
            now = self._clock()
            return sum(t.landed_ml(now) * t.line.density_g_per_ml for t in self._tubes.values())

    def in_flight_g(self) -> float:
        """Liquid mass (g) pumped but not yet out of the tube ends."""
        with self._lock:
            self._sample()
            now = self._clock()
            return sum(
                (t.pushed_ml - t.landed_ml(now)) * t.line.density_g_per_ml
                for t in self._tubes.values()
            )

    def beaker_liquid_g(self) -> float:
        """Liquid mass (g) in the beaker now (lifted or not)."""
        with self._lock:
            self._sample()
            return self._content(self._clock())[0]

    def reservoir_ml(self, pump: str) -> float | None:
        """Liquid (ml) left in the pump's reservoir, ``None`` when unlimited."""
        with self._lock:
            self._sample()
            return self._tube(pump).reservoir_ml

    def empty_reservoir(self, pump: str) -> None:
        """From now on ``pump`` pumps air: no more liquid enters its tube."""
        with self._lock:
            self._sample()
            self._tube(pump).reservoir_ml = 0.0

    def refill(self, pump: str, ml: float) -> None:
        """Pour ``ml`` (ml, >= 0) into the pump's reservoir (no effect when unlimited)."""
        if not (math.isfinite(ml) and ml >= 0.0):
            raise ValueError(f"refill volume must be >= 0 ml, got {ml!r}")
        with self._lock:
            self._sample()
            tube = self._tube(pump)
            if tube.reservoir_ml is not None:
                tube.reservoir_ml += ml

    def block_tube(self, pump: str) -> None:
        """The tube is blocked: the pump turns, nothing more moves; in flight still lands."""
        self._set_blocked(pump, blocked=True)

    def unblock_tube(self, pump: str) -> None:
        """The blockage is cleared: travel pumps liquid again."""
        self._set_blocked(pump, blocked=False)

    def empty_beaker(self) -> None:
        """The user swaps in an empty beaker (same tare): liquid mass back to 0 g."""
        with self._lock:
            self._sample()
            self._rebase_beaker(0.0, 0.0)

    def place_beaker(self, placed: bool) -> None:
        """Put the beaker on the pan (``True``) or lift it off (``False``). It keeps its
        content; what drips while it is off the pan is spilled."""
        with self._lock:
            self._sample()
            if placed == self._placed:
                return
            if placed:
                self._rebase_beaker(self._held_g, self._held_ml)
            else:
                self._held_g, self._held_ml = self._content(self._clock())
            self._placed = placed

    def controller_restarted(self) -> None:
        """The controller's positions restarted (power cycle, reset): the next positions
        it reports (now, if it answers) become the baseline, without pumping. Call
        ``sample()`` just before the restart so travel up to it is counted."""
        with self._lock:
            self._rebase_pending = True
            self._sample()

    def _set_blocked(self, pump: str, *, blocked: bool) -> None:
        with self._lock:
            self._sample()
            self._tube(pump).blocked = blocked

    def _tube(self, pump: str) -> PumpTube:
        try:
            return self._tubes[pump]
        except KeyError:
            raise KeyError(f"no pump {pump!r} on the bench") from None

    def _sample(self) -> None:
        try:
            positions = self._positions()
        except ControllerUnavailable:
            return
        now = self._clock()
        rebase, self._rebase_pending = self._rebase_pending, False
        for axis, tube in self._tubes.items():
            if axis in positions:
                (tube.rebase if rebase else tube.sample)(now, positions[axis])

    def _rebase_beaker(self, held_g: float, held_ml: float) -> None:
        now = self._clock()
        self._held_g, self._held_ml = held_g, held_ml
        self._base_ml = {axis: tube.landed_ml(now) for axis, tube in self._tubes.items()}

    def _content(self, at_s: float) -> tuple[float, float]:
        """Liquid in the beaker at ``at_s`` (s) as (g, ml). Once full it overflows; with
        fluids of different densities what stays has the mean density of what was added
        since the last beaker event."""
        if not self._placed:
            return self._held_g, self._held_ml
        added_g = added_ml = 0.0
        for axis, tube in self._tubes.items():
            ml = tube.landed_ml(at_s) - self._base_ml[axis]
            added_ml += ml
            added_g += ml * tube.line.density_g_per_ml
        capacity = self.beaker_capacity_ml
        if capacity is None or self._held_ml + added_ml <= capacity:
            return self._held_g + added_g, self._held_ml + added_ml
        room = max(0.0, capacity - self._held_ml)
        return self._held_g + added_g * room / added_ml, capacity
