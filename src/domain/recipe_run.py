"""One execution of a recipe: which step it is at, what has flowed, how it ended.

A run never goes back: a step that ran (or was cut short) is never dosed again, and a run a
crash interrupted is settled as ``interrupted`` at its step, not resumed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from transitions import Machine

from domain.errors import RecipeRunConflict
from domain.recipe import Recipe, RecipeStep

if TYPE_CHECKING:
    from transitions.core import TransitionConfigDict


class RunState(enum.Enum):
    """``starting`` until the first step's motion is sent; ``dosing`` a step's doses run;
    ``waiting`` the wait after a step; ``paused`` by request (a dosing step is held);
    then one final state."""

    STARTING = "starting"
    DOSING = "dosing"
    WAITING = "waiting"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def final(self) -> bool:
        """Whether the run has ended (completed, aborted, failed, interrupted)."""
        return self in _FINAL


_START, _DOSE, _WAIT, _PAUSE, _DONE, _ABORT, _FAIL, _INTR = RunState
_FINAL = frozenset({_DONE, _ABORT, _FAIL, _INTR})
_LIVE = [_START, _DOSE, _WAIT, _PAUSE]

_TRANSITIONS: list[TransitionConfigDict] = [
    {"trigger": "begin_step", "source": [_START, _WAIT], "dest": _DOSE},
    {"trigger": "end_step", "source": _DOSE, "dest": _DONE, "conditions": "on_last_step"},
    {"trigger": "end_step", "source": _DOSE, "dest": _WAIT},
    {"trigger": "hold", "source": [_DOSE, _WAIT], "dest": _PAUSE},
    {"trigger": "release", "source": _PAUSE, "dest": _DOSE, "conditions": "paused_dosing"},
    {"trigger": "release", "source": _PAUSE, "dest": _WAIT},
    {"trigger": "cancel", "source": _LIVE, "dest": _ABORT},
    {"trigger": "break_off", "source": _LIVE, "dest": _FAIL},
    {"trigger": "cut_off", "source": _LIVE, "dest": _INTR},
]


@dataclass(frozen=True, slots=True)
class RecipeRunRecord:
    """A run as the run log keeps it. ``step_index`` is the step running or last run
    (0-based); ``steps_completed`` how many ran to their end; ``dispensed_ml`` what flowed
    per pump (ml); ``origin`` who started it (``http``, ``mqtt``, ``schedule:<id>``);
    ``dose_ids`` the doses of the step running (empty while waiting); times
    timezone-aware UTC."""

    run_id: str
    recipe: Recipe
    state: RunState
    step_index: int
    steps_completed: int
    started_at: datetime
    origin: str = ""
    ended_at: datetime | None = None
    reason: str = ""
    dispensed_ml: Mapping[str, float] = field(default_factory=dict)
    dose_ids: tuple[str, ...] = ()

    @property
    def total_ml(self) -> float:
        """What flowed over all pumps (ml)."""
        return round(sum(self.dispensed_ml.values()), 6)


class RecipeRun:
    """A running recipe. Public methods are the run's verbs; none does I/O. Raises
    ``RecipeRunConflict`` when a verb does not apply in the current state (pause a
    finished run, resume one not paused)."""

    state: RunState
    trigger: Callable[..., bool]

    def __init__(self, run_id: str, recipe: Recipe, started_at: datetime, origin: str) -> None:
        self.run_id = run_id
        self.recipe = recipe
        self.started_at = started_at
        self.origin = origin
        self.step_index = 0
        self.steps_completed = 0
        self.dispensed_ml: dict[str, float] = {}
        self.dose_ids: tuple[str, ...] = ()
        self.reason = ""
        self.ended_at: datetime | None = None
        self._paused_from = _DOSE
        self._machine = Machine(
            model=self,
            states=RunState,
            transitions=_TRANSITIONS,
            initial=RunState.STARTING,
            auto_transitions=False,
        )

    @property
    def step(self) -> RecipeStep:
        """The step running, or the next to run while waiting."""
        return self.recipe.steps[self.step_index]

    @property
    def wait_s(self) -> float:
        """The wait (s) after the step that just ended."""
        return self.recipe.steps[self.step_index - 1].wait_s if self.step_index else 0.0

    def step_started(self, dose_ids: tuple[str, ...]) -> None:
        """The current step's coordinated move was sent, as doses ``dose_ids``."""
        self._fire("begin_step")
        self.dose_ids = dose_ids

    def step_ended(self, dispensed_ml: Mapping[str, float]) -> None:
        """Every dose of the step ran to its end; ``dispensed_ml`` per pump (ml). The run
        then waits for the next step, or is completed after the last."""
        self._add(dispensed_ml)
        self.steps_completed += 1
        self._fire("end_step")
        if self.state is RunState.WAITING:
            self.step_index += 1
            self.dose_ids = ()

    def pause(self) -> None:
        """Hold the run: a dosing step is feed-held, a wait stops counting."""
        self._paused_from = self.state
        self._fire("hold")

    def resume(self) -> None:
        """Go on from where the run was paused."""
        self._fire("release")

    def abort(self, reason: str, at: datetime, dispensed_ml: Mapping[str, float]) -> None:
        """Stopped by request (or the emergency stop); ``dispensed_ml`` of the cut-short step."""
        self._end("cancel", reason, at, dispensed_ml)

    def fail(self, reason: str, at: datetime, dispensed_ml: Mapping[str, float]) -> None:
        """A step could not run or ended badly (refused, controller fault)."""
        self._end("break_off", reason, at, dispensed_ml)

    def interrupt(self, reason: str, at: datetime, dispensed_ml: Mapping[str, float]) -> None:
        """The daemon died while the run was live (settled at the next start)."""
        self._end("cut_off", reason, at, dispensed_ml)

    def completed(self, at: datetime) -> None:
        """Stamp the end of a run whose last step just ended."""
        self.ended_at = at

    def on_last_step(self) -> bool:
        """Transition condition: the step that ended was the recipe's last."""
        return self.step_index >= len(self.recipe.steps) - 1

    def paused_dosing(self) -> bool:
        """Transition condition: the pause held a dosing step (not a wait)."""
        return self._paused_from is RunState.DOSING

    @property
    def paused_while_dosing(self) -> bool:
        """Whether a pause holds a step's motion (else it holds a wait)."""
        return self.state is RunState.PAUSED and self._paused_from is RunState.DOSING

    def record(self) -> RecipeRunRecord:
        """The run as the run log keeps it."""
        return RecipeRunRecord(
            run_id=self.run_id,
            recipe=self.recipe,
            state=self.state,
            step_index=self.step_index,
            steps_completed=self.steps_completed,
            started_at=self.started_at,
            origin=self.origin,
            ended_at=self.ended_at,
            reason=self.reason,
            dispensed_ml=dict(self.dispensed_ml),
            dose_ids=self.dose_ids,
        )

    def _end(
        self, trigger: str, reason: str, at: datetime, dispensed_ml: Mapping[str, float]
    ) -> None:
        self._fire(trigger)
        self._add(dispensed_ml)
        self.reason = reason
        self.ended_at = at

    def _add(self, dispensed_ml: Mapping[str, float]) -> None:
        for pump_id, ml in dispensed_ml.items():
            self.dispensed_ml[pump_id] = round(self.dispensed_ml.get(pump_id, 0.0) + ml, 6)

    def _fire(self, trigger: str) -> None:
        if trigger not in self._machine.get_triggers(self.state.name):
            raise RecipeRunConflict(
                f"recipe run {self.run_id} is {self.state.value}: cannot {_VERB[trigger]}"
            )
        self.trigger(trigger)


_VERB = {
    "begin_step": "start a step",
    "end_step": "end a step",
    "hold": "pause",
    "release": "resume",
    "cancel": "abort",
    "break_off": "fail",
    "cut_off": "interrupt",
}
