"""A thread-safe record of how late a periodic loop woke, for the timing diagnostics."""

from __future__ import annotations

import threading
from collections import deque

from domain.timing import LatenessSummary, summarize

DEFAULT_CAPACITY = 20_000
"""Samples kept: 16 min of a 20 Hz loop; older ones fall out."""


class LatenessMeter:
    """The latest ``capacity`` lateness samples (s) of one loop. ``record`` is called by
    the loop's own thread; ``summary`` and ``reset`` from any thread."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._samples: deque[float] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def record(self, lateness_s: float) -> None:
        """One wake-up ``lateness_s`` (s) behind its schedule (negative counts as 0)."""
        with self._lock:
            self._samples.append(max(0.0, lateness_s))

    def summary(self) -> LatenessSummary:
        """p50/p99/max over the samples kept."""
        with self._lock:
            samples = list(self._samples)
        return summarize(samples)

    def reset(self) -> None:
        """Forget every sample (a benchmark phase starts afresh)."""
        with self._lock:
            self._samples.clear()


class TimingDiagnostics:
    """The timing figures the daemon exposes: the control plane's poll ticks and the LED
    render ticks (``led_frame`` None when no LEDs are configured)."""

    def __init__(self, control_tick: LatenessMeter, led_frame: LatenessMeter | None) -> None:
        self._meters = {"controlTick": control_tick}
        if led_frame is not None:
            self._meters["ledFrame"] = led_frame

    def summaries(self) -> dict[str, LatenessSummary]:
        """Each loop's summary by name (``controlTick``, ``ledFrame``)."""
        return {name: meter.summary() for name, meter in self._meters.items()}

    def reset(self) -> None:
        """Forget every loop's samples."""
        for meter in self._meters.values():
            meter.reset()
