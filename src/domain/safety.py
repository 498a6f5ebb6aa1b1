"""Safety limits that depend on what already flowed or what is left: per-pump hourly and
daily quotas, a device-wide daily cap and the reservoir. Pure rules; the caller supplies
the usage (from the dose journal) and the reservoir level.

Windows are rolling: "per hour" is the last 60 min and "per day" the last 24 h before the
check, not the clock hour or the calendar day.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.dose import PumpLimits
from domain.errors import LimitReached
from domain.numbers import is_finite_number

# Sums of journaled volumes carry float noise (0.1 + 0.2 ml); a dose that fits to within
# a nanolitre fits.
TOLERANCE_ML = 1e-9
# Below this a reservoir counts as empty (ml): less than one axis step delivers.
EMPTY_ML = 0.001
# The low-level mark when none is configured: 10 % of the capacity.
DEFAULT_LOW_FRACTION = 0.1


@dataclass(frozen=True, slots=True)
class PumpSafety:
    """One pump's safety limits: single dose (ml), flow rate (ml/min), and rolling quotas
    per hour (ml in the last 60 min) and per day (ml in the last 24 h); None = no quota.

    Raises ``ValueError`` when a limit is not a positive finite number.
    """

    max_dose_ml: float
    max_flow_ml_min: float
    max_ml_per_hour: float | None = None
    max_ml_per_day: float | None = None

    def __post_init__(self) -> None:
        _require_limit("max_dose_ml", self.max_dose_ml)
        _require_limit("max_flow_ml_min", self.max_flow_ml_min)
        _require_limit("max_ml_per_hour", self.max_ml_per_hour, optional=True)
        _require_limit("max_ml_per_day", self.max_ml_per_day, optional=True)

    @property
    def dose_limits(self) -> PumpLimits:
        """The limits a single dose request is planned against (``Dose.plan``)."""
        return PumpLimits(max_flow_ml_min=self.max_flow_ml_min, max_dose_ml=self.max_dose_ml)


@dataclass(frozen=True, slots=True)
class ReservoirSpec:
    """A tracked reservoir: ``capacity_ml`` (ml, > 0) and the low-level alarm mark
    ``low_ml`` (ml, 0 ≤ low < capacity). Build one with :meth:`of` to get the default mark.

    Raises ``ValueError`` when a value is not finite or out of range.
    """

    capacity_ml: float
    low_ml: float

    def __post_init__(self) -> None:
        _require_limit("capacity_ml", self.capacity_ml)
        if not (is_finite_number(self.low_ml) and 0 <= self.low_ml < self.capacity_ml):
            raise ValueError(
                f"low_ml must be at least 0 and below capacity_ml ({self.capacity_ml:g} ml), "
                f"got {self.low_ml!r}"
            )

    @classmethod
    def of(cls, capacity_ml: float, low_ml: float | None = None) -> ReservoirSpec:
        """A spec with ``low_ml`` defaulting to 10 % of ``capacity_ml`` (both ml)."""
        if low_ml is None:
            low_ml = capacity_ml * DEFAULT_LOW_FRACTION
        return cls(capacity_ml=capacity_ml, low_ml=low_ml)

    def at(self, level_ml: float) -> ReservoirLevel:
        """This reservoir holding ``level_ml`` (ml); raises ``ValueError`` out of range."""
        return ReservoirLevel(capacity_ml=self.capacity_ml, level_ml=level_ml, low_ml=self.low_ml)


@dataclass(frozen=True, slots=True)
class ReservoirLevel:
    """What a reservoir holds now: ``level_ml`` of ``capacity_ml``, alarming at or below
    ``low_ml`` (all ml; 0 ≤ level ≤ capacity). Raises ``ValueError`` out of range."""

    capacity_ml: float
    level_ml: float
    low_ml: float

    def __post_init__(self) -> None:
        ReservoirSpec(self.capacity_ml, self.low_ml)  # the same rules for both
        if not (is_finite_number(self.level_ml) and 0 <= self.level_ml <= self.capacity_ml):
            raise ValueError(
                f"level_ml must be between 0 and {self.capacity_ml:g} ml, got {self.level_ml!r}"
            )

    @property
    def low(self) -> bool:
        """At or below the low-level mark."""
        return self.level_ml <= self.low_ml

    @property
    def empty(self) -> bool:
        """Less than 0.001 ml left."""
        return self.level_ml < EMPTY_ML

    @property
    def percent(self) -> float:
        """Level as a percentage of capacity (0 to 100)."""
        return 100.0 * self.level_ml / self.capacity_ml


@dataclass(frozen=True, slots=True)
class Usage:
    """What already flowed (ml, ≥ 0): this pump in the last 60 min and the last 24 h, and
    every pump together in the last 24 h. Raises ``ValueError`` for a negative or
    non-finite volume (a NaN would otherwise pass every comparison)."""

    pump_last_hour_ml: float
    pump_last_day_ml: float
    all_last_day_ml: float

    def __post_init__(self) -> None:
        for name in ("pump_last_hour_ml", "pump_last_day_ml", "all_last_day_ml"):
            value = getattr(self, name)
            if not (is_finite_number(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number ≥ 0 ml, got {value!r}")


def check_quota(
    pump_id: str,
    volume_ml: float,
    *,
    usage: Usage,
    safety: PumpSafety,
    global_max_ml_per_day: float | None,
    reservoir: ReservoirLevel | None,
) -> None:
    """Refuse a dose of ``volume_ml`` (ml) on ``pump_id`` that would break a quota.

    Rules, checked in this order (the first broken one refuses): the pump's rolling hour
    (``max_per_hour``), its rolling day (``max_per_day``), the device's rolling day over all
    pumps (``global_max_per_day``, ``global_max_ml_per_day`` ml; None = none), and the
    reservoir (``reservoir_empty``: the volume exceeds the level; None = untracked). A dose
    that fits to within 1e-9 ml passes.

    Raises ``LimitReached`` with ``rule`` set and a message saying what was used and what
    is left; ``ValueError`` when ``volume_ml`` is not a finite number ≥ 0 or
    ``global_max_ml_per_day`` is neither None nor a positive finite number.
    """
    if not (is_finite_number(volume_ml) and volume_ml >= 0):
        raise ValueError(f"volume_ml must be a finite number ≥ 0 ml, got {volume_ml!r}")
    for rule, limit, used, scope in _quotas(pump_id, usage, safety, global_max_ml_per_day):
        left = max(0.0, limit - used)
        if volume_ml > left + TOLERANCE_ML:
            raise LimitReached(
                f"{scope} may dispense at most {limit:g} ml per {_WINDOW[rule]}: "
                f"{used:g} ml used, {left:g} ml left, {volume_ml:g} ml asked",
                rule=rule,
            )
    if reservoir is not None and volume_ml > reservoir.level_ml + TOLERANCE_ML:
        raise LimitReached(
            f"pump {pump_id}'s reservoir holds {reservoir.level_ml:g} ml of "
            f"{reservoir.capacity_ml:g} ml ({reservoir.capacity_ml - reservoir.level_ml:g} ml "
            f"used), {volume_ml:g} ml asked; refill it and record the new level with "
            f"POST /api/pump/{pump_id}/reservoir",
            rule="reservoir_empty",
        )


def allowance_ml(
    *,
    usage: Usage,
    safety: PumpSafety,
    global_max_ml_per_day: float | None,
    reservoir: ReservoirLevel | None,
) -> float | None:
    """The most (ml, ≥ 0) that may flow now without breaking a quota or emptying the
    reservoir: the smallest of what each rule of :func:`check_quota` leaves. None when no
    rule bounds it. (It bounds continuous runs; the single-dose limit ``max_dose_ml`` is
    not a quota and is not part of it.) Raises ``ValueError`` as :func:`check_quota`."""
    left = [limit - used for _, limit, used, _ in _quotas("", usage, safety, global_max_ml_per_day)]
    if reservoir is not None:
        left.append(reservoir.level_ml)
    return max(0.0, min(left)) if left else None


_WINDOW = {
    "max_per_hour": "rolling hour (the last 60 min)",
    "max_per_day": "rolling day (the last 24 h)",
    "global_max_per_day": "rolling day (the last 24 h)",
}


def _quotas(
    pump_id: str, usage: Usage, safety: PumpSafety, global_max_ml_per_day: float | None
) -> list[tuple[str, float, float, str]]:
    """(rule, limit ml, used ml, who) for each quota that is set, in checking order."""
    _require_limit("global_max_ml_per_day", global_max_ml_per_day, optional=True)
    quotas = [
        ("max_per_hour", safety.max_ml_per_hour, usage.pump_last_hour_ml, f"pump {pump_id}"),
        ("max_per_day", safety.max_ml_per_day, usage.pump_last_day_ml, f"pump {pump_id}"),
        ("global_max_per_day", global_max_ml_per_day, usage.all_last_day_ml, "all pumps together"),
    ]
    return [(rule, limit, used, who) for rule, limit, used, who in quotas if limit is not None]


def _require_limit(name: str, value: float | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not (is_finite_number(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
