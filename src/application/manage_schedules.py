"""Use case: create, read, replace and delete schedules (the ``/api/schedules`` CRUD), and
when each would fire next."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from application.ports import Clock, CronCalendar, ScheduleBook
from domain.errors import InvalidSchedule, UnknownPump, UnknownRecipe, UnknownSchedule
from domain.schedule import DoseTarget, Schedule, ScheduleRunRecord

# Fields the daemon owns: accepted in a body (a client may send back what it read) and
# ignored.
_READ_ONLY = ("createdAt", "lastRun", "checkedUntil", "nextRun")


class ScheduleAdmin:
    """The stored schedules, validated before they are stored.

    ``pump_ids``: the configured pumps; ``recipe_exists(recipe id)``: whether a recipe is
    stored; ``default_timezone``: the IANA zone of a body without ``timezone``. Bodies are
    the plain shape of ``domain.schedule`` (``id`` optional on create; ``enabled``
    defaults to true, ``missedRunPolicy`` to ``skip``, ``graceSeconds`` to 0 s).
    A schedule never catches up slots from before it was created or last replaced: both
    set its ``checked_until`` to now.
    """

    def __init__(
        self,
        book: ScheduleBook,
        calendar: CronCalendar,
        clock: Clock,
        pump_ids: Collection[str],
        recipe_exists: Callable[[str], bool],
        *,
        default_timezone: str = "UTC",
    ) -> None:
        self._book, self._calendar, self._clock = book, calendar, clock
        self._pump_ids = frozenset(pump_ids)
        self._recipe_exists = recipe_exists
        self._default_timezone = default_timezone

    def all(self) -> list[Schedule]:
        """Every schedule, oldest first."""
        return self._book.all()

    def get(self, schedule_id: str) -> Schedule:
        """One schedule. Raises ``UnknownSchedule``."""
        schedule = self._book.get(schedule_id)
        if schedule is None:
            raise UnknownSchedule(f"no schedule {schedule_id!r}")
        return schedule

    def create(self, body: Mapping[str, Any]) -> Schedule:
        """Store a new schedule from a request body; its id is ``body["id"]`` or a new
        12-hex-digit one. Raises ``InvalidSchedule`` (``field`` names the bad one; ``id``
        also when that id is taken), ``UnknownPump`` or ``UnknownRecipe``."""
        schedule_id = body.get("id")
        if schedule_id is None:
            schedule_id = uuid.uuid4().hex[:12]
        schedule = self._validated(body, schedule_id, created_at=self._clock.now())
        if self._book.get(schedule.schedule_id) is not None:
            raise InvalidSchedule(
                f"a schedule {schedule.schedule_id!r} exists; replace it instead", field="id"
            )
        self._book.save(schedule)
        return schedule

    def replace(self, schedule_id: str, body: Mapping[str, Any]) -> Schedule:
        """Replace a schedule from a request body (the path's id wins over the body's);
        it keeps its creation time and run history. Raises ``UnknownSchedule`` and as
        ``create``."""
        stored = self.get(schedule_id)
        schedule = self._validated(body, schedule_id, created_at=stored.created_at)
        schedule = dataclasses.replace(schedule, last_run=stored.last_run)
        self._book.save(schedule)
        return self.get(schedule_id)

    def delete(self, schedule_id: str) -> None:
        """Remove a schedule and its run history. Raises ``UnknownSchedule``."""
        if not self._book.delete(schedule_id):
            raise UnknownSchedule(f"no schedule {schedule_id!r}")

    def runs(self, schedule_id: str, *, limit: int = 50) -> list[ScheduleRunRecord]:
        """The schedule's recorded runs, newest slot first. Raises ``UnknownSchedule``."""
        self.get(schedule_id)
        return self._book.runs(schedule_id, limit=limit)

    def next_run(self, schedule_id: str) -> datetime | None:
        """When the schedule fires next (UTC), for display; None while it is disabled.
        Raises ``UnknownSchedule``."""
        schedule = self.get(schedule_id)
        if not schedule.enabled:
            return None
        return self._calendar.next_slot(schedule.cron, schedule.timezone, self._clock.now())

    def _validated(
        self, body: Mapping[str, Any], schedule_id: object, *, created_at: datetime
    ) -> Schedule:
        if not isinstance(body, Mapping):
            raise InvalidSchedule("a schedule must be a JSON object", field="schedule")
        plain = {key: value for key, value in body.items() if key not in _READ_ONLY}
        plain = {
            "enabled": True, "missedRunPolicy": "skip", "graceSeconds": 0.0,
            "timezone": self._default_timezone, **plain,
            "id": schedule_id, "createdAt": created_at.isoformat(),
        }  # fmt: skip
        schedule = Schedule.from_plain(plain)
        self._calendar.validate(schedule.cron, schedule.timezone)
        target = schedule.target
        if isinstance(target, DoseTarget):
            if target.pump_id not in self._pump_ids:
                known = ", ".join(sorted(self._pump_ids))
                raise UnknownPump(f"no pump {target.pump_id!r}; configured: {known}")
        elif not self._recipe_exists(target.recipe_id):
            raise UnknownRecipe(f"no recipe {target.recipe_id!r}")
        # Slots from before now are never caught up (see the class docstring).
        return dataclasses.replace(schedule, checked_until=self._clock.now())
