"""In-memory dose journal, NVS, outbox and a clock that moves only when told."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from adapters.storage.nvs import check_name, check_value
from adapters.storage.outbox import encode_payload
from application.ports import NvsValue
from domain.events import DoseOutcome
from domain.journal import DoseRecord
from domain.telemetry import MessageKind, OutboxEntry


class InMemoryJournal:
    """``DoseJournal`` in a dict; ``records`` keeps insertion order."""

    def __init__(self) -> None:
        self.records: dict[str, DoseRecord] = {}
        self._lock = threading.Lock()

    def dose_started(self, record: DoseRecord) -> None:
        with self._lock:
            self.records[record.dose_id] = record

    def dose_ended(
        self,
        dose_id: str,
        *,
        actual_ml: float,
        outcome: DoseOutcome,
        ended_at: datetime,
        reason: str = "",
        actual_upper_ml: float | None = None,
    ) -> None:
        with self._lock:
            self.records[dose_id] = replace(
                self.records[dose_id],
                actual_ml=actual_ml,
                outcome=outcome,
                ended_at=ended_at,
                reason=reason,
                actual_upper_ml=actual_upper_ml,
            )

    def dose_progress(self, dose_id: str, *, dispensed_ml: float) -> None:
        with self._lock:
            record = self.records.get(dose_id)
            if record is not None and record.outcome is DoseOutcome.RUNNING:
                self.records[dose_id] = replace(record, dispensed_ml=dispensed_ml)

    def unfinished(self) -> list[DoseRecord]:
        with self._lock:
            rows = [r for r in self.records.values() if r.outcome is DoseOutcome.RUNNING]
        return sorted(rows, key=lambda r: r.started_at)  # stable: ties in insertion order

    def get(self, dose_id: str) -> DoseRecord | None:
        with self._lock:
            return self.records.get(dose_id)

    def dispensed_since(self, since: datetime, *, pump_id: str | None = None) -> float:
        with self._lock:
            rows = [
                r
                for r in self.records.values()
                if r.started_at >= since and pump_id in (None, r.pump_id)
            ]
        return sum(map(_dispensed_ml, rows), 0.0)

    def history(self, *, limit: int, since: datetime | None = None) -> list[DoseRecord]:
        with self._lock:
            rows = [r for r in self.records.values() if since is None or r.started_at >= since]
        # Newest start first, ties newest inserted first (as SQLite's started_at, rowid).
        rows.reverse()
        return sorted(rows, key=lambda r: r.started_at, reverse=True)[:limit]


def _dispensed_ml(record: DoseRecord) -> float:
    """What ``dispensed_since`` counts for one dose (ml)."""
    if record.outcome is DoseOutcome.RUNNING:
        return max(record.requested_ml, record.dispensed_ml)
    if record.actual_upper_ml is not None:
        return record.actual_upper_ml
    return record.actual_ml or 0.0


class ManualClock:
    """``Clock`` whose time moves only when told (``advance``) or slept on; UTC wall time
    starts at ``start``. Lets use-case tests run motion without waiting."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._elapsed_s = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed_s)

    def monotonic(self) -> float:
        return self._elapsed_s

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._elapsed_s += max(0.0, seconds)


class InMemoryNvs:
    """``NonVolatileStore`` in a dict of dicts; ``set_many`` is atomic under a lock and
    refuses (all of it) what the SQLite store refuses (names, types, ranges)."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, NvsValue]] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str, key: str) -> NvsValue | None:
        check_name("namespace", namespace)
        check_name("key", key)
        with self._lock:
            return self._data.get(namespace, {}).get(key)

    def get_all(self, namespace: str) -> dict[str, NvsValue]:
        check_name("namespace", namespace)
        with self._lock:
            return dict(self._data.get(namespace, {}))

    def set_many(self, namespace: str, values: Mapping[str, NvsValue]) -> None:
        # the same name and value rules as the SQLite store, so fakes refuse what it refuses
        check_name("namespace", namespace)
        for key, value in values.items():
            check_name("key", key)
            check_value(key, value)
        with self._lock:
            self._data.setdefault(namespace, {}).update(values)

    def erase(self, namespace: str, key: str) -> None:
        check_name("namespace", namespace)
        check_name("key", key)
        with self._lock:
            self._data.get(namespace, {}).pop(key, None)

    def erase_namespace(self, namespace: str) -> None:
        check_name("namespace", namespace)
        with self._lock:
            self._data.pop(namespace, None)


class InMemoryOutbox:
    """``Outbox`` in a dict ordered by seq; ``seq`` starts at ``first_seq``."""

    def __init__(self, first_seq: int = 1) -> None:
        self._entries: dict[int, OutboxEntry] = {}
        self._next = first_seq
        self._lock = threading.Lock()

    def append(self, kind: MessageKind, payload: Mapping[str, Any]) -> int:
        # the SQLite store's JSON rules and round trip: same refusals, same shapes, a copy
        stored = json.loads(encode_payload(payload))
        with self._lock:
            seq, self._next = self._next, self._next + 1
            self._entries[seq] = OutboxEntry(seq, kind, stored)
            return seq

    def pending(
        self, limit: int, *, alarms_first: bool = False, exclude: Collection[int] = ()
    ) -> list[OutboxEntry]:
        with self._lock:
            entries = [e for e in self._entries.values() if e.seq not in exclude]
        entries.sort(key=lambda e: (not (alarms_first and e.kind.is_alarm), e.seq))
        return entries[: max(0, limit)]

    def acknowledge(self, seq: int) -> None:
        with self._lock:
            self._entries.pop(seq, None)

    def depth(self) -> int:
        with self._lock:
            return len(self._entries)
