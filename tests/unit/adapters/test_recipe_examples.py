"""The example recipes shipped with the daemon load, validate, and stay well inside what
the simulator's pumps allow (max flow 15 ml/min, max single dose 50 ml)."""

from __future__ import annotations

import pytest

from adapters.storage.recipe_examples import example, load_examples
from domain.errors import UnknownRecipe
from domain.recipe import Recipe

SIMULATOR_PUMPS = {"X", "Y", "Z", "A"}
MAX_EXAMPLE_ML = 20.0
MAX_EXAMPLE_FLOW_ML_MIN = 12.0


def test_the_three_examples_load_by_id_with_their_names() -> None:
    assert [(r.recipe_id, r.name) for r in load_examples()] == [
        ("cleaning-flush", "Cleaning Flush"),
        ("color-mix-a", "Color Mix A"),
        ("nutrient-mix", "Nutrient Mix"),
    ]


@pytest.mark.parametrize("recipe", load_examples(), ids=lambda r: r.recipe_id)
def test_an_example_survives_its_own_validation_and_says_what_it_is_for(recipe: Recipe) -> None:
    assert Recipe.from_plain(recipe.to_plain()) == recipe
    assert len(recipe.description) > 100


@pytest.mark.parametrize("recipe", load_examples(), ids=lambda r: r.recipe_id)
def test_an_example_doses_only_simulator_pumps_well_inside_their_limits(recipe: Recipe) -> None:
    doses = [dose for step in recipe.steps for dose in step.doses]
    assert {dose.pump_id for dose in doses} <= SIMULATOR_PUMPS
    assert all(0 < dose.volume_ml <= MAX_EXAMPLE_ML for dose in doses)
    assert all(0 < dose.flow_rate_ml_min <= MAX_EXAMPLE_FLOW_ML_MIN for dose in doses)
    assert all(ml <= MAX_EXAMPLE_ML * 2 for ml in recipe.volumes_ml().values())


def test_cleaning_flush_flushes_every_pump_twice_with_a_soak_between() -> None:
    first, second = example("cleaning-flush").steps
    assert {dose.pump_id for dose in first.doses} == SIMULATOR_PUMPS
    assert {dose.pump_id for dose in second.doses} == SIMULATOR_PUMPS
    assert first.wait_s >= 10


def test_color_mix_a_doses_base_and_pigment_together_then_waits_for_the_second() -> None:
    together, alone = example("color-mix-a").steps
    assert len(together.doses) == 2
    assert together.wait_s > 0
    [second_pigment] = alone.doses
    assert second_pigment.pump_id not in {dose.pump_id for dose in together.doses}


def test_nutrient_mix_keeps_part_a_and_part_b_apart_and_ends_with_a_parallel_step() -> None:
    part_a, part_b, finish = example("nutrient-mix").steps
    assert (len(part_a.doses), len(part_b.doses)) == (1, 1)
    assert part_a.doses[0].pump_id != part_b.doses[0].pump_id
    assert part_a.wait_s >= 60
    assert len(finish.doses) >= 2


def test_an_unknown_example_is_refused() -> None:
    with pytest.raises(UnknownRecipe):
        example("no-such-recipe")
