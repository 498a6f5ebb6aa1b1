"""The ``DoseJournal`` contract, held by the in-memory fake and the SQLite journal; and
what only SQLite promises: rows survive reopening, the file is in WAL mode."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.fakes import InMemoryJournal
from adapters.storage.journal import SqliteDoseJournal
from application.ports import DoseJournal
from domain.events import DoseOutcome
from domain.journal import DoseRecord

pytestmark = pytest.mark.slow
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def record(dose_id: str, minutes: int) -> DoseRecord:
    return DoseRecord(dose_id, "X", 2.0, 120.0, T0 + timedelta(minutes=minutes))


@pytest.fixture(params=["in-memory", "sqlite"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> DoseJournal:
    if request.param == "in-memory":
        return InMemoryJournal()
    return SqliteDoseJournal(tmp_path / "j.sqlite3")


def test_a_started_dose_is_on_disk_as_running_before_it_ends(tmp_path: Path) -> None:
    journal = SqliteDoseJournal(tmp_path / "j.sqlite3")
    journal.dose_started(record("dose-1", 0))
    reopened = SqliteDoseJournal(tmp_path / "j.sqlite3")
    [row] = reopened.history(limit=10)
    assert (row.dose_id, row.outcome, row.actual_ml) == ("dose-1", DoseOutcome.RUNNING, None)


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


def test_history_is_newest_first_limited_and_filtered_by_since(journal: DoseJournal) -> None:
    for minute in range(5):
        journal.dose_started(record(f"dose-{minute}", minute))
    assert [r.dose_id for r in journal.history(limit=2)] == ["dose-4", "dose-3"]
    since = T0 + timedelta(minutes=3)
    assert [r.dose_id for r in journal.history(limit=10, since=since)] == ["dose-4", "dose-3"]


def test_the_journal_file_is_in_wal_mode(tmp_path: Path) -> None:
    SqliteDoseJournal(tmp_path / "j.sqlite3")
    assert (tmp_path / "j.sqlite3-wal").exists()
