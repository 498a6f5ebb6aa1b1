"""Which of a schedule's due slots runs: on time, one catch-up within the grace window, or
none (the rest are skipped, and said so)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.schedule import MissedRunPolicy, SlotKind

# Cron has minute granularity and the executor ticks every second: a slot decided within
# a minute of its instant is on time; an older one was missed.
ON_TIME_S = 60.0


@dataclass(frozen=True, slots=True)
class SlotDecision:
    """What to do with a schedule's due slots: ``run`` one (as ``kind``, ``on_time`` or
    ``catch_up``) or none; ``skipped`` the others, oldest first."""

    run: datetime | None
    kind: SlotKind | None
    skipped: tuple[datetime, ...]


def decide_slots(
    due: Sequence[datetime],
    now: datetime,
    policy: MissedRunPolicy,
    grace_s: float,
    on_time_s: float = ON_TIME_S,
) -> SlotDecision:
    """Decide the slots that came due since the last decision (UTC; later than ``now`` are
    not due). A slot is on time when ``now - slot <= on_time_s`` (s), else missed. The
    newest on-time slot runs and every other is skipped; with no slot on time, the newest
    missed one runs as a catch-up under ``run_if_within`` when ``now - slot <= grace_s``
    (s); every other is skipped. At most one slot runs per decision."""
    slots = sorted(slot for slot in due if slot <= now)
    if not slots:
        return SlotDecision(None, None, ())
    newest, older = slots[-1], tuple(slots[:-1])
    age_s = (now - newest).total_seconds()
    if age_s <= on_time_s:
        return SlotDecision(newest, SlotKind.ON_TIME, older)
    if policy is MissedRunPolicy.RUN_IF_WITHIN and age_s <= grace_s:
        return SlotDecision(newest, SlotKind.CATCH_UP, older)
    return SlotDecision(None, None, tuple(slots))
