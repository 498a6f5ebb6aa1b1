"""One pump's line on the simulated dosing bench: axis travel in, liquid out of the tube end.

The pump side is piecewise linear: between two position samples the axis is taken to move
at constant feed, so the cumulative volume pushed into the tube, ``pushed(t)`` (ml), is
linear between knots. The tube end delays it by the dead time ``d`` and smooths it with a
first-order lag ``tau``: ``landed' = (pushed(t - d) - landed) / tau``. For an input that is
linear with slope ``s`` over ``[a, b]`` the exact solution is
``y(b) = u(b) - tau*s + (y(a) - u(a) + tau*s) * exp(-(b - a)/tau)``, applied piece by piece,
so the result does not depend on how often anyone asks.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

_PRUNE_AFTER = 64  # history no longer needed is dropped in batches of this many
RETAIN_S = 5.0  # how far back (s) before the newest answer a later question may still go


@dataclass(frozen=True, slots=True)
class PumpLine:
    """The TRUE behaviour of one simulated pump and its tube (what calibration discovers).

    ``ml_per_mm_at_rest`` (ml/mm): delivery per mm of axis travel at vanishing feed.
    ``loss_per_100_mm_min`` (fraction per 100 mm/min): true ml/mm is
    ``ml_per_mm_at_rest * (1 - loss * feed / 100)``, floored at 0, as peristaltic tubing
    delivers a little less per turn the faster it turns. The defaults give 0.0515 ml/mm at
    rest, 0.0510 at 1000 mm/min and 0.04996 at 3000 mm/min, close to but not the daemon's
    configured 0.05 ml/mm. ``density_g_per_ml`` (g/ml). ``drip_delay_s`` (s): dead time from
    the pump to the beaker. ``inflight_lag_s`` (s): time constant of the liquid in flight.
    ``reservoir_ml`` (ml): liquid available to the pump, ``None`` for unlimited; once it is
    used up the pump pumps air. Raises ``ValueError`` on a negative or non-finite value.
    """

    ml_per_mm_at_rest: float = 0.0515
    loss_per_100_mm_min: float = 0.001
    density_g_per_ml: float = 1.0
    drip_delay_s: float = 0.3
    inflight_lag_s: float = 0.2
    reservoir_ml: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "ml_per_mm_at_rest",
            "loss_per_100_mm_min",
            "density_g_per_ml",
            "drip_delay_s",
            "inflight_lag_s",
            "reservoir_ml",
        ):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def ml_per_mm(self, feed_mm_min: float) -> float:
        """True delivery (ml/mm) at ``feed_mm_min`` (mm/min, the axis' own speed)."""
        factor = 1.0 - self.loss_per_100_mm_min * abs(feed_mm_min) / 100.0
        return self.ml_per_mm_at_rest * max(0.0, factor)


class PumpTube:
    """State of one ``PumpLine`` (ml throughout); not thread-safe, ``DosingBench`` locks.

    Forward travel first refills what backward travel sucked back out of the tube end
    (``suck_back_ml``), then pushes liquid from the reservoir towards the beaker. Backward
    travel draws the column back into the tube: nothing leaves the beaker. A blocked tube
    moves nothing (the rotor slips against the blockage); liquid already past it lands.
    """

    def __init__(self, line: PumpLine) -> None:
        self.line = line
        self.blocked = False
        self.reservoir_ml = line.reservoir_ml
        self.suck_back_ml = 0.0
        self._position_mm: float | None = None
        self._sampled_at = -math.inf
        self._times: list[float] = []  # knots of pushed(t): clock s ...
        self._pushed: list[float] = []  # ... and cumulative ml pushed by then
        self._marks_t: list[float] = []  # committed lag states: clock s ...
        self._marks_y: list[float] = []  # ... and ml landed by then

    @property
    def pushed_ml(self) -> float:
        """Volume (ml) the pump has pushed towards the beaker so far (lands eventually)."""
        return self._pushed[-1] if self._pushed else 0.0

    def sample(self, at_s: float, position_mm: float) -> None:
        """Take the axis position (mm) at clock time ``at_s`` (s). The first sample sets
        the baseline; one at or before the previous sample's time waits (a change seen
        without time passing is spread over the next interval)."""
        if self._position_mm is None:
            self._position_mm, self._sampled_at = position_mm, at_s
            self._knot(at_s, 0.0)
            self._marks_t.append(at_s)
            self._marks_y.append(0.0)
            return
        if at_s <= self._sampled_at:
            return
        t0, dt = self._sampled_at, at_s - self._sampled_at
        travel = position_mm - self._position_mm
        self._position_mm, self._sampled_at = position_mm, at_s
        volume = 0.0 if self.blocked else travel * self.line.ml_per_mm(travel / dt * 60.0)
        if volume <= 0.0:
            self.suck_back_ml -= volume
            self._knot(at_s, self.pushed_ml)
            return
        rate = volume / dt  # ml/s, constant over the interval
        refill = min(volume, self.suck_back_ml)
        self.suck_back_ml -= refill
        flowing = volume - refill
        if self.reservoir_ml is not None:
            flowing = min(flowing, self.reservoir_ml)
            self.reservoir_ml -= flowing
        start = min(at_s, t0 + refill / rate)
        self._knot(start, self.pushed_ml)
        self._knot(min(at_s, start + flowing / rate), self.pushed_ml + flowing)
        self._knot(at_s, self.pushed_ml)

    def rebase(self, at_s: float, position_mm: float) -> None:
        """The controller's positions restarted (power cycle): take ``position_mm`` as the
        new baseline at ``at_s`` (s) without pumping anything."""
        if self._position_mm is None:
            self.sample(at_s, position_mm)
            return
        self._position_mm, self._sampled_at = position_mm, max(at_s, self._sampled_at)
        self._knot(self._sampled_at, self.pushed_ml)

    def landed_ml(self, at_s: float) -> float:
        """Volume (ml) that has left the tube end by ``at_s`` (s). Known input is committed;
        beyond the last sample plus the dead time the pump is assumed to stand still. An
        earlier time is answered exactly from the committed states of the last
        ``RETAIN_S``; before those (or before the first sample) it answers for the oldest."""
        if not self._marks_t:
            return 0.0
        lag_at, landed = self._marks_t[-1], self._marks_y[-1]
        commit = min(at_s, self._sampled_at + self.line.drip_delay_s)
        if commit > lag_at:
            lag_at, landed = commit, self._evolve(landed, lag_at, commit)
            self._marks_t.append(lag_at)
            self._marks_y.append(landed)
            self._prune()
        if at_s < lag_at:
            i = max(0, bisect.bisect_right(self._marks_t, at_s) - 1)
            lag_at, landed = self._marks_t[i], self._marks_y[i]
        return self._evolve(landed, lag_at, at_s) if at_s > lag_at else landed

    def _knot(self, at_s: float, pushed_ml: float) -> None:
        if self._times and at_s <= self._times[-1]:
            self._pushed[-1] = pushed_ml  # same instant (a zero-length piece): keep the last
            return
        self._times.append(at_s)
        self._pushed.append(pushed_ml)

    def _input(self, at_s: float) -> float:
        """pushed(at_s - delay), linear between knots and flat outside them (ml)."""
        t = at_s - self.line.drip_delay_s
        i = bisect.bisect_right(self._times, t)
        if i == 0:
            return self._pushed[0]
        if i == len(self._times):
            return self._pushed[-1]
        t0, t1 = self._times[i - 1], self._times[i]
        v0, v1 = self._pushed[i - 1], self._pushed[i]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    def _evolve(self, landed: float, start: float, end: float) -> float:
        """Exact first-order response from ``start`` to ``end`` (s), piece by piece."""
        delay, tau = self.line.drip_delay_s, self.line.inflight_lag_s
        if tau == 0.0:
            return self._input(end)
        lo = bisect.bisect_right(self._times, start - delay)
        hi = bisect.bisect_left(self._times, end - delay)
        a, u_a = start, self._input(start)
        for b in [*(t + delay for t in self._times[lo:hi]), end]:
            if b <= a:
                continue
            u_b = self._input(b)
            slope = (u_b - u_a) / (b - a)
            decay = math.exp(-(b - a) / tau)
            landed = u_b - tau * slope + (landed - u_a + tau * slope) * decay
            a, u_a = b, u_b
        return landed

    def _prune(self) -> None:
        """Forget committed states older than ``RETAIN_S`` and the knots they no longer
        reach back to (keeping one before each boundary)."""
        oldest = bisect.bisect_right(self._marks_t, self._marks_t[-1] - RETAIN_S) - 1
        if oldest >= _PRUNE_AFTER:
            del self._marks_t[:oldest]
            del self._marks_y[:oldest]
        first = bisect.bisect_right(self._times, self._marks_t[0] - self.line.drip_delay_s) - 1
        if first >= _PRUNE_AFTER:
            del self._times[:first]
            del self._pushed[:first]
