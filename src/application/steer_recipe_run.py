"""Use case: pause, resume or abort a recipe run, and read runs (live or recorded)."""

from __future__ import annotations

from typing import Literal

from application.commands import SteerRecipeRun as SteerCommand
from application.control_plane import ControlPlane
from application.ports import RecipeRunLog
from application.recipe_conductor import RecipeConductor
from domain.errors import UnknownRecipe
from domain.recipe_run import RecipeRunRecord

Action = Literal["pause", "resume", "abort"]


class SteerRecipeRun:
    """``timeout_s`` (s) bounds the wait for the control plane."""

    def __init__(
        self,
        control: ControlPlane,
        conductor: RecipeConductor,
        runs: RecipeRunLog,
        timeout_s: float = 5.0,
    ) -> None:
        self._control = control
        self._conductor = conductor
        self._runs = runs
        self._timeout_s = timeout_s

    def execute(self, run_id: str, action: Action) -> RecipeRunRecord:
        """Pause (a dosing step is feed-held at once), resume, or abort (a dosing step is
        halted and journaled) the live run ``run_id``; returns its record after.

        Raises ``UnknownRecipe`` (not the live run), ``RecipeRunConflict`` (not in a state
        for that), ``EmergencyStopLatched`` (resume while latched).
        """
        record: RecipeRunRecord = self._control.request(
            SteerCommand(run_id, action), self._timeout_s
        )
        return record

    def get(self, run_id: str) -> RecipeRunRecord:
        """A run: the live one as the conductor last recorded it, else from the run log.
        Raises ``UnknownRecipe``."""
        live = self._conductor.latest
        if live is not None and live.run_id == run_id:
            return live
        record = self._runs.get(run_id)
        if record is None:
            raise UnknownRecipe(f"no recipe run {run_id!r}")
        return record

    def recent(self, limit: int = 50) -> list[RecipeRunRecord]:
        """Runs newest first."""
        return self._runs.recent(limit=limit)
