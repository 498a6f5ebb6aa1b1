"""The ``DoseJournal`` contract, held by the in-memory fake and the SQLite journal; and
what only SQLite promises: rows survive reopening and a process that dies without closing,
the file is in WAL mode, a journal from the previous schema is migrated."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.fakes import InMemoryJournal
from adapters.storage.journal import SqliteDoseJournal
from application.ports import DoseJournal
from domain.events import DoseKind, DoseOutcome
from domain.journal import DoseRecord

pytestmark = pytest.mark.slow
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SRC = Path(__file__).resolve().parents[2] / "src"


def record(dose_id: str, minutes: int, pump_id: str = "X", requested_ml: float = 2.0) -> DoseRecord:
    return DoseRecord(dose_id, pump_id, requested_ml, 120.0, T0 + timedelta(minutes=minutes))


def end(
    journal: DoseJournal, dose_id: str, actual_ml: float, upper_ml: float | None = None
) -> None:
    journal.dose_ended(
        dose_id,
        actual_ml=actual_ml,
        outcome=DoseOutcome.COMPLETED,
        ended_at=T0,
        actual_upper_ml=upper_ml,
    )


@pytest.fixture(params=["in-memory", "sqlite"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DoseJournal]:
    if request.param == "in-memory":
        yield InMemoryJournal()
        return
    sqlite_journal = SqliteDoseJournal(tmp_path / "j.sqlite3")
    yield sqlite_journal
    sqlite_journal.close()


def test_the_outcome_and_actual_volume_are_recorded(journal: DoseJournal) -> None:
    journal.dose_started(record("dose-1", 0))
    ended = T0 + timedelta(seconds=61)
    journal.dose_ended(
        "dose-1", actual_ml=1.234, outcome=DoseOutcome.STOPPED, ended_at=ended, reason="stop"
    )
    [row] = journal.history(limit=10)
    assert (row.actual_ml, row.outcome, row.ended_at, row.reason) == (
        1.234,
        DoseOutcome.STOPPED,
        ended,
        "stop",
    )
    assert row.started_at == T0
    assert not row.uncertain


def test_history_is_newest_first_limited_and_filtered_by_since(journal: DoseJournal) -> None:
    for minute in range(5):
        journal.dose_started(record(f"dose-{minute}", minute))
    assert [r.dose_id for r in journal.history(limit=2)] == ["dose-4", "dose-3"]
    since = T0 + timedelta(minutes=3)
    assert [r.dose_id for r in journal.history(limit=10, since=since)] == ["dose-4", "dose-3"]


def test_progress_of_a_running_dose_is_recorded(journal: DoseJournal) -> None:
    journal.dose_started(record("dose-1", 0))
    journal.dose_progress("dose-1", dispensed_ml=0.5)
    journal.dose_progress("dose-1", dispensed_ml=1.25)
    assert journal.get("dose-1") == replace(record("dose-1", 0), dispensed_ml=1.25)


def test_progress_after_the_end_is_ignored(journal: DoseJournal) -> None:
    journal.dose_started(record("dose-1", 0))
    journal.dose_progress("dose-1", dispensed_ml=1.0)
    end(journal, "dose-1", 1.5)
    journal.dose_progress("dose-1", dispensed_ml=1.9)
    journal.dose_progress("no-such-dose", dispensed_ml=1.9)
    row = journal.get("dose-1")
    assert row is not None
    assert (row.dispensed_ml, row.actual_ml, row.outcome) == (1.0, 1.5, DoseOutcome.COMPLETED)


def test_unfinished_lists_only_running_doses_oldest_first(journal: DoseJournal) -> None:
    journal.dose_started(record("dose-b", 2))
    journal.dose_started(record("dose-a", 1))
    journal.dose_started(record("dose-ended", 0))
    journal.dose_started(record("dose-c", 2, pump_id="Y"))
    end(journal, "dose-ended", 2.0)
    assert [r.dose_id for r in journal.unfinished()] == ["dose-a", "dose-b", "dose-c"]


def test_get_returns_one_dose_or_none(journal: DoseJournal) -> None:
    journal.dose_started(record("dose-1", 0))
    journal.dose_started(record("dose-2", 1, pump_id="Y"))
    assert journal.get("dose-2") == record("dose-2", 1, pump_id="Y")
    assert journal.get("dose-3") is None


def test_a_refused_dose_is_stored_already_ended_and_counts_nothing(journal: DoseJournal) -> None:
    refused = replace(
        record("dose-1", 0),
        outcome=DoseOutcome.REFUSED,
        actual_ml=0.0,
        ended_at=T0,
        reason="daily limit reached",
    )
    journal.dose_started(refused)
    assert journal.get("dose-1") == refused
    assert journal.unfinished() == []
    assert journal.dispensed_since(T0) == 0.0


def test_every_field_round_trips(journal: DoseJournal) -> None:
    started = replace(
        record("dose-1", 0, requested_ml=50.0),
        started_at=T0 + timedelta(microseconds=123456),
        kind=DoseKind.CONTINUOUS,
        start_position_mm=-12.345,
        ml_per_mm=0.0513,
    )
    journal.dose_started(started)
    journal.dose_progress("dose-1", dispensed_ml=3.25)
    journal.dose_ended(
        "dose-1",
        actual_ml=3.25,
        outcome=DoseOutcome.INTERRUPTED,
        ended_at=T0 + timedelta(minutes=5),
        reason="interrupted: uncertain ≤ 50 ml",
        actual_upper_ml=50.0,
    )
    row = journal.get("dose-1")
    assert row == replace(
        started,
        outcome=DoseOutcome.INTERRUPTED,
        actual_ml=3.25,
        ended_at=T0 + timedelta(minutes=5),
        reason="interrupted: uncertain ≤ 50 ml",
        dispensed_ml=3.25,
        actual_upper_ml=50.0,
    )
    assert row is not None and row.uncertain


@pytest.fixture
def mixed_day(journal: DoseJournal) -> DoseJournal:
    """X: 1.5 ml ended (min 0); Y: 0.7 ml (min 1); X: uncertain 0.4 ≤ 2.0 ml (min 2);
    X: running 2 ml, 0.5 ml so far (min 3); X: running 1 ml, 1.2 ml so far (min 4);
    X: refused (min 5)."""
    for dose_id, minute, pump_id, requested in [
        ("d0", 0, "X", 2.0), ("d1", 1, "Y", 1.0), ("d2", 2, "X", 2.0),
        ("d3", 3, "X", 2.0), ("d4", 4, "X", 1.0),
    ]:  # fmt: skip
        journal.dose_started(record(dose_id, minute, pump_id, requested))
    end(journal, "d0", 1.5)
    end(journal, "d1", 0.7)
    end(journal, "d2", 0.4, upper_ml=2.0)
    journal.dose_progress("d3", dispensed_ml=0.5)
    journal.dose_progress("d4", dispensed_ml=1.2)
    refused = replace(record("d5", 5), outcome=DoseOutcome.REFUSED, actual_ml=0.0, ended_at=T0)
    journal.dose_started(refused)
    return journal


def test_dispensed_since_sums_one_pump_or_all_from_the_window_start(
    mixed_day: DoseJournal,
) -> None:
    assert mixed_day.dispensed_since(T0, pump_id="X") == pytest.approx(1.5 + 2.0 + 2.0 + 1.2)
    assert mixed_day.dispensed_since(T0) == pytest.approx(1.5 + 0.7 + 2.0 + 2.0 + 1.2)
    at_d1 = T0 + timedelta(minutes=1)  # a dose started exactly at ``since`` counts
    assert mixed_day.dispensed_since(at_d1) == pytest.approx(0.7 + 2.0 + 2.0 + 1.2)
    assert mixed_day.dispensed_since(at_d1 + timedelta(microseconds=1)) == pytest.approx(5.2)
    assert mixed_day.dispensed_since(T0, pump_id="Y") == pytest.approx(0.7)
    assert mixed_day.dispensed_since(T0, pump_id="Z") == 0.0
    assert mixed_day.dispensed_since(T0 + timedelta(minutes=6)) == 0.0


def test_a_started_dose_is_on_disk_as_running_before_it_ends(tmp_path: Path) -> None:
    SqliteDoseJournal(tmp_path / "j.sqlite3").dose_started(record("dose-1", 0))
    reopened = SqliteDoseJournal(tmp_path / "j.sqlite3")
    [row] = reopened.history(limit=10)
    assert (row.dose_id, row.outcome, row.actual_ml) == ("dose-1", DoseOutcome.RUNNING, None)


def test_the_journal_file_is_in_wal_mode(tmp_path: Path) -> None:
    SqliteDoseJournal(tmp_path / "j.sqlite3")
    assert (tmp_path / "j.sqlite3-wal").exists()


WRITER = """
import os, sys
from datetime import UTC, datetime
from pathlib import Path
from adapters.storage.journal import SqliteDoseJournal
from domain.journal import DoseRecord

journal = SqliteDoseJournal(Path(sys.argv[1]))
journal.dose_started(DoseRecord("dose-1", "X", 2.0, 120.0, datetime.now(UTC),
                                start_position_mm=100.0, ml_per_mm=0.05))
journal.dose_progress("dose-1", dispensed_ml=0.75)
os._exit(0)  # no close(), no checkpoint: the rows live only in the WAL
"""


def test_a_process_that_dies_without_closing_leaves_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    pythonpath = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    subprocess.run(
        [sys.executable, "-c", WRITER, str(path)],
        env={**os.environ, "PYTHONPATH": pythonpath},
        check=True,
        timeout=60,
    )
    [row] = SqliteDoseJournal(path).unfinished()
    assert (row.dose_id, row.start_position_mm, row.dispensed_ml) == ("dose-1", 100.0, 0.75)


OLD_SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS doses (
    dose_id          TEXT PRIMARY KEY,
    pump_id          TEXT NOT NULL,
    requested_ml     REAL NOT NULL,
    flow_rate_ml_min REAL NOT NULL,
    started_at       TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    actual_ml        REAL,
    ended_at         TEXT,
    reason           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS doses_started_at ON doses (started_at);
INSERT INTO doses VALUES
    ('old-1', 'X', 2.0, 120.0, '2026-11-21T12:00:00.000000+00:00', 'completed', 1.98,
     '2026-11-21T12:01:00.000000+00:00', ''),
    ('old-2', 'Y', 1.0, 60.0, '2026-11-21T12:02:00.000000+00:00', 'running', NULL, NULL, '');
"""


def test_a_journal_from_the_previous_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_SCHEMA)
    old.close()
    journal = SqliteDoseJournal(path)
    assert journal.get("old-1") == replace(
        record("old-1", 0),
        outcome=DoseOutcome.COMPLETED,
        actual_ml=1.98,
        ended_at=T0 + timedelta(minutes=1),
    )
    [running] = journal.unfinished()
    assert running == DoseRecord("old-2", "Y", 1.0, 60.0, T0 + timedelta(minutes=2))
    journal.dose_progress("old-2", dispensed_ml=0.5)
    journal.dose_started(replace(record("new-1", 3), kind=DoseKind.CALIBRATION, ml_per_mm=0.05))
    assert journal.dispensed_since(T0) == pytest.approx(1.98 + 1.0 + 2.0)
    journal.close()
    reopened = SqliteDoseJournal(path)  # the migration is not run twice
    assert [r.dose_id for r in reopened.history(limit=10)] == ["new-1", "old-2", "old-1"]
    assert reopened.get("new-1") == replace(
        record("new-1", 3), kind=DoseKind.CALIBRATION, ml_per_mm=0.05
    )
    reopened.close()


def test_a_journal_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    SqliteDoseJournal(path).close()
    with sqlite3.connect(path) as newer:
        newer.execute("PRAGMA user_version = 99")
    newer.close()
    with pytest.raises(sqlite3.DatabaseError, match="newer"):
        SqliteDoseJournal(path)
