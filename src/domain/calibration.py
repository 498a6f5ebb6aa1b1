"""Single-point pump calibration: how many ml one mm of axis travel moves."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Calibration:
    """Linear calibration of one pump's axis.

    ``ml_per_mm`` is the volume (ml) delivered by 1 mm of axis travel, measured by the user
    (e.g. 0.05 ml/mm). Converts volumes and flow rates to controller units and back.

    Raises ``ValueError`` when ``ml_per_mm`` is not a positive finite number.
    """

    ml_per_mm: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ml_per_mm) and self.ml_per_mm > 0):
            raise ValueError(f"ml_per_mm must be a positive finite number, got {self.ml_per_mm}")

    def distance_mm(self, volume_ml: float) -> float:
        """Axis travel (mm) that delivers ``volume_ml`` (ml)."""
        return volume_ml / self.ml_per_mm

    def feed_mm_min(self, flow_rate_ml_min: float) -> float:
        """Axis feed (mm/min) that gives ``flow_rate_ml_min`` (ml/min)."""
        return flow_rate_ml_min / self.ml_per_mm

    def volume_ml(self, distance_mm: float) -> float:
        """Volume (ml) delivered by ``distance_mm`` (mm) of travel."""
        return distance_mm * self.ml_per_mm
