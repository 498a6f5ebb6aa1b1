"""A recipe: an ordered list of steps; a step doses one or more pumps together (one
coordinated move that ends together), then optionally waits before the next step.

The plain shape (what the HTTP API, MQTT and the store carry) is the user's camelCase::

    {"id": "nutrient-mix", "name": "Nutrient Mix", "description": "...",
     "steps": [{"doses": [{"pump": "X", "volume": 10.0, "flowRate": 5.0}], "waitSeconds": 60}]}

volumes in ml, flow rates in ml/min, waits in s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidRecipe
from domain.numbers import is_finite_number

MAX_STEPS = 100
MAX_WAIT_S = 24 * 3600.0
MAX_NAME = 80
MAX_DESCRIPTION = 500
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class StepDose:
    """One pump's part of a step: ``volume_ml`` (ml) at up to ``flow_rate_ml_min`` (ml/min)."""

    pump_id: str
    volume_ml: float
    flow_rate_ml_min: float

    @property
    def duration_s(self) -> float:
        """How long this dose takes alone at its flow rate (s)."""
        return self.volume_ml / self.flow_rate_ml_min * 60.0


@dataclass(frozen=True, slots=True)
class RecipeStep:
    """Doses that run together, then ``wait_s`` (s) before the next step (fluids that must
    not meet). The step lasts as long as its slowest dose: the others are slowed to end
    with it, never run faster than asked."""

    doses: tuple[StepDose, ...]
    wait_s: float = 0.0

    @property
    def duration_s(self) -> float:
        """How long the step's motion takes (s), without the wait."""
        return max(dose.duration_s for dose in self.doses)


@dataclass(frozen=True, slots=True)
class Recipe:
    """A named, ordered list of steps. Build one with :meth:`create` or
    :meth:`from_plain`; both raise ``InvalidRecipe`` naming the offending field."""

    recipe_id: str
    name: str
    steps: tuple[RecipeStep, ...]
    description: str = ""

    @classmethod
    def create(
        cls,
        recipe_id: object,
        name: object,
        steps: Sequence[RecipeStep],
        description: object = "",
    ) -> Recipe:
        """Validate and build (any argument may come from untrusted input). Raises
        ``InvalidRecipe``."""
        if not isinstance(recipe_id, str) or not _ID.match(recipe_id):
            raise InvalidRecipe(
                "id must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or "
                f"digit, got {recipe_id!r}",
                field="id",
            )
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise InvalidRecipe(f"name must be 1-{MAX_NAME} characters", field="name")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise InvalidRecipe(
                f"description must be text of at most {MAX_DESCRIPTION} characters",
                field="description",
            )
        if not steps:
            raise InvalidRecipe("a recipe needs at least one step", field="steps")
        if len(steps) > MAX_STEPS:
            raise InvalidRecipe(f"a recipe has at most {MAX_STEPS} steps", field="steps")
        for index, step in enumerate(steps):
            _check_step(step, f"steps[{index}]")
        return cls(recipe_id, name.strip(), tuple(steps), description)

    @property
    def estimated_duration_s(self) -> float:
        """Motion of every step plus the waits between steps (s); a wait after the last
        step is not waited."""
        motion = sum(step.duration_s for step in self.steps)
        waits = sum(step.wait_s for step in self.steps[:-1])
        return motion + waits

    def volumes_ml(self) -> dict[str, float]:
        """Total volume per pump over every step (ml)."""
        totals: dict[str, float] = {}
        for step in self.steps:
            for dose in step.doses:
                totals[dose.pump_id] = totals.get(dose.pump_id, 0.0) + dose.volume_ml
        return totals

    def pump_ids(self) -> set[str]:
        """Every pump the recipe doses."""
        return {dose.pump_id for step in self.steps for dose in step.doses}

    def to_plain(self) -> dict[str, Any]:
        """The plain (JSON-able) shape of the module docstring."""
        return {
            "id": self.recipe_id,
            "name": self.name,
            "description": self.description,
            "steps": [
                {
                    "doses": [
                        {"pump": d.pump_id, "volume": d.volume_ml, "flowRate": d.flow_rate_ml_min}
                        for d in step.doses
                    ],
                    "waitSeconds": step.wait_s,
                }
                for step in self.steps
            ],
        }

    @classmethod
    def from_plain(cls, plain: object, *, recipe_id: str | None = None) -> Recipe:
        """Read the plain shape; ``recipe_id`` (if given) wins over the body's ``id``.
        Raises ``InvalidRecipe`` naming the first bad field."""
        body = _mapping(plain, "recipe")
        unknown = set(body) - {"id", "name", "description", "steps"}
        if unknown:
            raise InvalidRecipe(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
        steps_plain = body.get("steps")
        if not isinstance(steps_plain, list):
            raise InvalidRecipe("steps must be a list of steps", field="steps")
        steps = [_step_from_plain(s, f"steps[{i}]") for i, s in enumerate(steps_plain)]
        return cls.create(
            recipe_id if recipe_id is not None else body.get("id"),
            body.get("name"),
            steps,
            body.get("description", ""),
        )


def _step_from_plain(plain: object, where: str) -> RecipeStep:
    body = _mapping(plain, where)
    unknown = set(body) - {"doses", "waitSeconds"}
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidRecipe(f"{where}: unknown field {name!r}", field=f"{where}.{name}")
    doses_plain = body.get("doses")
    if not isinstance(doses_plain, list):
        raise InvalidRecipe(f"{where}.doses must be a list", field=f"{where}.doses")
    doses = []
    for index, dose_plain in enumerate(doses_plain):
        at = f"{where}.doses[{index}]"
        dose = _mapping(dose_plain, at)
        unknown = set(dose) - {"pump", "volume", "flowRate"}
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidRecipe(f"{at}: unknown field {name!r}", field=f"{at}.{name}")
        pump = dose.get("pump")
        if not isinstance(pump, str) or not pump:
            raise InvalidRecipe(f"{at}.pump must be a pump id", field=f"{at}.pump")
        volume = _number(dose.get("volume"), f"{at}.volume", "ml")
        flow = _number(dose.get("flowRate"), f"{at}.flowRate", "ml/min")
        doses.append(StepDose(pump, volume, flow))
    wait = _number(body.get("waitSeconds", 0.0), f"{where}.waitSeconds", "s")
    return RecipeStep(tuple(doses), wait)


def _number(value: object, field: str, unit: str) -> float:
    if not is_finite_number(value):
        raise InvalidRecipe(f"{field} must be a finite number in {unit}", field=field)
    return float(value)


def _check_step(step: RecipeStep, where: str) -> None:
    if not step.doses:
        raise InvalidRecipe(f"{where} doses no pump", field=f"{where}.doses")
    seen: set[str] = set()
    for index, dose in enumerate(step.doses):
        at = f"{where}.doses[{index}]"
        if dose.pump_id in seen:
            raise InvalidRecipe(
                f"{where} doses pump {dose.pump_id} twice; one dose per pump per step",
                field=f"{at}.pump",
            )
        seen.add(dose.pump_id)
        _positive(dose.volume_ml, f"{at}.volume", "ml")
        _positive(dose.flow_rate_ml_min, f"{at}.flowRate", "ml/min")
    wait = step.wait_s
    if not is_finite_number(wait) or not 0 <= wait <= MAX_WAIT_S:
        raise InvalidRecipe(
            f"{where}.waitSeconds must be a number of seconds from 0 to {MAX_WAIT_S:g}",
            field=f"{where}.waitSeconds",
        )


def _positive(value: object, field: str, unit: str) -> None:
    if not is_finite_number(value) or value <= 0:
        raise InvalidRecipe(f"{field} must be a finite number > 0 {unit}", field=field)


def _mapping(plain: object, where: str) -> Mapping[str, Any]:
    if not isinstance(plain, Mapping):
        raise InvalidRecipe(f"{where} must be a JSON object", field=where)
    return plain
