"""Settling doses a crash interrupted: how much flowed, from the controller's axis position.

A dose is journaled (with its axis start position and calibration) before its motion is
sent, and its progress while it runs. When the daemon dies mid-dose the journal row stays
``running``. At the next start the controller is brought to rest (soft reset) and its
machine position read. Grbl keeps MPos across a soft reset: ``mc_reset``
(motion_control.c) kills the steppers and raises ALARM:3 but leaves ``sys_position``, the
count of steps it issued. So ``position - start`` is the travel of the interrupted dose,
and travel * ml/mm is the volume. A power cycle restarts MPos at 0. A position outside the
dose's travel shows that, and then only bounds are known: at least the journaled
progress, at most the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.events import DoseOutcome
from domain.journal import DoseRecord

# Two Grbl steps at the usual 1000 steps/mm ($100): MPos is reported in whole steps, and
# the journaled start and progress went through the same rounding.
TOLERANCE_MM = 0.002
_PREFIX = "interrupted: daemon stopped mid-dose"


@dataclass(frozen=True, slots=True)
class Settlement:
    """How an interrupted dose is closed in the journal (as ``DoseOutcome.INTERRUPTED``).

    ``actual_ml`` (ml) is the volume from the axis travel when certain, else the least
    known to have flowed (the journaled progress). ``actual_upper_ml`` (ml) is set only
    when uncertain: the most that can have flowed. ``reason`` is for the operator.
    """

    actual_ml: float
    actual_upper_ml: float | None
    reason: str

    @property
    def uncertain(self) -> bool:
        """Whether the actual volume is only known as a range."""
        return self.actual_upper_ml is not None


def settle_interrupted(record: DoseRecord, position_mm: float | None) -> Settlement:
    """Settle ``record``, a dose still ``running`` after a crash, from its pump's axis
    machine position ``position_mm`` (mm, read once the controller is at rest; None when
    unknown).

    Certain when the record has ``start_position_mm`` and a positive ``ml_per_mm`` and the
    travel ``position_mm - start_position_mm`` lies between the journaled progress
    (``dispensed_ml / ml_per_mm``) and the full travel (``requested_ml / ml_per_mm``),
    each widened by ``TOLERANCE_MM``: then ``actual_ml`` is travel * ml_per_mm, clamped to
    0…``requested_ml`` and rounded to 6 decimals. A travel outside that range means the
    position is not this dose's (a power-cycled controller restarts MPos at 0), so the
    dose is uncertain: ``actual_ml`` = ``dispensed_ml``, ``actual_upper_ml`` =
    max(``requested_ml``, ``dispensed_ml``); likewise when anything is unknown, and when
    the position reads 0 (a restarted controller's MPos: the dose started there, so it
    cannot tell "never moved" from "moved, then power-cycled"). For a
    continuous run ``requested_ml`` is its cap, so the same rule holds.

    Raises ``ValueError`` if ``record`` is not ``running``.
    """
    _check_running(record)
    start, ml_per_mm = record.start_position_mm, record.ml_per_mm
    if start is None or ml_per_mm is None or ml_per_mm <= 0:
        return _uncertain(record, "no start position or calibration journaled")
    if position_mm is None:
        return _uncertain(record, "controller position unknown")
    travel = position_mm - start
    full_travel = record.requested_ml / ml_per_mm
    progress_travel = record.dispensed_ml / ml_per_mm
    if not progress_travel - TOLERANCE_MM <= travel <= full_travel + TOLERANCE_MM:
        return _uncertain(
            record,
            f"controller position {_num(position_mm, 3)} mm is outside this dose's travel "
            f"({_num(start + progress_travel, 3)} to {_num(start + full_travel, 3)} mm; "
            "controller restarted?)",
        )
    if abs(position_mm) <= TOLERANCE_MM:
        # MPos 0 is also where a power-cycled controller starts: for a dose that started
        # at 0, "never moved" and "moved, then lost power" read the same.
        return _uncertain(
            record,
            "controller position 0 mm is also where a restarted controller starts",
        )
    actual = round(min(max(travel * ml_per_mm, 0.0), record.requested_ml), 6)
    return Settlement(
        actual_ml=actual,
        actual_upper_ml=None,
        reason=f"{_PREFIX}; {_num(actual, 3)} ml from the controller position "
        f"({_num(travel, 2)} mm of {_num(full_travel, 2)} mm)",
    )


def settle_all(
    records: Sequence[DoseRecord], positions_mm: Mapping[str, float] | None
) -> list[tuple[DoseRecord, Settlement]]:
    """Settle every unfinished dose in ``records`` (as ``DoseJournal.unfinished()``), in
    their order, given each pump's axis machine position (pump id → mm; None when the
    controller could not be read).

    Only the newest unfinished dose of a pump (latest ``started_at``, then latest in
    ``records``) can be settled from the axis position: an older one's travel was
    followed by the newer dose's, so the position says nothing about it, and it is
    settled as uncertain. A pump missing from ``positions_mm`` is uncertain too.

    Raises ``ValueError`` if a record is not ``running``.
    """
    newest: dict[str, int] = {}
    for index, record in enumerate(records):
        best = newest.get(record.pump_id)
        if best is None or record.started_at >= records[best].started_at:
            newest[record.pump_id] = index
    settled: list[tuple[DoseRecord, Settlement]] = []
    for index, record in enumerate(records):
        if positions_mm is not None and newest[record.pump_id] != index:
            _check_running(record)
            settlement = _uncertain(record, "a later dose on this pump moved its axis")
        else:
            position = None if positions_mm is None else positions_mm.get(record.pump_id)
            settlement = settle_interrupted(record, position)
        settled.append((record, settlement))
    return settled


def _check_running(record: DoseRecord) -> None:
    if record.outcome is not DoseOutcome.RUNNING:
        raise ValueError(f"dose {record.dose_id} is {record.outcome.value}, not running")


def _uncertain(record: DoseRecord, why: str) -> Settlement:
    upper = max(record.requested_ml, record.dispensed_ml)
    return Settlement(
        actual_ml=record.dispensed_ml,
        actual_upper_ml=upper,
        reason=f"{_PREFIX}; {why}, uncertain ≤ {_num(upper, 3)} ml",
    )


def _num(value: float, places: int) -> str:
    """``value`` rounded to ``places`` decimals without trailing zeros (24.68, 40, 0)."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
