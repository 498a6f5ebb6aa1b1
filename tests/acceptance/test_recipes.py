"""Steps for features/recipes.feature (fake and simulated wiring): recipes are stored and
run through the use cases; motion is checked on the controller itself (axis positions and
the move lines it was sent), volumes in the journal, events and alarms in the outbox the
monitoring system drains."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from bootstrap.settings import PumpSettings
from domain.errors import DoserError
from domain.journal import DoseRecord
from domain.recipe_run import RecipeRunRecord
from domain.telemetry import MessageKind
from support.daemon_harness import wait_for
from support.gcode_tap import GcodeTap

scenarios("recipes.feature")

ML_PER_MM = 0.05
STEP_ML = 0.004 * ML_PER_MM  # one simulated step (Grbl $100 = 250 steps/mm)


class Kitchen:
    """The pumps, the daemon (started on first use), the recipes and the last run."""

    def __init__(self, settings: dict[str, Any], daemon_factory: Any) -> None:
        self.settings = settings
        self._factory = daemon_factory
        self._daemon: Any = None
        self.tap: GcodeTap | None = None
        self.recipes: dict[str, str] = {}  # name → id
        self.run_id = ""
        self.refusal: DoserError | None = None
        self.before: dict[str, float] = {}

    @property
    def daemon(self) -> Any:
        if self._daemon is None:
            daemon = self._factory()
            if daemon.wiring == "simulated":
                self.tap = GcodeTap(daemon.app.adapters.simulator())
            wait_for(
                lambda: daemon.app.report_status().execute().snapshot.controller.connected,
                10,
                "the controller link",
            )
            self._daemon = daemon
            self.before = daemon.axis_positions()
        return self._daemon

    @property
    def app(self) -> Any:
        return self.daemon.app

    def moves(self) -> list[tuple[dict[str, float], float]]:
        if self.tap is not None:
            return list(self.tap.moves)
        return [(dict(d), f) for d, f in self.app.adapters.controller().moves]

    def run(self) -> RecipeRunRecord:
        record: RecipeRunRecord = self.app.steer_recipe_run().get(self.run_id)
        return record

    def ended_run(self, timeout_s: float = 15) -> RecipeRunRecord:
        def final() -> RecipeRunRecord | None:
            run = self.run()
            return run if run.state.final else None

        ended: RecipeRunRecord = wait_for(final, timeout_s, "the recipe run to end")
        return ended

    def doses(self) -> list[DoseRecord]:
        """This run's doses, oldest first."""
        history = self.app.list_history().execute()
        return [r for r in reversed(history) if r.recipe and r.recipe.run_id == self.run_id]

    def travelled_ml(self, pump: str) -> float:
        return (self.daemon.axis_positions()[pump] - self.before[pump]) * ML_PER_MM

    def outbox(self, kind: MessageKind) -> list[dict[str, Any]]:
        entries = self.app.adapters.outbox().pending(100_000)
        return [dict(e.payload) for e in entries if e.kind is kind]


@pytest.fixture
def kitchen(settings: dict[str, Any], daemon_factory: Any) -> Kitchen:
    return Kitchen(settings, daemon_factory)


def _dose(pump: str, volume: str, flow: str) -> dict[str, Any]:
    return {"pump": pump, "volume": float(volume), "flowRate": float(flow)}


def _store(kitchen: Kitchen, name: str, steps: list[dict[str, Any]]) -> None:
    recipe = kitchen.app.recipes().create({"name": name, "steps": steps})
    kitchen.recipes[name] = recipe.recipe_id


# Given


@given(
    parsers.parse('pumps "X", "Y" and "Z" deliver {ml_per_mm:g} ml per mm at up to {flow:g} ml/min')
)
def three_pumps(kitchen: Kitchen, ml_per_mm: float, flow: float) -> None:
    kitchen.settings["pumps"] = [
        PumpSettings(id=p, name=f"pump {p}", ml_per_mm=ml_per_mm, max_flow_ml_min=flow).model_dump(
            mode="json"
        )
        for p in "XYZ"
    ]


@given(parsers.parse('pump "{pump}" may deliver {ml:g} ml per day'))
def daily_quota(kitchen: Kitchen, pump: str, ml: float) -> None:
    [spec] = [p for p in kitchen.settings["pumps"] if p["id"] == pump]
    spec["max_ml_per_day"] = ml


@given(
    parsers.re(
        r'a recipe "(?P<name>[^"]+)": (?P<a>[\d.]+) ml of "(?P<p>\w)" with (?P<b>[\d.]+) ml of '
        r'"(?P<q>\w)" at (?P<f>[\d.]+) ml/min, wait (?P<w>[\d.]+) s, then (?P<c>[\d.]+) ml of '
        r'"(?P<r>\w)" at (?P<g>[\d.]+) ml/min'
    )
)
def parallel_recipe(kitchen: Kitchen, name: str, a: str, p: str, b: str, q: str, f: str,
                    w: str, c: str, r: str, g: str) -> None:  # fmt: skip
    """A parallel step, a wait, a single step."""
    steps = [
        {"doses": [_dose(p, a, f), _dose(q, b, f)], "waitSeconds": float(w)},
        {"doses": [_dose(r, c, g)]},
    ]
    _store(kitchen, name, steps)


@given(
    parsers.re(
        r'a recipe "(?P<name>[^"]+)": (?P<a>[\d.]+) ml of "(?P<p>\w)" at (?P<f>[\d.]+) ml/min, '
        r'then (?P<b>[\d.]+) ml of "(?P<q>\w)" at (?P<g>[\d.]+) ml/min'
    )
)
def two_step_recipe(kitchen: Kitchen, name: str, a: str, p: str, f: str, b: str, q: str,
                    g: str) -> None:  # fmt: skip
    """Two single-pump steps, no wait."""
    _store(kitchen, name, [{"doses": [_dose(p, a, f)]}, {"doses": [_dose(q, b, g)]}])


# When


@when(parsers.parse('I run the recipe "{name}"'))
def run_recipe(kitchen: Kitchen, name: str) -> None:
    kitchen.run_id = kitchen.app.execute_recipe().execute(kitchen.recipes[name])


@when(parsers.parse('I try to run the recipe "{name}"'))
def try_recipe(kitchen: Kitchen, name: str) -> None:
    with pytest.raises(DoserError) as refused:
        kitchen.app.execute_recipe().execute(kitchen.recipes[name])
    kitchen.refusal = refused.value


@when(parsers.re(r'I (?P<action>abort|pause) the run once pump "(?P<pump>\w)" has dispensed '
                 r'(?P<ml>[\d.]+) ml'))  # fmt: skip
def steer_midway(kitchen: Kitchen, action: str, pump: str, ml: str) -> None:
    wait_for(lambda: kitchen.travelled_ml(pump) >= float(ml), 10, f"{ml} ml on pump {pump}")
    kitchen.app.steer_recipe_run().execute(kitchen.run_id, action)


@when("I resume the run")
def resume(kitchen: Kitchen) -> None:
    kitchen.app.steer_recipe_run().execute(kitchen.run_id, "resume")


# Then


@then(parsers.parse("the run completes {done:d} of {steps:d} steps"))
def run_completes(kitchen: Kitchen, done: int, steps: int) -> None:
    run = kitchen.ended_run()
    assert (run.state.value, run.steps_completed, len(run.recipe.steps)) == (
        "completed",
        done,
        steps,
    ), run


@then(parsers.parse("the run is aborted at step {step:d} of {steps:d}"))
def run_aborted(kitchen: Kitchen, step: int, steps: int) -> None:
    run = kitchen.ended_run()
    assert run.state.value == "aborted", run
    assert (run.step_index + 1, run.steps_completed, len(run.recipe.steps)) == (step, 0, steps)


@then(parsers.parse('the controller was sent one move for "{p}" and "{q}" together, then one '
                    'for "{r}" alone'))  # fmt: skip
def coordinated_moves(kitchen: Kitchen, p: str, q: str, r: str) -> None:
    moves = kitchen.moves()
    assert [sorted(axes) for axes, _ in moves] == [sorted([p, q]), [r]], moves
    (together, feed), _ = moves
    # Grbl's F is the path feed: the Euclidean norm of the axis feeds, so both axes end
    # together (1 ml and 0.5 ml at 60 ml/min: 1 s, X at 1200 mm/min, Y at 600 mm/min).
    assert together == {p: 20.0, q: 10.0}
    assert feed == pytest.approx((1200**2 + 600**2) ** 0.5, abs=0.001)


@then(parsers.parse('pump "{pump}" was slowed to {flow:g} ml/min so that it ended with pump '
                    '"{other}"'))  # fmt: skip
def slowed(kitchen: Kitchen, pump: str, flow: float, other: str) -> None:
    doses = {d.pump_id: d for d in kitchen.doses()}
    assert doses[pump].flow_rate_ml_min == pytest.approx(flow)
    assert doses[other].flow_rate_ml_min == pytest.approx(60.0)


@then(parsers.parse("the second step started at least {seconds:g} s after the first ended"))
def waited(kitchen: Kitchen, seconds: float) -> None:
    doses = kitchen.doses()
    first = [d for d in doses if d.recipe and d.recipe.step == 0]
    second = [d for d in doses if d.recipe and d.recipe.step == 1]
    first_ended = max(d.ended_at for d in first if d.ended_at is not None)
    gap = (min(d.started_at for d in second) - first_ended).total_seconds()
    assert gap >= seconds - 0.01, f"the wait lasted {gap:.3f} s"  # wall vs monotonic stamps


@then(parsers.re(r"the journal shows (?P<listing>.+), each with its run and step"))
def journal_shows(kitchen: Kitchen, listing: str) -> None:
    wanted = {}
    for part in listing.replace(" and ", ", ").split(", "):
        ml, _, _, pump = part.split()
        wanted[pump.strip('"')] = float(ml)
    doses = kitchen.doses()
    assert {d.pump_id: d.actual_ml for d in doses} == pytest.approx(wanted, abs=STEP_ML)
    assert all(d.outcome.value == "completed" for d in doses), doses
    steps = {d.pump_id: d.recipe.step for d in doses if d.recipe}
    assert sorted(set(steps.values())) == list(range(len(set(steps.values()))))


@then(parsers.parse("the monitoring system was told the recipe started with {steps:d} steps and "
                    "when it completed"))  # fmt: skip
def recipe_events(kitchen: Kitchen, steps: int) -> None:
    [started] = kitchen.outbox(MessageKind.RECIPE_START)
    [completed] = kitchen.outbox(MessageKind.RECIPE_COMPLETE)
    assert started["eventType"] == "recipeStart" and started["steps"] == steps
    assert started["recipeName"] == "Two Part" and started["estimatedDuration_sec"] == 2.5
    assert completed["eventType"] == "recipeComplete" and completed["success"] is True
    assert completed["runId"] == started["runId"] == kitchen.run_id
    assert completed["totalVolume_ml"] == pytest.approx(2.0, abs=3 * STEP_ML)


@then(parsers.parse('pump "{pump}"\'s dose is journaled as stopped with the volume its axis '
                    "travelled"))  # fmt: skip
def stopped_dose(kitchen: Kitchen, pump: str) -> None:
    [dose] = [d for d in kitchen.doses() if d.pump_id == pump]
    assert dose.outcome.value == "stopped"
    assert dose.actual_ml == pytest.approx(kitchen.travelled_ml(pump), abs=STEP_ML)
    assert 0.3 - STEP_ML <= dose.actual_ml < 3.0
    assert kitchen.run().dispensed_ml == {pump: dose.actual_ml}


@then(parsers.parse('pump "{pump}" never moved'))
def never_moved(kitchen: Kitchen, pump: str) -> None:
    assert kitchen.travelled_ml(pump) == 0.0
    assert all(pump not in axes for axes, _ in kitchen.moves())


@then(parsers.parse('pump "{pump}" stands still while the run is paused'))
def stands_still(kitchen: Kitchen, pump: str) -> None:
    assert kitchen.run().state.value == "paused"
    # A feed hold decelerates to rest: wait for rest, then see it stay there a while.
    resting = wait_for(lambda: _still(kitchen, pump), 5, f"pump {pump} to come to rest")
    time.sleep(0.3)  # an absence of motion can only be watched for a while
    assert kitchen.daemon.axis_positions()[pump] == resting
    assert kitchen.travelled_ml(pump) < 3.0


def _still(kitchen: Kitchen, pump: str) -> float | None:
    first = kitchen.daemon.axis_positions()[pump]
    time.sleep(0.05)
    second = kitchen.daemon.axis_positions()[pump]
    return second if first == second else None


@then(parsers.parse('it is refused by rule "{rule}" for pump "{pump}"\'s total of {ml:g} ml'))
def refused(kitchen: Kitchen, rule: str, pump: str, ml: float) -> None:
    refusal = kitchen.refusal
    assert refusal is not None and getattr(refusal, "rule", None) == rule, refusal
    assert f"pump {pump}" in refusal.message and f"{ml:g} ml asked" in refusal.message


@then("no pump has moved")
def nothing_moved(kitchen: Kitchen) -> None:
    assert kitchen.moves() == []
    assert kitchen.daemon.axis_positions() == kitchen.before
    assert kitchen.app.list_history().execute() == []


@then(parsers.parse('the monitoring system is alarmed that the recipe "{name}" was refused'))
def refusal_alarm(kitchen: Kitchen, name: str) -> None:
    alarms = [a for a in kitchen.outbox(MessageKind.ALARM) if a["alarmType"] == "recipeRefused"]
    assert [(a["recipeName"], a["rule"]) for a in alarms] == [(name, "max_per_day")]
