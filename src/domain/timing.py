"""Lateness figures of a periodic loop (the control plane's poll, the LED render): how far
behind its schedule each wake-up ran, summarised as p50/p99/max. Pure arithmetic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LatenessSummary:
    """``samples`` wake-ups; lateness percentiles and maximum (s). All 0 with no samples."""

    samples: int
    p50_s: float
    p99_s: float
    max_s: float


def summarize(lateness_s: Sequence[float]) -> LatenessSummary:
    """The summary of ``lateness_s`` (s), nearest-rank percentiles."""
    if not lateness_s:
        return LatenessSummary(0, 0.0, 0.0, 0.0)
    ordered = sorted(lateness_s)
    return LatenessSummary(
        samples=len(ordered),
        p50_s=_rank(ordered, 0.50),
        p99_s=_rank(ordered, 0.99),
        max_s=ordered[-1],
    )


def _rank(ordered: Sequence[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
