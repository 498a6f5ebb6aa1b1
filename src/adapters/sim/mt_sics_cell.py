"""The weighing cell behind the simulated MT-SICS scale: what the pan carries, as displayed.

The load on the pan (g) passes a first-order low-pass filter (the cell's settling), gets
Gaussian noise and is rounded to the resolution, as the display shows it. A weight is
stable when every displayed value over the stability window stayed within the band (how
balances decide ``S`` versus ``D``). The zero point (``Z``) and the tare register (``T``)
turn the raw load into the gross and net weights. Time advances in fixed sample periods
(the cell's conversion rate), so a run is the same whatever the caller's polling rate.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScaleConfig:
    """The balance the simulator pretends to be; weights in g, times in s.

    ``resolution_g`` (readability, one display digit), ``capacity_g`` (above it: overload),
    ``underload_g`` (gross below minus this: underload), ``noise_g`` (standard deviation of
    the noise on each sample), ``settling_time_s`` (time constant of the cell's filter),
    ``stability_window_s`` and ``stability_band_g`` (stable: every displayed value over the
    window within the band; default one digit), ``sample_period_s`` (conversion period),
    ``stream_interval_s`` (``SIR`` line period), ``stable_timeout_s`` (how long ``S``/``T``/
    ``Z`` wait for stability before answering ``I``), ``serial_number`` (``@``/``I4``
    reply) and ``seed`` (the noise generator's, so runs are reproducible).
    """

    resolution_g: float = 0.01
    capacity_g: float = 220.0
    underload_g: float = 2.0
    noise_g: float = 0.002
    settling_time_s: float = 0.15
    stability_window_s: float = 0.3
    stability_band_g: float | None = None
    sample_period_s: float = 0.01
    stream_interval_s: float = 0.05
    stable_timeout_s: float = 3.0
    serial_number: str = "B123456789"
    seed: int = 0

    @property
    def band_g(self) -> float:
        """The stability band (g): ``stability_band_g``, or one digit when not set."""
        return self.resolution_g if self.stability_band_g is None else self.stability_band_g

    @property
    def decimals(self) -> int:
        """Decimal places the display shows at this resolution (0.01 g: 2)."""
        return max(0, math.ceil(-math.log10(self.resolution_g) - 1e-9))


@dataclass(frozen=True, slots=True)
class Sample:
    """The display now: ``net_g`` and ``gross_g`` (g, rounded to the resolution; gross is
    relative to the zero point, net also to the tare) and its state."""

    net_g: float
    gross_g: float
    stable: bool
    overload: bool
    underload: bool


class WeighingCell:
    """Filter, noise, rounding, stability, zero point and tare register of one balance.

    ``load(t)`` gives the grams on the pan at monotonic time ``t`` (s); it is called once
    per sample period, with non-decreasing ``t``. Call ``advance`` with the current time
    before reading ``sample``; time never goes back.
    """

    def __init__(self, config: ScaleConfig, load: Callable[[float], float]) -> None:
        self._cfg, self.load = config, load
        self._rng = random.Random(config.seed)
        self._t: float | None = None
        self._filtered = self._raw = 0.0
        self._history: deque[tuple[float, float]] = deque()  # (t, displayed gross)
        self.zero_g = 0.0  # raw load (g) that reads as zero
        self.tare_g = 0.0  # gross (g) stored by the last tare

    def advance(self, now: float) -> None:
        """Run the cell's samples up to ``now`` (s). A long gap is skipped: only the last
        stretch that can still show on the display (window plus ten time constants) runs."""
        cfg, period = self._cfg, self._cfg.sample_period_s
        if self._t is None:  # power-up: the filter starts settled on what the pan carries
            self._filtered = self.load(now)
            self._t = now
            self._tick(now)
            return
        horizon = cfg.stability_window_s + 10 * cfg.settling_time_s + 2 * period
        if now - self._t > horizon:
            self._t = now - horizon
            self._filtered = self.load(self._t)
            self._history.clear()
        while self._t + period <= now + 1e-12:
            self._t += period
            self._tick(self._t)

    def sample(self) -> Sample:
        """What the display shows after the last ``advance``."""
        cfg = self._cfg
        gross = self._round(self._raw - self.zero_g)
        over = self._raw - self.zero_g > cfg.capacity_g
        under = self._raw - self.zero_g < -cfg.underload_g
        return Sample(self._round(gross - self.tare_g), gross, self._stable(), over, under)

    def tare(self) -> float:
        """Store the displayed gross (g) as the tare; later net weights are net of it."""
        self.tare_g = self.sample().gross_g
        return self.tare_g

    def zero(self) -> None:
        """Make the displayed gross the new zero point and clear the tare."""
        shift = self.sample().gross_g
        self.zero_g += shift
        self.tare_g = 0.0
        # The display moved by whole digits: what was stable before stays stable.
        self._history = deque((t, self._round(v - shift)) for t, v in self._history)

    def _tick(self, t: float) -> None:
        cfg = self._cfg
        tau = cfg.settling_time_s
        alpha = 1.0 - math.exp(-cfg.sample_period_s / tau) if tau > 0 else 1.0
        self._filtered += (self.load(t) - self._filtered) * alpha
        noise = self._rng.gauss(0.0, cfg.noise_g) if cfg.noise_g > 0 else 0.0
        self._raw = self._filtered + noise
        self._history.append((t, self._round(self._raw - self.zero_g)))
        oldest = t - cfg.stability_window_s - cfg.sample_period_s / 2
        while self._history[0][0] < oldest:
            self._history.popleft()

    def _stable(self) -> bool:
        cfg, history = self._cfg, self._history
        if not history or self._t is None:
            return False
        covered = self._t - history[0][0] >= cfg.stability_window_s - cfg.sample_period_s / 2
        shown = [value for _, value in history]
        return covered and max(shown) - min(shown) <= cfg.band_g + 1e-9

    def _round(self, grams: float) -> float:
        res = self._cfg.resolution_g
        value = round(round(grams / res) * res, self._cfg.decimals)
        return value if value else 0.0  # no "-0.00" on the display
