"""A fake laboratory scale in memory: the ``Scale`` port over a load that changes with time.

It measures at a fixed internal rate on its own clock, as a real balance does, so what it
reports (settling, stability, tare) does not depend on how often the daemon asks.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable

from domain.errors import ScaleFault, ScaleUnavailable
from domain.scale import ReadingStatus, ScaleReading


class FakeScale:
    """``Scale`` in memory over ``load(now_s) -> g``, the gross mass on the pan (e.g.
    ``DosingBench.load_g``), on the monotonic clock ``monotonic`` (s).

    Every ``sample_period_s`` (s) the scale measures: the load through a first-order
    settling (time constant ``settle_s``, s), plus Gaussian noise of ``noise_g`` (g, from
    ``random.Random(seed)``), shown in steps of ``resolution_g`` (g). A reading is stable
    when every value shown over the last ``stability_window_s`` (s) lies within one
    resolution step. A load above the zero by more than ``capacity_g`` (g) is an overload,
    below it by more than ``underload_g`` (g) an underload (``grams`` NaN); the defaults
    match the MT-SICS simulator's balance (220 g, 2 g). ``tare`` and ``zero`` poll
    every ``poll_s`` (s) through ``sleep`` for a stable weight, up to ``timeout_s``; pass a
    manual clock's ``sleep`` so waiting advances it. Zero clears the tare, as on MT-SICS.

    Test hooks: ``unplug``/``plug`` (every call raises ``ScaleUnavailable`` meanwhile),
    ``fall_silent``/``resume`` (readings stop; after ``stale_after_s`` (s) ``latest``
    raises ``ScaleUnavailable``). Records: ``opens``, ``tares``, ``zeros``, ``tare_g``.
    """

    def __init__(
        self,
        load: Callable[[float], float],
        monotonic: Callable[[], float] = time.monotonic,
        *,
        sleep: Callable[[float], None] = time.sleep,
        resolution_g: float = 0.01,
        noise_g: float = 0.0,
        seed: int = 0,
        settle_s: float = 0.1,
        stability_window_s: float = 0.3,
        sample_period_s: float = 0.05,
        capacity_g: float = 220.0,
        underload_g: float = 2.0,
        stale_after_s: float = 1.0,
        poll_s: float = 0.05,
    ) -> None:
        self._load, self._monotonic, self._sleep = load, monotonic, sleep
        self.resolution_g, self.noise_g, self.settle_s = resolution_g, noise_g, settle_s
        self.stability_window_s, self.sample_period_s = stability_window_s, sample_period_s
        self.capacity_g, self.underload_g = capacity_g, underload_g
        self.stale_after_s, self.poll_s = stale_after_s, poll_s
        self._rng = random.Random(seed)
        self.is_open = self.unplugged = self.silent = False
        self.opens = self.tares = self.zeros = 0
        self.tare_g = 0.0
        self._zero_g = 0.0
        self._settled_g = 0.0
        self._tick_s: float | None = None  # time of the newest measurement
        self._shown: deque[tuple[float, float]] = deque()  # (s, gross g rounded)
        self._reading: ScaleReading | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        """Connect; raises ``ScaleUnavailable`` while unplugged."""
        with self._lock:
            if self.unplugged:
                raise ScaleUnavailable("fake scale unplugged")
            self.is_open = True
            self.opens += 1
            self._measure()

    def close(self) -> None:
        """Disconnect. Idempotent."""
        self.is_open = False

    def latest(self) -> ScaleReading:
        """The newest reading (net of the tare, g); raises ``ScaleUnavailable`` when
        unplugged, closed, or silent for longer than ``stale_after_s``."""
        with self._lock:
            self._check_link()
            self._measure()
            reading = self._reading
            if reading is None or self._monotonic() - reading.at_s > self.stale_after_s:
                raise ScaleUnavailable("fake scale sent no reading in time")
            return reading

    def advance(self) -> None:
        """Measure up to now (what the scale does continuously); a host may call it."""
        with self._lock:
            self._measure()

    def tare(self, timeout_s: float) -> float:
        """Store the next stable gross weight (g, above the zero) as the tare; returns it.
        Raises ``ScaleFault`` (``unstable``, ``overload``, ``underload``) or
        ``ScaleUnavailable``."""
        gross = self._wait_stable(timeout_s, "tare")
        with self._lock:
            self.tare_g = gross
            self.tares += 1
            self._measure(refresh=True)
            return gross

    def zero(self, timeout_s: float) -> None:
        """Take the next stable gross weight as the new zero and clear the tare."""
        gross = self._wait_stable(timeout_s, "zero")
        with self._lock:
            self._zero_g += gross
            self.tare_g = 0.0
            self.zeros += 1
            self._measure(refresh=True)

    def unplug(self) -> None:
        """The serial link drops: every call raises ``ScaleUnavailable``."""
        self.unplugged = True

    def plug(self) -> None:
        """The link is back (``open`` again if it was closed)."""
        self.unplugged = False

    def fall_silent(self) -> None:
        """The scale stops streaming: ``latest`` repeats the last reading until it is stale."""
        self.silent = True

    def resume(self) -> None:
        """The scale streams again, from its newest measurement."""
        with self._lock:
            self.silent = False
            if self._tick_s is not None:
                self._measure(refresh=True)

    def _wait_stable(self, timeout_s: float, command: str) -> float:
        deadline = self._monotonic() + timeout_s
        for _ in range(int(timeout_s / self.poll_s) + 2):
            with self._lock:
                self._check_link()
                if self.silent:
                    raise ScaleUnavailable(f"{command}: fake scale does not answer")
                self._measure()
                reading, gross = self._reading, self._shown[-1][1] - self._zero_g
            assert reading is not None  # _measure always leaves one on an open link
            if reading.status is ReadingStatus.OVERLOAD:
                raise ScaleFault(f"{command}: scale overloaded", reason="overload")
            if reading.status is ReadingStatus.UNDERLOAD:
                raise ScaleFault(f"{command}: scale underloaded", reason="underload")
            if reading.stable:
                return self._round(gross)
            if self._monotonic() >= deadline:
                break
            self._sleep(self.poll_s)
        raise ScaleFault(f"{command}: no stable weight within {timeout_s} s", reason="unstable")

    def _check_link(self) -> None:
        if self.unplugged:
            raise ScaleUnavailable("fake scale unplugged")
        if not self.is_open:
            raise ScaleUnavailable("fake scale is not open")

    def _measure(self, *, refresh: bool = False) -> None:
        """Run the measurements due up to now at the fixed rate, then publish the newest
        one unless silent. A gap longer than the history we keep starts settled."""
        now, period = self._monotonic(), self.sample_period_s
        keep = math.ceil((self.stability_window_s + 10 * self.settle_s) / period)
        if self._tick_s is None or now - self._tick_s > keep * period:
            start = now - keep * period if self._tick_s is not None else now
            self._tick_s = start - period
            self._settled_g = self._load(start)
            self._shown.clear()
        ticked = False
        while self._tick_s + period <= now + 1e-12:
            self._tick_s += period
            load = self._load(self._tick_s)
            self._settled_g += (load - self._settled_g) * -math.expm1(-period / self.settle_s)
            noise = self._rng.gauss(0.0, self.noise_g) if self.noise_g else 0.0
            self._shown.append((self._tick_s, self._round(self._settled_g + noise)))
            ticked = True
        while self._shown and self._shown[0][0] < self._tick_s - self.stability_window_s - 1e-9:
            self._shown.popleft()
        if (ticked or refresh) and not self.silent:
            self._reading = self._read()

    def _read(self) -> ScaleReading:
        assert self._tick_s is not None
        at, gross = self._shown[-1]
        above_zero = gross - self._zero_g
        if above_zero > self.capacity_g:
            return ScaleReading(math.nan, ReadingStatus.OVERLOAD, at)
        if above_zero < -self.underload_g:
            return ScaleReading(math.nan, ReadingStatus.UNDERLOAD, at)
        values = [g for _, g in self._shown]
        covered = self._shown[0][0] <= at - self.stability_window_s + 1e-9
        steady = max(values) - min(values) <= self.resolution_g * 1.000001
        status = ReadingStatus.STABLE if covered and steady else ReadingStatus.DYNAMIC
        return ScaleReading(self._round(above_zero - self.tare_g), status, at)

    def _round(self, grams: float) -> float:
        steps = round(grams / self.resolution_g)
        return round(steps * self.resolution_g, 9) + 0.0  # + 0.0 turns -0.0 into 0.0
