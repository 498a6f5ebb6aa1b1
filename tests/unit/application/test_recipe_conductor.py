"""Recipe runs on the control plane with a manual clock: steps and waits, pause, and how a
run ends when something else stops it (emergency stop, a refused step, a crash)."""

import contextlib
from datetime import UTC, datetime

import pytest

from adapters.fakes import (
    FakeMotionController,
    InMemoryJournal,
    InMemoryRecipeStore,
    ManualClock,
    RecordingAlarms,
)
from adapters.memory import InMemoryStatusBoard
from application.dose_runner import DoseRunner
from application.recipe_conductor import RecipeConductor
from domain.calibration import Calibration
from domain.dose import PumpLimits
from domain.errors import DoserError, PumpBusy, RecipeRunConflict, UnknownRecipe
from domain.events import DoseOutcome
from domain.pump import PumpSpec
from domain.recipe import Recipe
from domain.recipe_run import RunState

PUMPS = [
    PumpSpec(axis, f"pump {axis}", Calibration(0.05), PumpLimits(60.0, 100.0)) for axis in "XYZ"
]
# 1 ml of X with 0.5 ml of Y (1 s at 60 ml/min), wait 10 s, 0.5 ml of Z (0.5 s).
TWO_PART = Recipe.from_plain(
    {
        "id": "two-part",
        "name": "Two Part",
        "steps": [
            {
                "doses": [
                    {"pump": "X", "volume": 1.0, "flowRate": 60.0},
                    {"pump": "Y", "volume": 0.5, "flowRate": 60.0},
                ],
                "waitSeconds": 10,
            },
            {"doses": [{"pump": "Z", "volume": 0.5, "flowRate": 60.0}]},
        ],
    }
)


class Rig:
    """A runner and a conductor over fakes that a "crash" can hand to the next daemon."""

    def __init__(self, store: InMemoryRecipeStore | None = None, rig: "Rig | None" = None):
        self.clock = rig.clock if rig else ManualClock(datetime(2026, 11, 21, 12, tzinfo=UTC))
        self.controller = (
            rig.controller if rig else FakeMotionController(monotonic=self.clock.monotonic)
        )
        self.journal = rig.journal if rig else InMemoryJournal()
        self.store = store or InMemoryRecipeStore()
        self.alarms = RecordingAlarms()
        self.runner = DoseRunner(
            self.controller, PUMPS, self.journal, self.clock, InMemoryStatusBoard(),
            alarms=self.alarms,
        )  # fmt: skip
        self.conductor = RecipeConductor(
            self.runner, self.store.run_log, self.journal, self.clock, alarms=self.alarms
        )
        assert self.runner.connect()

    def poll(self, seconds: float) -> None:
        """Let ``seconds`` pass, polling as the control plane does (every 50 ms)."""
        for _ in range(round(seconds / 0.05)):
            self.clock.advance(0.05)
            with contextlib.suppress(DoserError):  # the runner faulted and recorded why
                self.runner.tick()
            self.conductor.tick()

    def state(self, run_id: str) -> RunState:
        record = self.store.run_log.get(run_id)
        assert record is not None
        return record.state


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_the_next_step_waits_its_seconds_after_the_step_before_ended(rig: Rig) -> None:
    run_id = rig.conductor.execute(TWO_PART, "http")
    rig.poll(1.1)
    assert rig.state(run_id) is RunState.WAITING
    rig.poll(9.8)
    assert len(rig.controller.moves) == 1, "the second step started before its wait ended"
    rig.poll(1.0)
    assert rig.state(run_id) is RunState.COMPLETED
    assert [sorted(axes) for axes, _ in rig.controller.moves] == [["X", "Y"], ["Z"]]


def test_a_paused_wait_does_not_count_down(rig: Rig) -> None:
    run_id = rig.conductor.execute(TWO_PART, "http")
    rig.poll(3.0)  # the step ends at 1 s: 8 s of the wait left
    rig.conductor.pause(run_id)
    rig.poll(30.0)
    assert len(rig.controller.moves) == 1
    rig.conductor.resume(run_id)
    rig.poll(7.9)
    assert len(rig.controller.moves) == 1
    rig.poll(0.7)
    assert len(rig.controller.moves) == 2


def test_no_other_dose_starts_while_a_recipe_runs(rig: Rig) -> None:
    rig.conductor.execute(TWO_PART, "http")
    rig.poll(2.0)  # waiting: the controller is idle, the recipe still owns the pumps
    with pytest.raises(PumpBusy, match="Two Part"):
        rig.conductor.ensure_idle()


def test_an_emergency_stop_aborts_the_run_with_what_flowed(rig: Rig) -> None:
    run_id = rig.conductor.execute(TWO_PART, "http")
    rig.poll(0.5)
    rig.runner.stop_all("emergency stop")
    record = rig.conductor.halt("emergency stop")
    assert record is not None and record.state is RunState.ABORTED
    assert record.dispensed_ml["X"] == pytest.approx(0.5, abs=0.06)
    assert record.reason == "emergency stop"
    rig.poll(20.0)
    assert len(rig.controller.moves) == 1
    assert rig.alarms.types() == ["recipeAborted"]
    assert rig.state(run_id) is RunState.ABORTED


def test_a_step_that_cannot_start_fails_the_run_and_alarms(rig: Rig) -> None:
    run_id = rig.conductor.execute(TWO_PART, "http")
    rig.poll(2.0)
    rig.controller.unplug()  # the link drops during the wait
    rig.poll(10.0)
    record = rig.store.run_log.get(run_id)
    assert record is not None and record.state is RunState.FAILED
    assert record.reason.startswith("step 2 could not start")
    assert record.steps_completed == 1
    assert "recipeFailed" in rig.alarms.types()


def test_a_crash_mid_step_is_settled_as_interrupted_at_that_step_and_never_resumed(
    rig: Rig,
) -> None:
    run_id = rig.conductor.execute(TWO_PART, "http")
    rig.poll(0.5)  # step 1 half done; then the daemon dies: nothing halts, nothing is written
    rig.clock.advance(5.0)  # the orphaned move runs on (the fake's open() will stop it)
    after = Rig(store=rig.store, rig=rig)
    after.poll(0.1)
    record = after.store.run_log.get(run_id)
    assert record is not None and record.state is RunState.INTERRUPTED
    assert record.step_index == 0 and "step 1 of 2" in record.reason
    settled = {r.pump_id: r for r in after.journal.records.values()}
    assert settled["X"].outcome is DoseOutcome.INTERRUPTED
    assert record.dispensed_ml == {
        "X": settled["X"].actual_ml,
        "Y": settled["Y"].actual_ml,
    }
    assert "recipeInterrupted" in after.alarms.types()
    after.poll(20.0)
    assert len(after.controller.moves) == 1, "a step was dosed again after the restart"
    with pytest.raises(UnknownRecipe):
        after.conductor.resume(run_id)


def test_pausing_a_finished_run_is_refused(rig: Rig) -> None:
    run_id = rig.conductor.execute(TWO_PART, "http")
    rig.poll(1.1)
    rig.conductor.pause(run_id)
    with pytest.raises(RecipeRunConflict):
        rig.conductor.pause(run_id)
