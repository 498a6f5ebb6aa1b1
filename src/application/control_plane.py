"""The control plane: one thread owns the controller; others hand it commands (DESIGN §2).

The network plane never touches the serial port: it submits a command and waits for the
answer with a deadline. A command whose deadline passed before the control plane got to
it is dropped, never run late, so a caller told "timed out" never sees a dose start after.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from application.commands import (
    AbortWeighDispense,
    Command,
    ExecuteRecipe,
    HaltAll,
    RefreshStatus,
    ScaleCommand,
    StartCalibrationRun,
    StartContinuous,
    StartDose,
    StartScaleCalibration,
    StartWeighDispense,
    SteerRecipeRun,
    StopPump,
)
from application.dose_runner import DoseRunner
from application.lateness_meter import LatenessMeter
from application.ports import Clock
from application.recipe_conductor import RecipeConductor
from application.scale_calibrator import ScaleCalibrator
from application.weigh_conductor import WeighConductor
from domain.errors import ControllerUnavailable, DoserError, ScaleUnavailable

log = logging.getLogger(__name__)
_STOP_LATENCY_S = 0.1


@dataclass(slots=True)
class _Envelope:
    command: Command
    deadline: float
    reply: Future[Any] = field(default_factory=Future)


class ControlPlane:
    """Runs ``DoseRunner`` (and the ``conductor``'s recipe runs and the ``weigher``'s
    dispenses by weight, if given) on its own thread and serialises every command through
    a queue.

    ``poll_interval_s`` (s) is the status poll period while dosing (DESIGN: ≥ 20 Hz);
    ``idle_poll_interval_s`` (s) while idle; ``reconnect_interval_s`` (s) between attempts to
    open a lost controller link. ``timing``, when given, records how late each poll of a
    connected controller ran behind its schedule (the timing diagnostics).
    """

    def __init__(
        self,
        runner: DoseRunner,
        clock: Clock,
        *,
        conductor: RecipeConductor | None = None,
        weigher: WeighConductor | None = None,
        calibrator: ScaleCalibrator | None = None,
        poll_interval_s: float = 0.05,
        idle_poll_interval_s: float = 1.0,
        reconnect_interval_s: float = 5.0,
        timing: LatenessMeter | None = None,
    ) -> None:
        self._runner = runner
        self._conductor = conductor
        self._weigher = weigher
        self._calibrator = calibrator
        self._clock = clock
        self._poll_interval_s = poll_interval_s
        self._idle_poll_interval_s = idle_poll_interval_s
        self._reconnect_interval_s = reconnect_interval_s
        self._inbox: queue.Queue[_Envelope] = queue.Queue()
        self._next_tick = 0.0
        self._timing = timing

    def request(self, command: Command, timeout_s: float = 5.0) -> Any:
        """Submit ``command`` and wait up to ``timeout_s`` (s) for its result.

        Returns what the command returns (a dose id for ``StartDose``); re-raises the
        ``DoserError`` it raised; raises ``ControllerUnavailable`` when the control plane
        did not take it in time (the command is then dropped, never run).
        """
        envelope = _Envelope(command, self._clock.monotonic() + timeout_s)
        self._inbox.put(envelope)
        try:
            return envelope.reply.result(timeout=timeout_s + 1.0)
        except TimeoutError:
            raise ControllerUnavailable("control plane did not answer in time") from None

    def run(self, stop: threading.Event) -> None:
        """The control-plane thread's body: connect, then serve commands and poll until
        ``stop`` is set; finally halt any running dose and close the controller."""
        try:
            while not stop.is_set():
                self.run_once()
        finally:
            try:
                self._runner.stop_all("daemon shutting down")
            except DoserError:
                pass
            finally:
                if self._conductor is not None:
                    self._conductor.halt("daemon shutting down")
                if self._calibrator is not None:
                    self._calibrator.halt("daemon shutting down")
                if self._weigher is not None:
                    self._weigher.halt("daemon shutting down")
                    self._weigher.close()
                self._drop_pending("daemon shutting down")
                self._runner.close()

    def run_once(self) -> None:
        """Serve commands until the next poll is due, then poll once."""
        # capped so a set stop event is seen within 0.1 s even while idle
        timeout = min(_STOP_LATENCY_S, max(0.0, self._next_tick - self._clock.monotonic()))
        try:
            envelope = self._inbox.get(timeout=timeout)
        except queue.Empty:
            pass
        else:
            self._serve(envelope)
        now = self._clock.monotonic()
        if now < self._next_tick:
            return
        if not self._runner.connected:
            self._runner.connect()
            if self._conductor is not None:  # a run waiting for its next step fails now
                self._guarded(self._conductor.tick)
            self._tick_scale_jobs()
            self._next_tick = now + (
                self._poll_interval_s if self._runner.connected else self._reconnect_interval_s
            )
            return
        if self._timing is not None and self._next_tick > 0.0:
            self._timing.record(now - self._next_tick)
        self._guarded(self._runner.tick)
        if self._conductor is not None:
            self._guarded(self._conductor.tick)
        self._tick_scale_jobs()
        busy = (
            self._runner.dosing
            or (self._conductor is not None and self._conductor.active)
            or (self._weigher is not None and self._weigher.active)
            or (self._calibrator is not None and self._calibrator.active)
        )
        interval = self._poll_interval_s if busy else self._idle_poll_interval_s
        self._next_tick = max(self._next_tick + interval, now)

    def _tick_scale_jobs(self) -> None:
        if self._weigher is not None:
            self._guarded(self._weigher.tick)
        if self._calibrator is not None:
            self._guarded(self._calibrator.tick)

    @staticmethod
    def _guarded(poll: Callable[[], None]) -> None:
        try:
            poll()
        except DoserError:
            pass  # the runner already faulted the pumps and recorded why
        except Exception:
            # A bug must not kill the thread that owns the motors: log it, keep polling.
            log.exception("control-plane poll failed")

    def _serve(self, envelope: _Envelope) -> None:
        if self._clock.monotonic() > envelope.deadline:
            envelope.reply.set_exception(
                ControllerUnavailable("command expired before the control plane took it")
            )
            return
        try:
            result = self._execute(envelope.command)
        except DoserError as exc:
            envelope.reply.set_exception(exc)
        except Exception as exc:
            log.exception("control-plane command failed: %r", envelope.command)
            envelope.reply.set_exception(exc)
        else:
            envelope.reply.set_result(result)
        # a started dose is followed at the poll rate from now on
        self._next_tick = min(self._next_tick, self._clock.monotonic() + self._poll_interval_s)

    def _execute(self, command: Command) -> Any:
        conductor, weigher = self._conductor, self._weigher
        starts = (
            StartDose
            | StartContinuous
            | StartCalibrationRun
            | ExecuteRecipe
            | StartWeighDispense
            | StartScaleCalibration
        )
        if isinstance(command, starts):  # a job owns the pumps until it ends
            for job in (conductor, weigher, self._calibrator):
                if job is not None:
                    job.ensure_idle()
        match command:
            case StartDose(pump_id, volume_ml, flow_rate_ml_min):
                return self._runner.start(pump_id, volume_ml, flow_rate_ml_min)
            case StartContinuous(pump_id, flow_rate_ml_min):
                return self._runner.start_continuous(pump_id, flow_rate_ml_min)
            case StartCalibrationRun(pump_id, distance_mm, feed_mm_min):
                return self._runner.start_calibration_run(pump_id, distance_mm, feed_mm_min)
            case StopPump(pump_id):
                self._runner.stop(pump_id)
                return None
            case HaltAll(reason):
                halted = self._runner.stop_all(reason)
                if conductor is not None:
                    conductor.halt(reason)
                if weigher is not None:
                    weigher.halt(reason)
                if self._calibrator is not None:
                    self._calibrator.halt(reason)
                self._runner.publish()
                return halted
            case ExecuteRecipe(recipe, origin):
                return self._recipes().execute(recipe, origin)
            case SteerRecipeRun(run_id, "pause"):
                return self._recipes().pause(run_id)
            case SteerRecipeRun(run_id, "resume"):
                return self._recipes().resume(run_id)
            case SteerRecipeRun(run_id, _):
                return self._recipes().abort(run_id)
            case StartWeighDispense(pump_id, target_g, tolerance_g, flow, origin):
                return self._weighing().start(pump_id, target_g, tolerance_g, flow, origin)
            case AbortWeighDispense(run_id):
                return self._weighing().abort(run_id)
            case StartScaleCalibration(pump_id, flow_rates, volume_ml):
                if self._calibrator is None:
                    raise ScaleUnavailable("no scale is wired into this control plane")
                return self._calibrator.start(pump_id, flow_rates, volume_ml)
            case ScaleCommand("read"):
                return self._weighing().read()
            case ScaleCommand("tare"):
                return self._weighing().tare()
            case ScaleCommand(_):
                return self._weighing().zero()
            case RefreshStatus():
                self._runner.publish()
                return None

    def _recipes(self) -> RecipeConductor:
        if self._conductor is None:
            raise ControllerUnavailable("recipes are not wired into this control plane")
        return self._conductor

    def _weighing(self) -> WeighConductor:
        if self._weigher is None:
            raise ScaleUnavailable("no scale is wired into this control plane")
        return self._weigher

    def _drop_pending(self, reason: str) -> None:
        while True:
            try:
                envelope = self._inbox.get_nowait()
            except queue.Empty:
                return
            envelope.reply.set_exception(ControllerUnavailable(reason))
