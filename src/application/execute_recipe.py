"""Use case: run a stored recipe (HTTP, MQTT or a schedule)."""

from __future__ import annotations

from application.commands import ExecuteRecipe as ExecuteRecipeCommand
from application.control_plane import ControlPlane
from application.ports import RecipeBook
from domain.errors import UnknownRecipe


class ExecuteRecipe:
    """Check a stored recipe whole and start it; ``timeout_s`` (s) bounds the wait for the
    control plane to accept it."""

    def __init__(self, book: RecipeBook, control: ControlPlane, timeout_s: float = 5.0) -> None:
        self._book = book
        self._control = control
        self._timeout_s = timeout_s

    def execute(self, recipe_id: str, origin: str = "http") -> str:
        """Returns the run id once the first step's move is planned (the run then goes on
        by itself). ``origin``: who asked (``http``, ``mqtt``, ``schedule:<id>``).

        Raises ``UnknownRecipe``, ``PumpBusy`` (a dose or run is going on),
        ``EmergencyStopLatched``, ``NotCalibrated``, ``InvalidDose``, ``LimitExceeded``,
        ``LimitReached`` (naming the step), ``ControllerUnavailable``; nothing moves then.
        """
        recipe = self._book.get(recipe_id)
        if recipe is None:
            raise UnknownRecipe(f"no recipe {recipe_id!r}")
        run_id: str = self._control.request(ExecuteRecipeCommand(recipe, origin), self._timeout_s)
        return run_id
