"""The ``Outbox`` contract, held by the in-memory fake and the SQLite outbox; and what only
SQLite promises: entries and the seq counter survive reopening, payloads must be JSON, the
file is WAL with a schema version, "alarms first" is read from an index."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.fakes import InMemoryOutbox
from adapters.storage.outbox import SCHEMA_VERSION, SqliteOutbox
from application.ports import Outbox
from domain.telemetry import MessageKind, OutboxEntry

pytestmark = pytest.mark.slow
EVENT, ALARM = MessageKind.DISPENSE_EVENT, MessageKind.ALARM


@pytest.fixture(params=["in-memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    if request.param == "in-memory":
        yield InMemoryOutbox()
        return
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    yield outbox
    outbox.close()


def fill(store: Outbox, kinds: list[MessageKind]) -> list[int]:
    return [store.append(kind, {"pump": f"pump-{i}"}) for i, kind in enumerate(kinds, 1)]


def seqs(entries: list[OutboxEntry]) -> list[int]:
    return [entry.seq for entry in entries]


def test_seq_starts_at_one_and_rises_by_one(store: Outbox) -> None:
    assert fill(store, [EVENT, ALARM, EVENT]) == [1, 2, 3]


def test_pending_gives_the_oldest_first_up_to_the_limit(store: Outbox) -> None:
    fill(store, [EVENT, ALARM, MessageKind.RECIPE_START, EVENT])
    assert seqs(store.pending(10)) == [1, 2, 3, 4]
    assert seqs(store.pending(2)) == [1, 2]
    assert store.pending(0) == []
    assert store.pending(-1) == []


def test_pending_returns_each_entry_with_its_kind_and_payload(store: Outbox) -> None:
    store.append(MessageKind.WEIGHT_COMPLETE, {"pump": "pump-1", "weight_g": 12.5})
    assert store.pending(1) == [
        OutboxEntry(1, MessageKind.WEIGHT_COMPLETE, {"pump": "pump-1", "weight_g": 12.5})
    ]


def test_an_empty_outbox_has_nothing_pending(store: Outbox) -> None:
    assert store.pending(10) == []
    assert store.pending(10, alarms_first=True) == []
    assert store.depth() == 0


def test_alarms_first_puts_every_alarm_before_the_events_each_in_seq_order(
    store: Outbox,
) -> None:
    fill(store, [EVENT, ALARM, EVENT, EVENT, ALARM, MessageKind.DISPENSE_COMPLETE])
    assert seqs(store.pending(10, alarms_first=True)) == [2, 5, 1, 3, 4, 6]
    assert seqs(store.pending(3, alarms_first=True)) == [2, 5, 1]
    assert seqs(store.pending(10)) == [1, 2, 3, 4, 5, 6]


def test_excluded_seqs_are_left_out_and_later_entries_fill_the_batch(store: Outbox) -> None:
    fill(store, [EVENT, EVENT, ALARM, EVENT, ALARM])
    assert seqs(store.pending(2, exclude={1, 2})) == [3, 4]
    assert seqs(store.pending(2, exclude=[1, 3, 99])) == [2, 4]
    assert seqs(store.pending(10, alarms_first=True, exclude=(3,))) == [5, 1, 2, 4]
    assert store.pending(10, exclude=range(1, 6)) == []
    assert store.depth() == 5


def test_acknowledge_removes_the_entry_and_may_be_repeated(store: Outbox) -> None:
    fill(store, [EVENT, ALARM, EVENT])
    store.acknowledge(2)
    store.acknowledge(2)
    store.acknowledge(42)
    assert seqs(store.pending(10)) == [1, 3]
    assert store.depth() == 2


def test_depth_counts_what_is_stored(store: Outbox) -> None:
    fill(store, [EVENT] * 5 + [ALARM] * 2)
    assert store.depth() == 7
    for seq in (1, 6, 7):
        store.acknowledge(seq)
    assert store.depth() == 4


def test_a_seq_is_not_reused_after_the_newest_entries_are_acknowledged(store: Outbox) -> None:
    for seq in fill(store, [EVENT, EVENT, EVENT]):
        store.acknowledge(seq)
    assert store.append(EVENT, {"pump": "pump-1"}) == 4


PAYLOAD: dict[str, Any] = {
    "eventType": "dispenseComplete",
    "doseId": "dose-1",
    "pump": "pump-1",
    "volume_ml": 10.0,
    "actualVolume_ml": 9.9987,
    "duration_sec": 0.1,
    "steps": 3200,
    "success": True,
    "reason": None,
    "location": "Labor Süd \u2013 Dosierstation «β» 試験 🧪",
    'quote"back\\slash': "line\nbreak\ttab\x00nul",
    "nested": {"points": [[0.5, 1.25], [2, -3e-7]], "empty": {}, "none": []},
}


def test_a_payload_comes_back_as_it_went_in_unicode_included(store: Outbox) -> None:
    seq = store.append(EVENT, PAYLOAD)
    (entry,) = store.pending(1)
    assert entry.seq == seq
    assert entry.payload == PAYLOAD
    assert entry.message() == {**PAYLOAD, "seq": seq}


def test_appends_from_several_threads_while_another_drains_lose_nothing(
    store: Outbox,
) -> None:
    acknowledged: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def appender(kind: MessageKind) -> None:
        try:
            for i in range(150):
                store.append(kind, {"i": i})
        except BaseException as error:
            errors.append(error)

    def drainer() -> None:
        try:
            while not done.is_set() or store.depth():
                for entry in store.pending(10, alarms_first=True):
                    store.acknowledge(entry.seq)
                    acknowledged.append(entry.seq)
        except BaseException as error:
            errors.append(error)

    appenders = [threading.Thread(target=appender, args=(kind,)) for kind in (EVENT, ALARM)]
    reader = threading.Thread(target=drainer)
    for thread in [*appenders, reader]:
        thread.start()
    for thread in appenders:
        thread.join()
    done.set()
    reader.join()
    assert not errors
    assert sorted(acknowledged) == list(range(1, 301))
    assert store.depth() == 0


# What only SQLite promises


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[SqliteOutbox]:
    store = SqliteOutbox(tmp_path / "outbox.sqlite3")
    yield store
    store.close()


def test_entries_survive_reopening_the_file(tmp_path: Path) -> None:
    outbox = SqliteOutbox(tmp_path / "var" / "outbox.sqlite3")
    fill(outbox, [EVENT, ALARM, EVENT])
    outbox.append(MessageKind.RECIPE_COMPLETE, PAYLOAD)
    outbox.acknowledge(1)
    before = outbox.pending(10, alarms_first=True)
    outbox.close()
    outbox.close()
    reopened = SqliteOutbox(tmp_path / "var" / "outbox.sqlite3")
    assert reopened.pending(10, alarms_first=True) == before
    assert seqs(before) == [2, 3, 4]
    assert reopened.depth() == 3
    reopened.close()


def test_a_seq_is_never_reused_after_acknowledging_everything_and_reopening(
    tmp_path: Path,
) -> None:
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    for seq in fill(outbox, [EVENT, ALARM, EVENT]):
        outbox.acknowledge(seq)
    assert outbox.depth() == 0
    outbox.close()
    reopened = SqliteOutbox(tmp_path / "outbox.sqlite3")
    assert reopened.append(EVENT, {"pump": "pump-1"}) == 4
    reopened.close()


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"]
)
def test_a_payload_with_a_non_finite_number_is_refused_and_uses_no_seq(
    outbox: SqliteOutbox, value: float
) -> None:
    with pytest.raises(ValueError, match="not JSON"):
        outbox.append(EVENT, {"volume_ml": 10.0, "nested": [value]})
    assert outbox.depth() == 0
    assert outbox.append(EVENT, {"volume_ml": 10.0}) == 1


def test_a_payload_that_is_not_json_is_refused(outbox: SqliteOutbox) -> None:
    with pytest.raises(TypeError, match="not JSON"):
        outbox.append(EVENT, {"at": object()})
    with pytest.raises(ValueError, match="Unicode"):
        outbox.append(EVENT, {"pump": "\ud800"})
    assert outbox.depth() == 0


def test_unicode_is_stored_as_utf8_text_not_escapes(outbox: SqliteOutbox, tmp_path: Path) -> None:
    outbox.append(EVENT, {"location": "Süd 試験"})
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    assert db.execute("SELECT kind, payload FROM outbox").fetchall() == [
        ("dispense/event", '{"location":"Süd 試験"}')
    ]
    db.close()


def test_alarms_first_and_seq_order_are_read_from_an_index_without_sorting(
    outbox: SqliteOutbox, tmp_path: Path
) -> None:
    fill(outbox, [EVENT, ALARM] * 50)
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    for order in ("is_alarm DESC, seq", "seq"):
        plan = " ".join(
            row[3]
            for row in db.execute(
                f"EXPLAIN QUERY PLAN SELECT seq, kind, payload FROM outbox ORDER BY {order} "
                "LIMIT 10"
            )
        )
        assert "TEMP B-TREE" not in plan
    db.close()


def test_the_file_is_wal_with_a_schema_version(tmp_path: Path) -> None:
    SqliteOutbox(tmp_path / "outbox.sqlite3").close()
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


def test_a_file_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    SqliteOutbox(tmp_path / "outbox.sqlite3").close()
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(sqlite3.DatabaseError, match="newer"):
        SqliteOutbox(tmp_path / "outbox.sqlite3")


def test_a_row_of_an_unknown_kind_is_reported_as_a_storage_error(
    outbox: SqliteOutbox, tmp_path: Path
) -> None:
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    db.execute("INSERT INTO outbox (kind, is_alarm, payload) VALUES ('bogus', 0, '{}')")
    db.commit()
    db.close()
    with pytest.raises(sqlite3.DatabaseError, match="row 1"):
        outbox.pending(10)


def test_a_closed_outbox_refuses_to_work(tmp_path: Path) -> None:
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    outbox.close()
    with pytest.raises(sqlite3.ProgrammingError):
        outbox.append(EVENT, {"pump": "pump-1"})
