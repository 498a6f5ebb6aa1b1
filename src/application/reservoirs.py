"""Reservoir bookkeeping: how much each tracked pump's reservoir still holds, lowered by
every dose and set by the user on refill, kept in NVS so it survives a restart."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping

from application.ports import NonVolatileStore, NvsValue
from domain.errors import InvalidReservoir
from domain.safety import ReservoirLevel, ReservoirSpec

log = logging.getLogger(__name__)

NAMESPACE = "reservoir"


class Reservoirs:
    """The level (ml) of each tracked reservoir. Thread-safe.

    ``specs``: pump id → its reservoir (capacity and low-level mark, ml); a pump not in it
    is untracked. NVS namespace ``reservoir`` holds one float per tracked pump (key = pump
    id, value = level in ml), read once here; a pump with no stored level starts full. A
    stored value that is not a number is ignored (full, with a warning); one above the
    capacity (the capacity was lowered in config) is taken as full. Writes commit to NVS
    before the method returns and raise the store's errors (``OSError``) on failure.
    """

    def __init__(self, nvs: NonVolatileStore, specs: Mapping[str, ReservoirSpec]) -> None:
        self._nvs = nvs
        self._specs = dict(specs)
        self._lock = threading.Lock()
        stored = nvs.get_all(NAMESPACE) if self._specs else {}
        self._levels = {
            pump_id: _stored_level(pump_id, spec, stored.get(pump_id))
            for pump_id, spec in self._specs.items()
        }

    def level(self, pump_id: str) -> ReservoirLevel | None:
        """The pump's reservoir now, or None when it is untracked."""
        with self._lock:
            return self._level(pump_id)

    def levels(self) -> dict[str, ReservoirLevel]:
        """Every tracked reservoir by pump id."""
        with self._lock:
            return {
                pump_id: spec.at(self._levels[pump_id]) for pump_id, spec in self._specs.items()
            }

    def consume(self, pump_id: str, ml: float) -> tuple[ReservoirLevel | None, bool]:
        """Take ``ml`` (ml, what a dose actually dispensed) out of the pump's reservoir.

        Returns the new level (floored at 0 ml; None when untracked, and nothing is
        stored) and whether this consumption crossed the low-level mark (above ``low_ml``
        before, at or below after), so the low alarm is raised once per crossing.
        Raises ``ValueError`` when ``ml`` is not a finite number ≥ 0.
        """
        amount = _finite(ml)
        if amount is None or amount < 0:
            raise ValueError(f"ml must be a finite number ≥ 0, got {ml!r}")
        with self._lock:
            before = self._level(pump_id)
            if before is None:
                return None, False
            if amount == 0:
                return before, False
            after = self._store(pump_id, max(0.0, before.level_ml - amount))
            return after, after.low and not before.low

    def refill(self, pump_id: str, level_ml: float | None = None) -> ReservoirLevel:
        """Record that the pump's reservoir now holds ``level_ml`` (ml; None = full).

        Raises ``InvalidReservoir`` (``field`` = ``pump``) when the pump's reservoir is not
        tracked, or (``field`` = ``level``) when the level is not a finite number from 0 to
        the capacity.
        """
        spec = self._specs.get(pump_id)
        if spec is None:
            raise InvalidReservoir(
                f"pump {pump_id}'s reservoir is not tracked (configure reservoir_ml)",
                field="pump",
            )
        level = spec.capacity_ml if level_ml is None else _valid_level(spec, level_ml)
        with self._lock:
            return self._store(pump_id, level)

    def _level(self, pump_id: str) -> ReservoirLevel | None:
        spec = self._specs.get(pump_id)
        return None if spec is None else spec.at(self._levels[pump_id])

    def _store(self, pump_id: str, level_ml: float) -> ReservoirLevel:
        # NVS first: if the write fails, memory still matches what survives a restart.
        self._nvs.set_many(NAMESPACE, {pump_id: float(level_ml)})
        self._levels[pump_id] = float(level_ml)
        return self._specs[pump_id].at(level_ml)


def _valid_level(spec: ReservoirSpec, level_ml: object) -> float:
    level = _finite(level_ml)
    if level is None or not 0 <= level <= spec.capacity_ml:
        raise InvalidReservoir(
            f"level must be a number from 0 to {spec.capacity_ml:g} ml, got {level_ml!r}",
            field="level",
        )
    return level


def _stored_level(pump_id: str, spec: ReservoirSpec, value: NvsValue | None) -> float:
    if value is None:
        return spec.capacity_ml
    level = _finite(value)
    if level is None:
        log.warning(
            "ignoring stored reservoir level %r for pump %s (not a number); taking it as full",
            value,
            pump_id,
        )
        return spec.capacity_ml
    return min(max(0.0, level), spec.capacity_ml)


def _finite(value: object) -> float | None:
    """``value`` as a finite float, or None (a bool, a non-number, NaN, ±inf, 10**400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
