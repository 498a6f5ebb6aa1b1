"""Several pumps in one step: one coordinated move that starts and ends together.

Grbl 1.1 moves every axis of a ``G1`` line along one straight path at the path feed ``F``
(mm/min of the Euclidean path length; gcode.c/planner.c), so each axis runs at
``F * d_axis / |d|`` and all axes arrive together. To run each pump no faster than asked,
the step lasts as long as its slowest dose, ``T = max(d_i / f_i)``, each axis runs at
``d_i / T`` and ``F`` is the Euclidean norm of those axis feeds (DESIGN §6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from domain.dose import Dose


@dataclass(frozen=True, slots=True)
class CoordinatedMove:
    """One relative move of several axes: travel per axis (mm), path feed (mm/min), and how
    long it takes at that feed (min, without acceleration)."""

    distances_mm: dict[str, float]
    feed_mm_min: float
    duration_min: float

    @classmethod
    def of(cls, doses: Sequence[Dose]) -> CoordinatedMove:
        """The move that runs ``doses`` (one per pump, each planned at its own axis feed)
        together. Raises ``ValueError`` for no doses or a pump twice."""
        if not doses:
            raise ValueError("a coordinated move needs at least one dose")
        distances = {dose.pump_id: dose.distance_mm for dose in doses}
        if len(distances) != len(doses):
            raise ValueError("a coordinated move doses each pump once")
        duration_min = max(dose.distance_mm / dose.feed_mm_min for dose in doses)
        if len(doses) == 1:  # one axis: its own feed, exactly as planned
            return cls(distances, doses[0].feed_mm_min, duration_min)
        path_mm = math.sqrt(sum(d * d for d in distances.values()))
        return cls(distances, round(path_mm / duration_min, 3), duration_min)

    def axis_feed_mm_min(self, pump_id: str) -> float:
        """The feed (mm/min) ``pump_id``'s axis runs at inside this move."""
        return self.distances_mm[pump_id] / self.duration_min


def slowest_duration_min(volumes_flows: Sequence[tuple[float, float]]) -> float:
    """How long a step of (volume ml, flow rate ml/min) doses lasts (min): its slowest."""
    return max(volume / flow for volume, flow in volumes_flows)
