"""Reservoir bookkeeping: levels kept in NVS, the low mark crossed once, refills checked."""

import logging
import math

import pytest

from adapters.fakes import InMemoryNvs
from application.reservoirs import NAMESPACE, Reservoirs
from domain.errors import InvalidReservoir
from domain.safety import ReservoirLevel, ReservoirSpec

SPECS = {"X": ReservoirSpec.of(500.0, 50.0)}


def test_a_tracked_reservoir_starts_full_and_an_untracked_one_has_no_level() -> None:
    reservoirs = Reservoirs(InMemoryNvs(), SPECS)
    assert reservoirs.level("X") == ReservoirLevel(capacity_ml=500.0, level_ml=500.0, low_ml=50.0)
    assert reservoirs.level("Y") is None
    assert reservoirs.levels() == {"X": SPECS["X"].at(500.0)}


def test_the_level_survives_a_restart_through_nvs() -> None:
    nvs = InMemoryNvs()
    level, _ = Reservoirs(nvs, SPECS).consume("X", 120.5)
    assert level is not None and level.level_ml == 379.5
    assert nvs.get(NAMESPACE, "X") == 379.5
    after_restart = Reservoirs(nvs, SPECS)
    assert after_restart.level("X") == SPECS["X"].at(379.5)


def test_the_low_mark_is_crossed_once() -> None:
    reservoirs = Reservoirs(InMemoryNvs(), SPECS)
    steps = [reservoirs.consume("X", ml) for ml in (400.0, 49.0, 1.0, 10.0)]
    assert [(level.level_ml, crossed) for level, crossed in steps if level] == [
        (100.0, False),
        (51.0, False),
        (50.0, True),  # at the mark counts as low
        (40.0, False),
    ]


def test_the_level_is_floored_at_zero() -> None:
    reservoirs = Reservoirs(InMemoryNvs(), SPECS)
    level, crossed = reservoirs.consume("X", 600.0)
    assert level == SPECS["X"].at(0.0) and level.empty and crossed


def test_consuming_from_an_untracked_reservoir_stores_nothing() -> None:
    nvs = InMemoryNvs()
    assert Reservoirs(nvs, SPECS).consume("Y", 5.0) == (None, False)
    assert nvs.get_all(NAMESPACE) == {}


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, True])
def test_consuming_a_nonsense_volume_is_an_error(bad: float) -> None:
    with pytest.raises(ValueError, match="ml must be"):
        Reservoirs(InMemoryNvs(), SPECS).consume("X", bad)


def test_a_refill_sets_the_level_or_fills_it_up() -> None:
    nvs = InMemoryNvs()
    reservoirs = Reservoirs(nvs, SPECS)
    reservoirs.consume("X", 480.0)
    assert reservoirs.refill("X", 250.0) == SPECS["X"].at(250.0)
    assert nvs.get(NAMESPACE, "X") == 250.0
    assert reservoirs.refill("X") == SPECS["X"].at(500.0)
    assert Reservoirs(nvs, SPECS).level("X") == SPECS["X"].at(500.0)


def test_a_refill_then_the_low_mark_is_crossed_again() -> None:
    reservoirs = Reservoirs(InMemoryNvs(), SPECS)
    reservoirs.consume("X", 460.0)
    reservoirs.refill("X")
    assert reservoirs.consume("X", 460.0)[1] is True


@pytest.mark.parametrize("bad", [-0.5, 500.5, math.nan, math.inf, True, "300", 10**400])
def test_a_refill_to_an_impossible_level_is_refused(bad: object) -> None:
    reservoirs = Reservoirs(InMemoryNvs(), SPECS)
    with pytest.raises(InvalidReservoir) as refused:
        reservoirs.refill("X", bad)  # type: ignore[arg-type]
    assert (refused.value.code, refused.value.field) == ("invalid_reservoir", "level")
    assert "from 0 to 500 ml" in refused.value.message
    assert reservoirs.level("X") == SPECS["X"].at(500.0)


def test_refilling_an_untracked_reservoir_is_refused() -> None:
    with pytest.raises(InvalidReservoir) as refused:
        Reservoirs(InMemoryNvs(), SPECS).refill("Y", 10.0)
    assert refused.value.field == "pump"


def test_a_stored_level_that_is_not_a_number_is_taken_as_full(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nvs = InMemoryNvs()
    nvs.set_many(NAMESPACE, {"X": "half"})
    with caplog.at_level(logging.WARNING):
        reservoirs = Reservoirs(nvs, SPECS)
    assert reservoirs.level("X") == SPECS["X"].at(500.0)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_a_stored_level_above_a_lowered_capacity_is_taken_as_full() -> None:
    nvs = InMemoryNvs()
    nvs.set_many(NAMESPACE, {"X": 900})
    assert Reservoirs(nvs, SPECS).level("X") == SPECS["X"].at(500.0)
