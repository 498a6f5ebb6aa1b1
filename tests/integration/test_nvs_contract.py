"""The ``NonVolatileStore`` contract, held by the in-memory fake and the SQLite store; and
what only SQLite promises so far: names and value ranges checked as ESP32 NVS would (the
fake checks types only), values survive reopening, the file is WAL with a schema version,
two connections to one file never see half a commit."""

from __future__ import annotations

import importlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.storage.nvs import SCHEMA_VERSION, SqliteNvs
from application.ports import NonVolatileStore, NvsValue

pytestmark = pytest.mark.slow
DEVICE: dict[str, NvsValue] = {
    "name": "pump-1",
    "location": "",
    "seq": -(2**63),
    "big": 2**63 - 1,
    "ml_per_mm": 0.05,
    "enabled": True,
    "muted": False,
    "one": 1,
    "blob": bytes(range(256)) * 256,  # exactly 64 KiB
    "long": "é" * 4000,
}


@pytest.fixture(params=["in-memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NonVolatileStore]:
    if request.param == "in-memory":
        fakes = importlib.import_module("adapters.fakes")
        if not hasattr(fakes, "InMemoryNvs"):
            pytest.skip("adapters.fakes has no InMemoryNvs yet")
        yield fakes.InMemoryNvs()
        return
    nvs = SqliteNvs(tmp_path / "nvs.sqlite3")
    yield nvs
    nvs.close()


@pytest.fixture
def nvs(tmp_path: Path) -> Iterator[SqliteNvs]:
    store = SqliteNvs(tmp_path / "nvs.sqlite3")
    yield store
    store.close()


def test_every_type_comes_back_as_the_type_that_was_set(store: NonVolatileStore) -> None:
    store.set_many("device", DEVICE)
    found = store.get_all("device")
    assert found == DEVICE
    assert {k: type(v) for k, v in found.items()} == {k: type(v) for k, v in DEVICE.items()}
    assert store.get("device", "enabled") is True
    assert store.get("device", "one") == 1
    assert type(store.get("device", "one")) is int


def test_a_key_that_was_never_set_is_none(store: NonVolatileStore) -> None:
    assert store.get("device", "name") is None
    assert store.get_all("device") == {}


def test_set_many_overwrites_keys_even_with_another_type(store: NonVolatileStore) -> None:
    store.set_many("device", {"name": "pump-1", "seq": 1})
    store.set_many("device", {"seq": True})
    assert store.get_all("device") == {"name": "pump-1", "seq": True}
    assert store.get("device", "seq") is True


@pytest.mark.parametrize(
    "name", ["", "x" * 65, "pump 1", "pump/1", "pümp", "a\n", "a\x00"], ids=repr
)
def test_an_invalid_namespace_or_key_is_refused(store: SqliteNvs, name: str) -> None:
    with pytest.raises(ValueError, match="NVS namespace"):
        store.set_many(name, {"name": "pump-1"})
    with pytest.raises(ValueError, match="NVS key"):
        store.set_many("device", {name: "pump-1"})
    with pytest.raises(ValueError, match="NVS namespace"):
        store.get_all(name)
    with pytest.raises(ValueError, match="NVS key"):
        store.get("device", name)
    with pytest.raises(ValueError, match="NVS key"):
        store.erase("device", name)
    with pytest.raises(ValueError, match="NVS namespace"):
        store.erase_namespace(name)


def test_a_name_that_is_not_a_str_is_refused(store: SqliteNvs) -> None:
    with pytest.raises(TypeError, match="NVS key must be a str"):
        store.set_many("device", {1: "pump-1"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="NVS namespace must be a str"):
        store.get(None, "name")  # type: ignore[arg-type]


def test_the_longest_name_and_every_allowed_character_are_accepted(
    store: NonVolatileStore,
) -> None:
    name = "Az09_.-" + "x" * 57
    store.set_many(name, {name: 1})
    assert store.get(name, name) == 1


@pytest.mark.parametrize(
    "value",
    [2**63, -(2**63) - 1, float("nan"), float("inf"), "x" * 4001, "\ud800", b"x" * 65537],
    ids=["int-high", "int-low", "nan", "inf", "long-str", "surrogate", "long-bytes"],
)
def test_an_out_of_range_value_is_refused(store: SqliteNvs, value: NvsValue) -> None:
    with pytest.raises(ValueError, match="'dose'"):
        store.set_many("device", {"dose": value})


@pytest.mark.parametrize("value", [None, [1], {"a": 1}, bytearray(b"x"), 1j], ids=repr)
def test_a_value_of_another_type_is_refused(store: NonVolatileStore, value: object) -> None:
    with pytest.raises(TypeError, match="'dose'"):
        store.set_many("device", {"dose": value})  # type: ignore[dict-item]


def test_a_bad_value_in_the_middle_of_set_many_writes_nothing(store: NonVolatileStore) -> None:
    store.set_many("device", {"name": "pump-1", "seq": 1})
    with pytest.raises(TypeError):
        store.set_many("device", {"name": "pump-2", "bad": None, "seq": 2})  # type: ignore[dict-item]
    assert store.get_all("device") == {"name": "pump-1", "seq": 1}


def test_an_out_of_range_value_in_the_middle_of_set_many_writes_nothing(store: SqliteNvs) -> None:
    store.set_many("device", {"name": "pump-1", "seq": 1})
    with pytest.raises(ValueError):
        store.set_many("device", {"name": "pump-3", "seq": 2**64, "location": "lab"})
    with pytest.raises(ValueError):
        store.set_many("device", {"name": "pump-3", "bad key": 2, "location": "lab"})
    assert store.get_all("device") == {"name": "pump-1", "seq": 1}


def test_namespaces_are_isolated(store: NonVolatileStore) -> None:
    store.set_many("device", {"name": "pump-1"})
    store.set_many("calib.X", {"name": "DMDEE"})
    store.erase("device", "name")
    assert store.get_all("device") == {}
    assert store.get_all("calib.X") == {"name": "DMDEE"}


def test_erase_removes_one_key_and_an_absent_key_is_fine(store: NonVolatileStore) -> None:
    store.set_many("device", {"name": "pump-1", "location": "lab"})
    store.erase("device", "name")
    store.erase("device", "name")
    store.erase("nowhere", "name")
    assert store.get("device", "name") is None
    assert store.get_all("device") == {"location": "lab"}


def test_erase_namespace_removes_only_that_namespace(store: SqliteNvs) -> None:
    store.set_many("device", {"name": "pump-1", "location": "lab"})
    store.set_many("device2", {"name": "pump-2"})
    store.erase_namespace("device")
    store.erase_namespace("device")
    assert store.get_all("device") == {}
    assert store.get_all("device2") == {"name": "pump-2"}


def torn_reads(write: Callable[[int], None], read: Callable[[], dict[str, NvsValue]]) -> int:
    """Write ``{"a": i, "b": i}`` from two threads while this one reads; count torn pairs."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(sign: int) -> None:
        try:
            for i in range(1, 400):
                write(sign * i)
        except BaseException as error:
            errors.append(error)
        finally:
            stop.set()

    threads = [threading.Thread(target=writer, args=(sign,)) for sign in (1, -1)]
    for thread in threads:
        thread.start()
    torn = reads = 0
    while not stop.is_set() or reads < 50:
        snapshot = read()
        reads += 1
        torn += snapshot.get("a") != snapshot.get("b")
    for thread in threads:
        thread.join()
    assert not errors
    return torn


def test_a_reader_never_sees_half_of_a_concurrent_set_many(store: NonVolatileStore) -> None:
    store.set_many("pair", {"a": 0, "b": 0})
    torn = torn_reads(
        lambda i: store.set_many("pair", {"a": i, "b": i}), lambda: store.get_all("pair")
    )
    assert torn == 0


def test_two_connections_to_one_file_never_see_half_a_commit(tmp_path: Path) -> None:
    writer, reader = SqliteNvs(tmp_path / "nvs.sqlite3"), SqliteNvs(tmp_path / "nvs.sqlite3")
    writer.set_many("pair", {"a": 0, "b": 0})
    torn = torn_reads(
        lambda i: writer.set_many("pair", {"a": i, "b": i}), lambda: reader.get_all("pair")
    )
    assert torn == 0
    writer.close()
    reader.close()


def test_values_survive_reopening_the_file(tmp_path: Path) -> None:
    nvs = SqliteNvs(tmp_path / "var" / "nvs.sqlite3")
    nvs.set_many("device", DEVICE)
    nvs.close()
    nvs.close()
    reopened = SqliteNvs(tmp_path / "var" / "nvs.sqlite3")
    assert reopened.get_all("device") == DEVICE
    assert reopened.get("device", "muted") is False
    reopened.close()


def test_the_file_is_wal_with_full_sync_and_a_schema_version(tmp_path: Path) -> None:
    SqliteNvs(tmp_path / "nvs.sqlite3").close()
    db = sqlite3.connect(tmp_path / "nvs.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


def test_a_file_from_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    SqliteNvs(tmp_path / "nvs.sqlite3").close()
    db = sqlite3.connect(tmp_path / "nvs.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(sqlite3.DatabaseError, match="newer"):
        SqliteNvs(tmp_path / "nvs.sqlite3")


def test_a_closed_store_refuses_to_work(tmp_path: Path) -> None:
    nvs = SqliteNvs(tmp_path / "nvs.sqlite3")
    nvs.close()
    with pytest.raises(sqlite3.ProgrammingError):
        nvs.get("device", "name")
