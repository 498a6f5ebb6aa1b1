"""A schedule: a cron expression in a time zone that doses a pump or runs a recipe, with an
explicit policy for the slots it missed (daemon down, emergency stop latched).

The plain shape (what the HTTP API and the store carry), times ISO-8601 UTC::

    {"id": "morning", "name": "Morning feed", "cron": "30 7 * * *",
     "timezone": "Europe/Berlin", "target": {"pump": "X", "volume": 5.0, "flowRate": 10.0}
     (or {"recipe": "nutrient-mix"}), "enabled": true, "missedRunPolicy": "run_if_within",
     "graceSeconds": 3600, "createdAt": iso, "lastRun": iso|null, "checkedUntil": iso|null}

volumes in ml, flow rates in ml/min, the grace window in s.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.errors import InvalidSchedule
from domain.numbers import is_finite_number

MAX_NAME = 80
MAX_CRON = 200
MAX_TIMEZONE = 64
MAX_GRACE_S = 7 * 24 * 3600.0
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FIELDS = frozenset(
    {"id", "name", "cron", "timezone", "target", "enabled", "missedRunPolicy",
     "graceSeconds", "createdAt", "lastRun", "checkedUntil"}
)  # fmt: skip


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
    check (then slots count from ``created_at``). Build one with :meth:`create` or
    :meth:`from_plain`; both raise ``InvalidSchedule`` naming the offending field."""

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

    @classmethod
    def create(
        cls,
        *,
        schedule_id: object,
        name: object,
        cron: object,
        timezone: object,
        target: ScheduleTarget,
        enabled: object,
        policy: object,
        grace_s: object,
        created_at: datetime,
        last_run: datetime | None = None,
        checked_until: datetime | None = None,
    ) -> Schedule:
        """Validate and build; every argument but the target and the times may come from
        untrusted input (``policy`` a ``MissedRunPolicy`` or its value). Checks the shape
        only: whether the cron expression and time zone evaluate is the ``CronCalendar``'s
        call, whether the pump or recipe exists the use case's."""
        if not isinstance(schedule_id, str) or not _ID.match(schedule_id):
            raise InvalidSchedule(
                "id must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or "
                f"digit, got {schedule_id!r}",
                field="id",
            )
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
            raise InvalidSchedule(f"name must be 1-{MAX_NAME} characters", field="name")
        if not isinstance(cron, str) or not cron.strip() or len(cron) > MAX_CRON:
            raise InvalidSchedule(f"cron must be 1-{MAX_CRON} characters", field="cron")
        if not isinstance(timezone, str) or not timezone or len(timezone) > MAX_TIMEZONE:
            raise InvalidSchedule("timezone must be an IANA time zone name", field="timezone")
        if not isinstance(enabled, bool):
            raise InvalidSchedule("enabled must be true or false", field="enabled")
        if not is_finite_number(grace_s) or not 0 <= grace_s <= MAX_GRACE_S:
            raise InvalidSchedule(
                f"graceSeconds must be a number of seconds from 0 to {MAX_GRACE_S:g}",
                field="graceSeconds",
            )
        _check_target(target)
        return cls(
            schedule_id, name.strip(), " ".join(cron.split()), timezone, target, enabled,
            _policy(policy), float(grace_s), created_at, last_run, checked_until,
        )  # fmt: skip

    def to_plain(self) -> dict[str, Any]:
        """The plain (JSON-able) shape of the module docstring."""
        target: dict[str, Any]
        if isinstance(self.target, DoseTarget):
            t = self.target
            target = {"pump": t.pump_id, "volume": t.volume_ml, "flowRate": t.flow_rate_ml_min}
        else:
            target = {"recipe": self.target.recipe_id}
        return {
            "id": self.schedule_id, "name": self.name, "cron": self.cron,
            "timezone": self.timezone, "target": target, "enabled": self.enabled,
            "missedRunPolicy": self.policy.value, "graceSeconds": self.grace_s,
            "createdAt": _iso(self.created_at), "lastRun": _iso(self.last_run),
            "checkedUntil": _iso(self.checked_until),
        }  # fmt: skip

    @classmethod
    def from_plain(cls, plain: object) -> Schedule:
        """Read the plain shape (every field but ``lastRun`` and ``checkedUntil`` required).
        Raises ``InvalidSchedule`` naming the first bad field."""
        body = _mapping(plain, "schedule")
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise InvalidSchedule(f"unknown field {unknown[0]!r}", field=unknown[0])
        created_at = _moment(body.get("createdAt"), "createdAt")
        if created_at is None:
            raise InvalidSchedule("createdAt is required", field="createdAt")
        return cls.create(
            schedule_id=body.get("id"), name=body.get("name"), cron=body.get("cron"),
            timezone=body.get("timezone"), target=target_from_plain(body.get("target")),
            enabled=body.get("enabled"), policy=body.get("missedRunPolicy"),
            grace_s=body.get("graceSeconds"), created_at=created_at,
            last_run=_moment(body.get("lastRun"), "lastRun"),
            checked_until=_moment(body.get("checkedUntil"), "checkedUntil"),
        )  # fmt: skip


def target_from_plain(plain: object) -> ScheduleTarget:
    """``{"pump", "volume": ml, "flowRate": ml/min}`` or ``{"recipe"}``, validated.
    Raises ``InvalidSchedule`` (``field`` ``target``, ``target.volume``, …)."""
    body = _mapping(plain, "target")
    target: ScheduleTarget
    if "recipe" in body:
        fields, target = {"recipe"}, RecipeTarget(body["recipe"])
    else:
        fields = {"pump", "volume", "flowRate"}
        # A missing number reads as NaN, refused below as not finite.
        target = DoseTarget(
            body.get("pump", ""), body.get("volume", math.nan), body.get("flowRate", math.nan)
        )
    unknown = sorted(set(body) - fields)
    if unknown:
        raise InvalidSchedule(f"target: unknown field {unknown[0]!r}", field="target")
    _check_target(target)
    return target


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
    ``claimed`` (recorded before it is dispatched; stays so if the daemon died right
    then), ``started``, ``refused``, ``failed`` or ``skipped``; ``reference`` the dose or
    recipe run id it started; ``detail`` for people."""

    schedule_id: str
    slot: datetime
    kind: SlotKind
    fired_at: datetime
    status: str = "started"
    detail: str = ""
    reference: str = ""


def _check_target(target: ScheduleTarget) -> None:
    if isinstance(target, RecipeTarget):
        if not isinstance(target.recipe_id, str) or not target.recipe_id:
            raise InvalidSchedule("target.recipe must be a recipe id", field="target.recipe")
        return
    if not isinstance(target.pump_id, str) or not target.pump_id:
        raise InvalidSchedule("target.pump must be a pump id", field="target.pump")
    for value, field, unit in (
        (target.volume_ml, "target.volume", "ml"),
        (target.flow_rate_ml_min, "target.flowRate", "ml/min"),
    ):
        if not is_finite_number(value) or value <= 0:
            raise InvalidSchedule(f"{field} must be a finite number > 0 {unit}", field=field)


def _policy(value: object) -> MissedRunPolicy:
    if isinstance(value, MissedRunPolicy):
        return value
    try:
        return MissedRunPolicy(value)
    except ValueError:
        raise InvalidSchedule(
            "missedRunPolicy must be 'skip' or 'run_if_within'", field="missedRunPolicy"
        ) from None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _moment(value: object, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidSchedule(f"{field} must be an ISO-8601 time with a zone", field=field)
    return moment.astimezone(UTC)


def _mapping(plain: object, where: str) -> Mapping[str, Any]:
    if not isinstance(plain, Mapping):
        raise InvalidSchedule(f"{where} must be a JSON object", field=where)
    return plain
