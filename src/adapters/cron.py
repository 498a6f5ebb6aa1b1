"""The ``CronCalendar`` port on cronsim (Debian cron's semantics) and the IANA time zones of
``zoneinfo`` (the ``tzdata`` package where the system has none).

Only the five standard fields (minute hour day-of-month month day-of-week) are accepted:
cronsim's optional sixth (seconds) field would break the one-minute on-time rule, and it
has no ``@daily``-style shortcuts, so those are refused too (write ``0 0 * * *``).
cronsim's extensions of the fields (``L``, ``LW``, ``MON#2``) are allowed.

DST, as Debian cron and cronsim (README "DST Transitions"): a job at a fixed time (neither
minute nor hour starts with ``*``) whose local time is skipped runs once right after the
jump, and runs once, at the first occurrence, when the hour repeats; a job that runs more
often (``0 * * * *``, ``*/15 2 * * *``) follows the wall clock, so it fires in both
repeated hours and not at all in a skipped one. Checked in
tests/unit/adapters/test_cron_calendar.py (Europe/Berlin, 2026).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from domain.errors import InvalidSchedule

# Cron's DST handling moves a slot by less than this (Debian cron: "local time changes of
# less than three hours ... are handled specially"); margins of the bounded walk below.
_DST_MARGIN = timedelta(hours=3)
# More than the slots a 5-field expression can have in _DST_MARGIN (180, minutely).
_SPARE = 300
# Any instant: cronsim needs one to parse against; "never fires" means in 50 years from it.
_REFERENCE = datetime(2026, 1, 1, tzinfo=UTC)


class CronsimCalendar:
    """Cron evaluation for schedules; stateless and thread-safe.

    Every method raises ``InvalidSchedule`` with ``field`` ``cron`` (not 5 fields, a bad
    field, a shortcut, an expression that never fires) or ``timezone`` (not an IANA name
    this system knows; ``localtime`` is refused, it depends on the host).
    """

    def validate(self, expression: str, timezone: str) -> None:
        self.next_slot(expression, timezone, _REFERENCE)

    def slots(
        self, expression: str, timezone: str, after: datetime, until: datetime, *, limit: int
    ) -> list[datetime]:
        """The firing instants (UTC) in (``after``, ``until``], oldest first, the newest
        ``limit`` of them. Bounded whatever the window: when it holds more than ``limit``
        (a minutely schedule after a long outage), a backward walk from ``until`` finds
        where the newest ``limit`` begin and only those are walked forwards, so the work is
        about ``limit`` + a few hundred cron steps (about 10 µs each)."""
        zone = _zone(timezone)
        _check(expression)
        if limit <= 0 or until <= after:
            return []
        found = _forward(expression, zone, after, until, budget=limit + _SPARE)
        if found is None:
            start = _start_of_newest(expression, zone, after, until, limit)
            found = _forward(expression, zone, start, until, budget=limit + 10 * _SPARE)
            if found is None:  # cannot happen: the backward walk bounded the window
                raise RuntimeError(f"cron {expression!r}: slot walk exceeded its bound")
        return found[-limit:]

    def next_slot(self, expression: str, timezone: str, after: datetime) -> datetime:
        zone = _zone(timezone)
        for slot in _walk(expression, zone, after, reverse=False):
            if slot > after:
                return slot
        raise InvalidSchedule(f"cron {expression!r} never fires", field="cron")


def _forward(
    expression: str, zone: ZoneInfo, after: datetime, until: datetime, *, budget: int
) -> list[datetime] | None:
    """Every slot in (after, until] walking forwards (cron's own direction, so its DST
    rules hold), or None when that takes more than ``budget`` steps. Forward slots rise
    strictly in UTC; the first may lie before ``after`` (a start inside a repeated hour,
    whose fixed-time slots belong to its first pass), hence the filter."""
    found: list[datetime] = []
    for steps, slot in enumerate(_walk(expression, zone, after, reverse=False)):
        if slot > until:
            return found
        if steps >= budget:
            return None
        if slot > after:
            found.append(slot)
    return found  # no slot in 50 years: cronsim gave up


def _start_of_newest(
    expression: str, zone: ZoneInfo, after: datetime, until: datetime, limit: int
) -> datetime:
    """Where to start walking forwards to meet the newest ``limit`` slots: the oldest of
    them found walking backwards, less a DST margin (cronsim's backward walk may differ
    from the forward one at a DST change)."""
    count = 0
    for steps, slot in enumerate(_walk(expression, zone, until, reverse=True)):
        if slot <= after - _DST_MARGIN or steps >= limit + _SPARE:
            break
        if after < slot <= until:
            count += 1
            if count >= limit:
                return max(after, slot - _DST_MARGIN)
    return after


def _walk(expression: str, zone: ZoneInfo, start: datetime, *, reverse: bool) -> _Slots:
    _check(expression)
    # Backwards, cronsim's first step leaves its start out: start a second later.
    origin = start + timedelta(seconds=1) if reverse else start
    try:
        return _Slots(CronSim(expression, origin.astimezone(zone), reverse=reverse))
    except CronSimError as error:
        raise InvalidSchedule(f"cron {expression!r}: {error}", field="cron") from error


class _Slots:
    """cronsim's iterator with each instant in UTC."""

    def __init__(self, sim: CronSim) -> None:
        self._sim = sim

    def __iter__(self) -> _Slots:
        return self

    def __next__(self) -> datetime:
        return next(self._sim).astimezone(UTC)


def _check(expression: str) -> None:
    if not isinstance(expression, str) or expression.strip().startswith("@"):
        raise InvalidSchedule(
            f"cron {expression!r}: shortcuts like @daily are not supported; write the 5 "
            "fields (0 0 * * *)",
            field="cron",
        )
    fields = len(expression.split())
    if fields != 5:
        raise InvalidSchedule(
            f"cron {expression!r} has {fields} fields; 5 are needed: minute hour "
            "day-of-month month day-of-week",
            field="cron",
        )


def _zone(timezone: str) -> ZoneInfo:
    if not isinstance(timezone, str) or timezone == "localtime":
        raise InvalidSchedule(f"unknown time zone {timezone!r}", field="timezone")
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        # ValueError: not a relative key (an absolute path, "..", NUL); OSError: a folder
        raise InvalidSchedule(
            f"unknown time zone {timezone!r}; use an IANA name like Europe/Berlin",
            field="timezone",
        ) from error
