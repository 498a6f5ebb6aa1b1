"""The pre-flight check every dose passes before the motor starts: the pump's rolling hourly
and daily quotas, the device's daily cap and the reservoir, measured against the journal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from application.ports import Clock, DoseJournal
from application.reservoirs import Reservoirs
from domain.errors import LimitReached, UnknownPump
from domain.safety import TOLERANCE_ML, PumpSafety, Usage, allowance_ml, check_quota

HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)


class SafetyGate:
    """Answers "may this pump dispense that much now?" from the dose journal.

    ``limits``: pump id → its safety limits (every configured pump);
    ``global_max_ml_per_day``: ml over all pumps in the rolling last 24 h (None = no cap).
    Windows are rolling: per hour is the 60 min before now, per day the 24 h before now;
    a dose counts in a window when it started at or after the window's start (the journal's
    ``dispensed_since``), with its actual volume once ended, the most it may still dispense
    while running. Every method raises ``UnknownPump`` for a pump not in ``limits``.
    Raises ``ValueError`` at construction when ``global_max_ml_per_day`` is not positive.
    """

    def __init__(
        self,
        journal: DoseJournal,
        clock: Clock,
        reservoirs: Reservoirs,
        limits: Mapping[str, PumpSafety],
        global_max_ml_per_day: float | None,
    ) -> None:
        if global_max_ml_per_day is not None and not 0 < global_max_ml_per_day < float("inf"):
            raise ValueError(
                f"global_max_ml_per_day must be a positive finite number, "
                f"got {global_max_ml_per_day!r}"
            )
        self._journal = journal
        self._clock = clock
        self._reservoirs = reservoirs
        self._limits = dict(limits)
        self._global_max_ml_per_day = global_max_ml_per_day

    def limits_of(self, pump_id: str) -> PumpSafety:
        """The pump's safety limits (ml, ml/min)."""
        try:
            return self._limits[pump_id]
        except KeyError:
            known = ", ".join(sorted(self._limits))
            raise UnknownPump(f"no pump {pump_id!r}; configured pumps: {known}") from None

    def usage(self, pump_id: str) -> Usage:
        """What flowed (ml): this pump in the last 60 min and 24 h, all pumps in 24 h."""
        self.limits_of(pump_id)
        now = self._clock.now()
        return Usage(
            pump_last_hour_ml=self._journal.dispensed_since(now - HOUR, pump_id=pump_id),
            pump_last_day_ml=self._journal.dispensed_since(now - DAY, pump_id=pump_id),
            all_last_day_ml=self._journal.dispensed_since(now - DAY),
        )

    def check(self, pump_id: str, volume_ml: float) -> None:
        """Refuse a dose of ``volume_ml`` (ml) that would break a quota or empty the
        reservoir: raises ``LimitReached`` naming the rule (``max_per_hour``,
        ``max_per_day``, ``global_max_per_day``, ``reservoir_empty``, checked in that
        order)."""
        check_quota(
            pump_id,
            volume_ml,
            usage=self.usage(pump_id),
            safety=self.limits_of(pump_id),
            global_max_ml_per_day=self._global_max_ml_per_day,
            reservoir=self._reservoirs.level(pump_id),
        )

    def check_many(self, volumes_ml: Mapping[str, float]) -> None:
        """Refuse doses on several pumps (ml per pump: a recipe, or one of its steps) that
        together would break a quota: each pump's total against its own rules and
        reservoir, then the sum against the device's daily cap. Raises ``LimitReached``
        as ``check`` (the message names the pump)."""
        for pump_id, volume_ml in volumes_ml.items():
            self.check(pump_id, volume_ml)
        if self._global_max_ml_per_day is None or len(volumes_ml) < 2:
            return
        total = sum(volumes_ml.values())
        used = self._journal.dispensed_since(self._clock.now() - DAY)
        left = max(0.0, self._global_max_ml_per_day - used)
        if total > left + TOLERANCE_ML:
            raise LimitReached(
                f"all pumps together may dispense at most {self._global_max_ml_per_day:g} ml "
                f"per 24 h: {used:g} ml used, {left:g} ml left, {total:g} ml asked",
                rule="global_max_per_day",
            )

    def allowance_ml(self, pump_id: str) -> float | None:
        """The most (ml, ≥ 0) the pump may dispense now under every quota and its
        reservoir; None when nothing bounds it (bounds a continuous run)."""
        return allowance_ml(
            usage=self.usage(pump_id),
            safety=self.limits_of(pump_id),
            global_max_ml_per_day=self._global_max_ml_per_day,
            reservoir=self._reservoirs.level(pump_id),
        )
