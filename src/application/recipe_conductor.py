"""Runs recipes step by step on the control plane: pre-flight of the whole recipe, one
coordinated move per step, the waits between steps, pause/resume/abort, and an honest
record at every step boundary. Control-plane only (DESIGN §2)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from application.dose_runner import DoseRunner
from application.ports import AlarmSink, Clock, DoseJournal, RecipeEventSink, RecipeRunLog
from domain.errors import (
    DoserError,
    JournalRecoveryPending,
    LimitExceeded,
    LimitReached,
    NotCalibrated,
    PumpBusy,
    UnknownRecipe,
)
from domain.events import DoseEnded, DoseOutcome, StepRef
from domain.recipe import Recipe
from domain.recipe_run import RecipeRun, RecipeRunRecord, RunState
from domain.telemetry import Severity

log = logging.getLogger(__name__)


class RecipeConductor:
    """One recipe run at a time, on the control-plane thread.

    ``runs`` is written when a run starts, at each step boundary, on pause/resume and at
    its end; ``journal`` settles a run a crash interrupted (what its last step's doses
    really dispensed). ``events`` (optional) gets recipeStart/recipeComplete; ``alarms``
    (optional) refusals, failures and interrupted runs.
    """

    def __init__(
        self,
        runner: DoseRunner,
        runs: RecipeRunLog,
        journal: DoseJournal,
        clock: Clock,
        *,
        events: RecipeEventSink | None = None,
        alarms: AlarmSink | None = None,
    ) -> None:
        self._runner = runner
        self._runs = runs
        self._journal = journal
        self._clock = clock
        self._events = events
        self._alarms = alarms
        self._run: RecipeRun | None = None
        self._wait_until = 0.0
        self._wait_left_s = 0.0
        self._settled = False
        self.latest: RecipeRunRecord | None = None  # the live run's last record, for readers

    @property
    def active(self) -> bool:
        """Whether a run is live (dosing, waiting or paused)."""
        return self._run is not None

    def ensure_idle(self) -> None:
        """Raise ``PumpBusy`` while a recipe runs: its steps own the pumps until it ends."""
        if self._run is not None:
            raise PumpBusy(
                f"recipe {self._run.recipe.name!r} is running (run {self._run.run_id}); "
                "pause or abort it first"
            )

    def execute(self, recipe: Recipe, origin: str) -> str:
        """Check every step, record the run, start its first step; returns the run id.

        Raises ``PumpBusy`` (a run or dose is going on), ``JournalRecoveryPending``,
        ``EmergencyStopLatched``, ``UnknownPump``, ``NotCalibrated``, ``InvalidDose``,
        ``LimitExceeded``, ``LimitReached`` (the message names the step), or what starting
        the first step raises; nothing moves when it raises.
        """
        self.ensure_idle()
        self._settle()
        if not self._settled:
            raise JournalRecoveryPending("recipe runs a crash interrupted are not settled yet")
        try:
            self._runner.check_recipe(recipe)
        except (LimitExceeded, LimitReached, NotCalibrated) as exc:
            self._alarm("recipeRefused", exc.message, Severity.WARNING, recipe, rule=_rule(exc))
            raise
        run = RecipeRun(uuid.uuid4().hex[:16], recipe, self._clock.now(), origin)
        self._run = run
        self._save(run)
        if self._events is not None:
            self._events.recipe_started(run.record())
        self._start_step(run)
        return run.run_id

    def pause(self, run_id: str) -> RecipeRunRecord:
        """Hold the run: a dosing step is feed-held at once, a wait stops counting.
        Raises ``UnknownRecipe`` (not the live run), ``RecipeRunConflict``."""
        run = self._live(run_id)
        dosing = run.state is RunState.DOSING
        run.pause()
        if dosing:
            self._runner.pause()
        else:
            self._wait_left_s = max(0.0, self._wait_until - self._clock.monotonic())
        return self._save(run)

    def resume(self, run_id: str) -> RecipeRunRecord:
        """Go on where the run was paused. Raises ``UnknownRecipe``, ``RecipeRunConflict``,
        ``EmergencyStopLatched``."""
        run = self._live(run_id)
        self._runner.ensure_released()
        held_motion = run.paused_while_dosing
        run.resume()
        if held_motion:
            self._runner.resume()
        else:
            self._wait_until = self._clock.monotonic() + self._wait_left_s
        return self._save(run)

    def abort(self, run_id: str, reason: str = "aborted by request") -> RecipeRunRecord:
        """Stop the run now: a running step is halted (feed hold, flush) and journaled with
        what flowed; no further step runs. Raises ``UnknownRecipe``."""
        run = self._live(run_id)
        if run.dose_ids and run.state in (RunState.DOSING, RunState.PAUSED):
            self._runner.stop_all(reason)
        return self.halt(reason) or run.record()

    def halt(self, reason: str) -> RecipeRunRecord | None:
        """End the live run as aborted after its motion was halted (emergency stop,
        shutdown, abort); returns its final record, None when no run was live."""
        run = self._run
        if run is None:
            return None
        run.abort(reason, self._clock.now(), self._step_dispensed(run))
        return self._finish(run, Severity.WARNING, "recipeAborted")

    def tick(self) -> None:
        """Follow the live run (after the runner's own poll): end a step whose doses all
        ended, start the next step once its wait passed. Settles, once, the runs a crash
        left live."""
        self._settle()
        run = self._run
        if run is None:
            return
        if run.state is RunState.DOSING:
            self._follow_step(run)
        elif run.state is RunState.WAITING and self._clock.monotonic() >= self._wait_until:
            self._start_step(run)

    def _follow_step(self, run: RecipeRun) -> None:
        ended = [self._runner.ended(dose_id) for dose_id in run.dose_ids]
        if any(outcome is None for outcome in ended):
            return  # still dosing
        outcomes = [outcome for outcome in ended if outcome is not None]
        dispensed = {outcome.pump_id: outcome.actual_ml for outcome in outcomes}
        cut_short = [o for o in outcomes if o.outcome is not DoseOutcome.COMPLETED]
        if cut_short:
            first = cut_short[0]
            reason = f"step {run.step_index + 1}: pump {first.pump_id} {first.outcome.value}"
            run.fail(
                f"{reason}: {first.reason}" if first.reason else reason,
                self._clock.now(),
                dispensed,
            )
            self._finish(run, Severity.CRITICAL, "recipeFailed")
            return
        run.step_ended(dispensed)
        if run.state is RunState.COMPLETED:
            run.completed(self._clock.now())
            self._finish(run, None, "")
            return
        self._wait_until = self._clock.monotonic() + run.wait_s
        self._save(run)
        if run.wait_s <= 0:
            self._start_step(run)

    def _start_step(self, run: RecipeRun) -> None:
        step = run.step
        doses = [(d.pump_id, d.volume_ml, d.flow_rate_ml_min) for d in step.doses]
        try:
            dose_ids = self._runner.start_group(doses, StepRef(run.run_id, run.step_index))
        except DoserError as exc:
            run.fail(
                f"step {run.step_index + 1} could not start: {exc.message}", self._clock.now(), {}
            )
            self._finish(run, Severity.CRITICAL, "recipeFailed")
            if run.step_index == 0:
                raise
            return
        run.step_started(tuple(dose_ids))
        self._save(run)

    def _finish(
        self, run: RecipeRun, severity: Severity | None, alarm_type: str
    ) -> RecipeRunRecord:
        self._run = None
        record = self._save(run)
        log.info("recipe run %s %s: %s", run.run_id, run.state.value, run.reason)
        if self._events is not None and run.ended_at is not None:
            self._events.recipe_ended(record, run.ended_at)
        if severity is not None:
            self._alarm(
                alarm_type,
                run.reason,
                severity,
                run.recipe,
                runId=run.run_id,
                step=run.step_index + 1,
            )
        return record

    def _step_dispensed(self, run: RecipeRun) -> dict[str, float]:
        if run.state not in (RunState.DOSING, RunState.PAUSED):
            return {}
        ended = [self._runner.ended(dose_id) for dose_id in run.dose_ids]
        return {e.pump_id: e.actual_ml for e in ended if isinstance(e, DoseEnded)}

    def _settle(self) -> None:
        if self._settled or not self._runner.settled:
            return  # the doses first: a run's last step is settled from them
        for record in self._runs.unfinished():
            run_doses = [self._journal.get(dose_id) for dose_id in record.dose_ids]
            dispensed: dict[str, float] = dict(record.dispensed_ml)
            if record.state in (RunState.DOSING, RunState.PAUSED):
                for dose in run_doses:
                    if dose is not None and dose.actual_ml is not None:
                        dispensed[dose.pump_id] = round(
                            dispensed.get(dose.pump_id, 0.0) + dose.actual_ml, 6
                        )
            at = self._clock.now()
            step = record.step_index + 1
            reason = f"the daemon stopped during step {step} of {len(record.recipe.steps)}"
            settled = _interrupted(record, reason, at, dispensed)
            self._runs.save(settled)
            if self._events is not None:
                self._events.recipe_ended(settled, at)
            self._alarm(
                "recipeInterrupted",
                f"interrupted at step {step}: {reason}",
                Severity.WARNING,
                record.recipe,
                runId=record.run_id,
                step=step,
            )
        self._settled = True

    def _live(self, run_id: str) -> RecipeRun:
        run = self._run
        if run is None or run.run_id != run_id:
            raise UnknownRecipe(f"no live recipe run {run_id!r}")
        return run

    def _save(self, run: RecipeRun) -> RecipeRunRecord:
        record = run.record()
        self._runs.save(record)
        self.latest = record
        return record

    def _alarm(
        self, alarm_type: str, message: str, severity: Severity, recipe: Recipe, **details: object
    ) -> None:
        if self._alarms is not None:
            self._alarms.raise_alarm(
                alarm_type,
                message,
                severity,
                recipeId=recipe.recipe_id,
                recipeName=recipe.name,
                **details,
            )


def _rule(exc: DoserError) -> str:
    return str(getattr(exc, "rule", exc.code))


def _interrupted(
    record: RecipeRunRecord, reason: str, at: datetime, dispensed: Mapping[str, float]
) -> RecipeRunRecord:
    return replace(
        record, state=RunState.INTERRUPTED, ended_at=at, reason=reason, dispensed_ml=dispensed
    )
