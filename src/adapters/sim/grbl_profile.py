"""Speed profiles and junction speeds of the Grbl simulator's planner.

A block runs a trapezoid: accelerate from its entry speed, cruise, decelerate to its exit
speed (the next block's entry, or rest). How fast two consecutive blocks may pass their
shared corner follows gnea/grbl 1.1h planner.c ``plan_buffer_line`` (junction deviation):
straight on at full speed, a reversal through rest, a corner in between.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MINIMUM_JUNCTION_SPEED_MM_S = 0.0  # Grbl config.h MINIMUM_JUNCTION_SPEED


@dataclass(frozen=True, slots=True)
class Trapezoid:
    """Speed over time for one stretch: from ``entry`` up to ``peak`` (mm/s) at ``accel``
    (mm/s²), a cruise of ``cruise_mm`` (mm), then down to ``final`` (mm/s); starts at the
    clock time ``t0`` (s)."""

    t0: float
    entry: float
    peak: float
    accel: float
    cruise_mm: float
    final: float = 0.0

    @classmethod
    def plan(
        cls,
        t0: float,
        distance_mm: float,
        entry: float,
        top: float,
        accel: float,
        *,
        final: float = 0.0,
    ) -> Trapezoid:
        """Fastest profile over ``distance_mm`` from speed ``entry`` to speed ``final``,
        capped at ``top`` (mm/s) unless already faster (a hold decelerating from speed)."""
        reach = math.sqrt(accel * distance_mm + (entry * entry + final * final) / 2)
        peak = max(entry, final, min(top, reach))
        ramps = (2 * peak * peak - entry * entry - final * final) / (2 * accel)
        return cls(t0, entry, peak, accel, max(0.0, distance_mm - ramps), final)

    @property
    def distance_mm(self) -> float:
        ramps = (2 * self.peak**2 - self.entry**2 - self.final**2) / (2 * self.accel)
        return ramps + self.cruise_mm

    @property
    def end(self) -> float:
        """Clock time (s) the profile reaches ``final``."""
        cruise_s = self.cruise_mm / self.peak if self.peak > 0 else 0.0
        return self.t0 + (2 * self.peak - self.entry - self.final) / self.accel + cruise_s

    def at(self, t: float) -> tuple[float, float]:
        """(distance travelled in mm, speed in mm/s) at clock time ``t``."""
        tau = max(0.0, t - self.t0)
        up_s = (self.peak - self.entry) / self.accel
        if tau < up_s:
            return self.entry * tau + self.accel * tau * tau / 2, self.entry + self.accel * tau
        done = (self.peak**2 - self.entry**2) / (2 * self.accel)
        tau -= up_s
        cruise_s = self.cruise_mm / self.peak if self.peak > 0 else 0.0
        if tau < cruise_s:
            return done + self.peak * tau, self.peak
        tau = min(tau - cruise_s, (self.peak - self.final) / self.accel)
        return done + self.cruise_mm + self.peak * tau - self.accel * tau * tau / 2, (
            self.peak - self.accel * tau
        )


def junction_speed(
    previous_unit: Sequence[float],
    unit: Sequence[float],
    accel_mm_s2: Sequence[float],
    deviation_mm: float,
) -> float:
    """Highest speed (mm/s) through the corner between two blocks with the given signed
    unit vectors: planner.c junction deviation (``$11``, mm) with the axes' accelerations
    (mm/s²). Straight on: unlimited (``inf``); a reversal: rest."""
    cos_theta = -sum(p * u for p, u in zip(previous_unit, unit, strict=True))
    if cos_theta > 0.999999:
        return MINIMUM_JUNCTION_SPEED_MM_S
    if cos_theta < -0.999999:
        return math.inf
    corner = [u - p for p, u in zip(previous_unit, unit, strict=True)]
    norm = math.sqrt(sum(c * c for c in corner))
    accel = limit_by_axes(accel_mm_s2, [abs(c) / norm for c in corner])
    sin_theta_d2 = math.sqrt(0.5 * (1.0 - cos_theta))
    speed_sqr = accel * deviation_mm * sin_theta_d2 / (1.0 - sin_theta_d2)
    return math.sqrt(max(MINIMUM_JUNCTION_SPEED_MM_S**2, speed_sqr))


def limit_by_axes(limits: Sequence[float], unit: Sequence[float]) -> float:
    """Largest path value keeping every axis within its limit (planner.c
    limit_value_by_axis_maximum); ``unit`` holds the absolute unit-vector components."""
    return min(lim / u for lim, u in zip(limits, unit, strict=True) if u > 0)
