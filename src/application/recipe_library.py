"""Use case: the stored recipes: list, read, create, replace, delete, and the shipped
examples (Cleaning Flush, Color Mix A, Nutrient Mix) loaded on request."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from application.ports import RecipeBook
from domain.errors import InvalidRecipe, RecipeExists, UnknownRecipe
from domain.recipe import Recipe


class RecipeLibrary:
    """``pump_ids``: the configured pumps (a recipe may only dose those); ``examples``: the
    recipes shipped with the daemon. Bodies are the plain shape of ``domain.recipe``."""

    def __init__(
        self, book: RecipeBook, pump_ids: Collection[str], examples: Sequence[Recipe]
    ) -> None:
        self._book = book
        self._pump_ids = frozenset(pump_ids)
        self._examples = {recipe.recipe_id: recipe for recipe in examples}

    def all(self) -> list[Recipe]:
        """Every stored recipe, by name."""
        return self._book.all()

    def get(self, recipe_id: str) -> Recipe:
        """Raises ``UnknownRecipe``."""
        recipe = self._book.get(recipe_id)
        if recipe is None:
            raise UnknownRecipe(f"no recipe {recipe_id!r}")
        return recipe

    def exists(self, recipe_id: str) -> bool:
        """Whether a recipe ``recipe_id`` is stored."""
        return self._book.get(recipe_id) is not None

    def create(self, body: object) -> Recipe:
        """Store a new recipe (id generated when the body has none). Raises
        ``InvalidRecipe`` (bad field, or a pump that is not configured), ``RecipeExists``."""
        if isinstance(body, dict) and body.get("id") is None:
            body = {**body, "id": uuid.uuid4().hex[:12]}
        recipe = self._checked(Recipe.from_plain(body))
        if self._book.get(recipe.recipe_id) is not None:
            raise RecipeExists(f"a recipe {recipe.recipe_id!r} exists; PUT replaces it")
        self._book.save(recipe)
        return recipe

    def replace(self, recipe_id: str, body: object) -> Recipe:
        """Replace a stored recipe (the path's id wins). Raises ``UnknownRecipe``,
        ``InvalidRecipe``. Runs already started keep the recipe they started with."""
        self.get(recipe_id)
        recipe = self._checked(Recipe.from_plain(body, recipe_id=recipe_id))
        self._book.save(recipe)
        return recipe

    def delete(self, recipe_id: str) -> None:
        """Raises ``UnknownRecipe``."""
        if not self._book.delete(recipe_id):
            raise UnknownRecipe(f"no recipe {recipe_id!r}")

    def examples(self) -> list[Recipe]:
        """The shipped examples (not stored until loaded)."""
        return list(self._examples.values())

    def load_example(self, recipe_id: str) -> Recipe:
        """Store a shipped example under its own id. Raises ``UnknownRecipe``,
        ``RecipeExists``, ``InvalidRecipe`` (it doses a pump this device does not have)."""
        try:
            recipe = self._examples[recipe_id]
        except KeyError:
            known = ", ".join(sorted(self._examples))
            raise UnknownRecipe(f"no example {recipe_id!r}; examples: {known}") from None
        return self.create(recipe.to_plain())

    def _checked(self, recipe: Recipe) -> Recipe:
        for index, step in enumerate(recipe.steps):
            for position, dose in enumerate(step.doses):
                if dose.pump_id not in self._pump_ids:
                    known = ", ".join(sorted(self._pump_ids))
                    raise InvalidRecipe(
                        f"step {index + 1} doses pump {dose.pump_id!r}, which is not "
                        f"configured (pumps: {known})",
                        field=f"steps[{index}].doses[{position}].pump",
                    )
        return recipe
