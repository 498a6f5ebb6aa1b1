"""Example recipes shipped with the daemon (one ``<id>.json`` per recipe in this package,
in the ``Recipe.from_plain`` shape), for the simulator's four pumps X, Y, Z, A: a starting
point users copy and adapt, and data for demos and tests.

Read through ``importlib.resources``, so they load from a source tree, an installed wheel
or a zip alike.
"""

from __future__ import annotations

import json
from importlib.resources import files

from domain.errors import UnknownRecipe
from domain.recipe import Recipe


def load_examples() -> list[Recipe]:
    """Every example recipe, validated, by file name (``cleaning-flush``, ``color-mix-a``,
    ``nutrient-mix``). Raises ``InvalidRecipe`` or ``ValueError`` (bad JSON) for a broken
    packaged file."""
    entries = [e for e in files(__name__).iterdir() if e.name.endswith(".json")]
    return [
        Recipe.from_plain(json.loads(entry.read_text(encoding="utf-8")))
        for entry in sorted(entries, key=lambda e: e.name)
    ]


def example(recipe_id: str) -> Recipe:
    """The example recipe with id ``recipe_id``. Raises ``UnknownRecipe`` when there is
    none."""
    for recipe in load_examples():
        if recipe.recipe_id == recipe_id:
            return recipe
    raise UnknownRecipe(f"no example recipe {recipe_id!r}")
