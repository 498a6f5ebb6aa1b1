"""The JSON bodies of recipes and recipe runs in the HTTP API (issue 6; DESIGN §4).

Volumes in ml, flow rates in ml/min, durations and waits in s, times ISO-8601 UTC.
"""

from __future__ import annotations

from typing import Any

from adapters.http.serialize import iso_utc
from domain.recipe import Recipe
from domain.recipe_run import RecipeRunRecord


def recipe_json(recipe: Recipe) -> dict[str, Any]:
    """A recipe: its plain shape (``domain.recipe``) plus what it would take::

    {"id", "name", "description",
     "steps": [{"doses": [{"pump", "volume": ml, "flowRate": ml/min}],
                "waitSeconds": s}],
     "estimatedDuration_sec": s (0.1 s), "volumes_ml": {pump: ml}}
    """
    return {
        **recipe.to_plain(),
        "estimatedDuration_sec": round(recipe.estimated_duration_s, 1),
        "volumes_ml": {pump: round(ml, 6) for pump, ml in recipe.volumes_ml().items()},
    }


def run_json(record: RecipeRunRecord) -> dict[str, Any]:
    """A recipe run::

    {"runId", "recipeId", "recipeName",
     "state": "starting"|"dosing"|"waiting"|"paused"|"completed"|"aborted"|"failed"|
              "interrupted",
     "step": the step running or last run (1-based), "steps": how many the recipe has,
     "stepsCompleted", "dispensed_ml": {pump: ml}, "totalVolume_ml": ml,
     "origin": "http"|"mqtt"|"schedule:<id>", "startedAt": iso, "endedAt": iso|null,
     "reason": str|null, "doseIds": [the running step's dose ids]}
    """
    return {
        "runId": record.run_id,
        "recipeId": record.recipe.recipe_id,
        "recipeName": record.recipe.name,
        "state": record.state.value,
        "step": record.step_index + 1,
        "steps": len(record.recipe.steps),
        "stepsCompleted": record.steps_completed,
        "dispensed_ml": dict(record.dispensed_ml),
        "totalVolume_ml": record.total_ml,
        "origin": record.origin,
        "startedAt": iso_utc(record.started_at),
        "endedAt": iso_utc(record.ended_at) if record.ended_at else None,
        "reason": record.reason or None,
        "doseIds": list(record.dose_ids),
    }
