"""A schedule: a cron expression in a time zone that doses a pump or runs a recipe, with an
explicit policy for the slots it missed (daemon down, emergency stop latched)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class MissedRunPolicy(enum.Enum):
    """What to do with slots that passed without running: ``skip`` them (logged and
    alarmed), or ``run_if_within`` the schedule's grace window: run the newest missed slot
    once (with a warning) when it is at most ``grace_s`` old, skip the rest."""

    SKIP = "skip"
    RUN_IF_WITHIN = "run_if_within"


@dataclass(frozen=True, slots=True)
class DoseTarget:
    """Dose ``volume_ml`` (ml) at ``flow_rate_ml_min`` (ml/min) on ``pump_id``."""

    pump_id: str
    volume_ml: float
    flow_rate_ml_min: float


@dataclass(frozen=True, slots=True)
class RecipeTarget:
    """Run the stored recipe ``recipe_id``."""

    recipe_id: str


ScheduleTarget = DoseTarget | RecipeTarget


@dataclass(frozen=True, slots=True)
class Schedule:
    """A stored schedule. ``cron``: 5 fields (minute hour day-of-month month day-of-week),
    evaluated in ``timezone`` (IANA name, e.g. ``Europe/Berlin``); ``grace_s`` (s) the
    catch-up window of ``run_if_within``; times timezone-aware UTC. ``checked_until``:
    every slot up to it has been decided (run, skipped or refused); None before the first
    check (then slots count from ``created_at``)."""

    schedule_id: str
    name: str
    cron: str
    timezone: str
    target: ScheduleTarget
    enabled: bool
    policy: MissedRunPolicy
    grace_s: float
    created_at: datetime
    last_run: datetime | None = None
    checked_until: datetime | None = None


class SlotKind(enum.Enum):
    """Why a run was recorded: ``on_time`` (fired in its minute), ``catch_up`` (a missed
    slot run late within the grace window), ``missed`` (skipped), ``manual`` (run now)."""

    ON_TIME = "on_time"
    CATCH_UP = "catch_up"
    MISSED = "missed"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class ScheduleRunRecord:
    """One decided slot of a schedule. ``slot``: the cron instant (UTC) it belongs to (for a
    manual run, when it was asked); ``fired_at`` when it was decided (UTC); ``status``
    ``started``, ``refused``, ``failed`` or ``skipped``; ``reference`` the dose or recipe
    run id it started; ``detail`` for people."""

    schedule_id: str
    slot: datetime
    kind: SlotKind
    fired_at: datetime
    status: str = "started"
    detail: str = ""
    reference: str = ""
