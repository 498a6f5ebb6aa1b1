"""In-memory schedule book: the schedules and the slots they claimed, in dicts."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

from domain.schedule import Schedule, ScheduleRunRecord, SlotKind


class InMemoryScheduleBook:
    """``ScheduleBook`` as ``SqliteScheduleBook`` behaves, in dicts: ``schedules`` maps id
    to schedule (insertion order), ``records`` maps (schedule id, slot in UTC) to its run.

    As the SQLite book: ``checked_until`` and ``last_run`` only move forwards (a save or
    claim with an older value keeps the newer one, so a replace racing the executor
    cannot re-open decided slots); ``claim`` is False for a slot already recorded or a
    schedule that no longer exists; times come back in UTC.
    """

    def __init__(self) -> None:
        self.schedules: dict[str, Schedule] = {}
        self.records: dict[tuple[str, datetime], ScheduleRunRecord] = {}
        self._lock = threading.Lock()

    def all(self) -> list[Schedule]:
        with self._lock:
            schedules = list(self.schedules.values())
        return sorted(schedules, key=lambda s: s.created_at)  # stable: ties by insertion

    def get(self, schedule_id: str) -> Schedule | None:
        with self._lock:
            return self.schedules.get(schedule_id)

    def save(self, schedule: Schedule) -> None:
        with self._lock:
            stored = self.schedules.get(schedule.schedule_id)
            if stored is not None:
                schedule = replace(
                    schedule,
                    last_run=_later(stored.last_run, schedule.last_run),
                    checked_until=_later(stored.checked_until, schedule.checked_until),
                )
            self.schedules[schedule.schedule_id] = _in_utc(schedule)

    def delete(self, schedule_id: str) -> bool:
        with self._lock:
            for key in [key for key in self.records if key[0] == schedule_id]:
                del self.records[key]
            return self.schedules.pop(schedule_id, None) is not None

    def claim(self, run: ScheduleRunRecord, *, checked_until: datetime) -> bool:
        key = (run.schedule_id, _utc(run.slot))
        with self._lock:
            stored = self.schedules.get(run.schedule_id)
            if stored is None or key in self.records:
                return False
            self.records[key] = replace(run, slot=key[1], fired_at=_utc(run.fired_at))
            last_run = stored.last_run
            if run.kind is not SlotKind.MISSED:
                last_run = _later(last_run, _utc(run.fired_at))
            self.schedules[run.schedule_id] = replace(
                stored,
                last_run=last_run,
                checked_until=_later(stored.checked_until, _utc(checked_until)),
            )
            return True

    def mark_checked(self, schedule_id: str, checked_until: datetime) -> None:
        with self._lock:
            stored = self.schedules.get(schedule_id)
            if stored is not None:
                later = _later(stored.checked_until, _utc(checked_until))
                self.schedules[schedule_id] = replace(stored, checked_until=later)

    def finish(
        self, schedule_id: str, slot: datetime, *, status: str, detail: str, reference: str = ""
    ) -> None:
        key = (schedule_id, _utc(slot))
        with self._lock:
            record = self.records.get(key)
            if record is not None:
                self.records[key] = replace(
                    record, status=status, detail=detail, reference=reference
                )

    def runs(self, schedule_id: str, *, limit: int) -> list[ScheduleRunRecord]:
        with self._lock:
            rows = [run for (owner, _), run in self.records.items() if owner == schedule_id]
        rows.sort(key=lambda run: run.slot, reverse=True)
        return rows[: max(0, limit)]


def _utc(moment: datetime) -> datetime:
    # as the SQLite book: a naive time is taken as UTC
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _later(stored: datetime | None, new: datetime | None) -> datetime | None:
    if stored is None or new is None:
        return new if stored is None else stored
    return max(stored, new)


def _in_utc(schedule: Schedule) -> Schedule:
    return replace(
        schedule,
        created_at=_utc(schedule.created_at),
        last_run=None if schedule.last_run is None else _utc(schedule.last_run),
        checked_until=None if schedule.checked_until is None else _utc(schedule.checked_until),
    )
