"""The dispense-by-weight benchmark's rig: one daemon in-process on the simulated bench (the
Grbl and MT-SICS simulators on real ptys, the bench pouring pump X into the beaker on the
scale), driven at one fast-phase flow rate. ``run_rig`` is the whole programme of one rig
(dispenses by weight, the volume baseline, the two faults); its figures come back as
plain picklable data, so the rigs of several rates can run in separate processes at once.

What the beaker truly holds is read from the bench, what the daemon saw from its runs, its
journal and its outbox; every time of the daemon's is its own clock (its journal, its
run's start plus its duration), so the polling here does not blur them.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from adapters.sim.bench import DosingBench
from bootstrap.containers import UseCases, bootstrap
from bootstrap.settings import SIMULATED_PUMPS, HttpSettings, Settings
from domain.journal import DoseRecord
from domain.scale import WeighRunView
from domain.telemetry import MessageKind

PUMP = "X"
TARGET_G = 50.0  # and 50 ml by volume: density 1.0 on the bench and in the daemon
SETTLE_BEFORE_S = 1.0  # after swapping the beaker, for the scale to settle
LAND_AFTER_S = 1.5  # after a run ended, for everything in flight to land
BLOCK_AT_G = 10.0  # the tube blocks once this much has landed
RUN_TIMEOUT_S = 300.0
POLL_S = 0.01
INFLIGHT_KEY = ("weighing", f"{PUMP}.inflight_s")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WeighRun:
    """One 50 g dispense by weight: the daemon's result (g, s) and the bench's truth (g)
    ``LAND_AFTER_S`` after it ended; ``inflight_s`` (s): the learned in-flight time it
    started with (None: the default, nothing learned yet)."""

    actual_g: float
    truth_g: float
    duration_s: float
    topups: int
    outcome: str
    reason: str
    inflight_s: float | None

    @property
    def scale_error_g(self) -> float:
        return self.actual_g - TARGET_G

    @property
    def truth_error_g(self) -> float:
        return self.truth_g - TARGET_G


@dataclass(frozen=True, slots=True)
class VolumeDose:
    """One 50 ml dose by calibration: the journal's volume (ml), the truth (g), its
    duration by the journal (s)."""

    actual_ml: float | None
    truth_g: float
    duration_s: float
    outcome: str

    @property
    def truth_error_g(self) -> float:
        return self.truth_g - TARGET_G


@dataclass(frozen=True, slots=True)
class FaultRun:
    """A dispense by weight with a fault: ``trigger`` (what the latencies count from),
    how it ended, whether a ``weightNotRising`` alarm for it was queued (and every alarm
    type queued during it), what had landed (g, truth); ``to_result_s`` (s, the daemon's
    clock): the trigger to the run's result; ``to_pump_stop_s``: the trigger to the end of
    its last pump phase in the journal; ``observed_s``: the trigger to the result as polled
    here; ``call_to_result_s``: from the call (the result's duration)."""

    kind: str
    trigger: str
    outcome: str
    fault: str
    reason: str
    not_rising_alarm: bool
    alarm_types: tuple[str, ...]
    landed_g: float
    to_result_s: float | None
    to_pump_stop_s: float | None
    observed_s: float
    call_to_result_s: float


@dataclass(slots=True)
class RigFigures:
    """Everything one rig measured at ``flow_ml_min`` (ml/min, the fast phase and the
    volume doses); ``errors``: tracebacks of what went wrong (the rest is still there)."""

    flow_ml_min: float
    runs: list[WeighRun] = field(default_factory=list)
    doses: list[VolumeDose] = field(default_factory=list)
    faults: list[FaultRun] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def poll(condition: Callable[[], T | None], timeout_s: float, what: str, every_s: float) -> T:
    """Call ``condition`` every ``every_s`` (s) until it gives something; ``TimeoutError``
    naming ``what`` after ``timeout_s`` (s)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


class WeighBenchRig:
    """A daemon on the simulated bench with its control plane running on a thread, as
    the daemon runs it. ``start`` waits for the controller and scale links."""

    def __init__(self, data_dir: Path) -> None:
        settings = Settings(
            data_dir=data_dir, http=HttpSettings(token="bench"), pumps=SIMULATED_PUMPS
        ).model_dump(mode="json")
        # MQTT stays configured (nothing connects in-process: no link thread runs) so that
        # events and alarms are queued in the outbox; an empty url would queue nothing.
        self.app: UseCases = bootstrap(settings, wiring="simulated")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.app.control_plane().run, args=(self._stop,), name="control-plane"
        )

    def start(self) -> None:
        self.app.init_resources()
        self._thread.start()
        poll(
            lambda: self.app.report_status().execute().snapshot.controller.connected or None,
            20,
            "the controller link",
            0.05,
        )
        poll(lambda: self.app.weigher().view.connected or None, 20, "the scale link", 0.05)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.app.shutdown_resources()

    @property
    def bench(self) -> DosingBench:
        bench: DosingBench = self.app.adapters.bench()
        return bench

    # the programme ------------------------------------------------------------------------
    def weigh(self, flow_ml_min: float) -> WeighRun:
        self._fresh_beaker()
        stored = self.app.adapters.nvs().get(*INFLIGHT_KEY)
        inflight = float(stored) if isinstance(stored, int | float) else None
        run_id = self.app.dispense_weight().execute(PUMP, TARGET_G, None, flow_ml_min)
        view, _ = self._ended(run_id)
        time.sleep(LAND_AFTER_S)
        result = view.result
        assert result is not None
        return WeighRun(
            result.actual_g,
            self.bench.beaker_liquid_g(),
            result.duration_s,
            result.topups,
            result.outcome.value,
            result.reason,
            inflight,
        )

    def dose_by_volume(self, flow_ml_min: float) -> VolumeDose:
        self._fresh_beaker()
        dose_id = self.app.dispense().execute(PUMP, TARGET_G, flow_ml_min)

        def ended() -> DoseRecord | None:
            records = self.app.list_history().execute(limit=10)
            return next((r for r in records if r.dose_id == dose_id and r.ended_at), None)

        record = poll(ended, RUN_TIMEOUT_S, "the volume dose to end", 0.05)
        time.sleep(LAND_AFTER_S)
        assert record.ended_at is not None
        return VolumeDose(
            record.actual_ml,
            self.bench.beaker_liquid_g(),
            (record.ended_at - record.started_at).total_seconds(),
            record.outcome.value,
        )

    def empty_reservoir(self, flow_ml_min: float) -> FaultRun:
        """The reservoir is empty before the run starts: latencies count from the start of
        the first pump phase (the journal)."""
        self._fresh_beaker()
        alarms_before = self._alarm_count()
        self.bench.empty_reservoir(PUMP)
        try:
            called = time.monotonic()
            run_id = self.app.dispense_weight().execute(PUMP, TARGET_G, None, flow_ml_min)
            view, seen = self._ended(run_id)
        finally:
            self.bench.refill(PUMP, 1_000_000.0)
        phases = self._phases(view)
        pump_started = phases[0].started_at if phases else None
        return self._fault_run(
            "empty reservoir",
            "first pump phase started",
            view,
            phases,
            pump_started,
            seen - called,
            alarms_before,
        )

    def blocked_tube(self, flow_ml_min: float) -> FaultRun:
        """The tube blocks once ``BLOCK_AT_G`` have landed: latencies count from then."""
        self._fresh_beaker()
        alarms_before = self._alarm_count()
        run_id = self.app.dispense_weight().execute(PUMP, TARGET_G, None, flow_ml_min)

        def landed() -> bool | None:
            if self.app.dispense_weight().get(run_id).result is not None:
                raise AssertionError("the run ended before the tube blocked")
            return True if self.bench.beaker_liquid_g() >= BLOCK_AT_G else None

        poll(landed, 120, f"{BLOCK_AT_G:g} g to land", 0.005)
        blocked_wall, blocked = datetime.now(UTC), time.monotonic()
        self.bench.block_tube(PUMP)
        try:
            view, seen = self._ended(run_id)
        finally:
            self.bench.unblock_tube(PUMP)
        return self._fault_run(
            "blocked tube",
            f"tube blocked at {BLOCK_AT_G:g} g",
            view,
            self._phases(view),
            blocked_wall,
            seen - blocked,
            alarms_before,
        )

    # helpers ------------------------------------------------------------------------------
    def _fresh_beaker(self) -> None:
        self.app.refill_reservoir().execute(PUMP)  # the daemon's book: 1 l each time
        self.bench.empty_beaker()
        time.sleep(SETTLE_BEFORE_S)

    def _ended(self, run_id: str) -> tuple[WeighRunView, float]:
        """The ended run and when (monotonic) it was seen to end."""

        def ended() -> WeighRunView | None:
            view = self.app.dispense_weight().get(run_id)
            return view if view.result is not None else None

        view = poll(ended, RUN_TIMEOUT_S, "the dispense by weight to end", POLL_S)
        return view, time.monotonic()

    def _phases(self, view: WeighRunView) -> list[DoseRecord]:
        """The run's pump phases in the journal, oldest first."""
        records = self.app.list_history().execute(limit=50, since=view.started_at)
        return [r for r in reversed(records) if r.pump_id == view.pump_id]

    def _alarms(self) -> list[dict[str, Any]]:
        entries = self.app.adapters.outbox().pending(100_000, alarms_first=True)
        return [dict(e.payload) for e in entries if e.kind is MessageKind.ALARM]

    def _alarm_count(self) -> int:
        return len(self._alarms())

    def _fault_run(
        self,
        kind: str,
        trigger: str,
        view: WeighRunView,
        phases: list[DoseRecord],
        trigger_at: datetime | None,
        observed_s: float,
        alarms_before: int,
    ) -> FaultRun:
        result = view.result
        assert result is not None
        time.sleep(LAND_AFTER_S)
        alarms = self._alarms()
        ours = [a for a in alarms if a.get("runId") == view.run_id]
        result_at = view.started_at + timedelta(seconds=result.duration_s)
        last_end = phases[-1].ended_at if phases else None
        return FaultRun(
            kind,
            trigger,
            result.outcome.value,
            result.fault.value,
            result.reason,
            any(a.get("alarmType") == "weightNotRising" for a in ours),
            tuple(str(a.get("alarmType")) for a in alarms[alarms_before:]),
            self.bench.beaker_liquid_g(),
            None if trigger_at is None else (result_at - trigger_at).total_seconds(),
            None
            if trigger_at is None or last_end is None
            else (last_end - trigger_at).total_seconds(),
            observed_s,
            result.duration_s,
        )


def run_rig(flow_ml_min: float, runs: int, doses: int = 3) -> RigFigures:
    """One rig's whole programme at ``flow_ml_min`` (ml/min) in a fresh daemon: ``runs``
    dispenses of 50 g by weight, ``doses`` doses of 50 ml by volume, then an empty
    reservoir and a blocked tube. The daemon is always stopped."""
    figures = RigFigures(flow_ml_min)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="weigh-bench-") as data_dir:
        rig = WeighBenchRig(Path(data_dir))
        try:
            rig.start()
            steps: list[Callable[[], None]] = [
                *(lambda: figures.runs.append(rig.weigh(flow_ml_min)) for _ in range(runs)),
                *(
                    lambda: figures.doses.append(rig.dose_by_volume(flow_ml_min))
                    for _ in range(doses)
                ),
                lambda: figures.faults.append(rig.empty_reservoir(flow_ml_min)),
                lambda: figures.faults.append(rig.blocked_tube(flow_ml_min)),
            ]
            for step in steps:
                try:
                    step()
                except Exception:
                    figures.errors.append(traceback.format_exc())
                    if len(figures.errors) >= 3:
                        break
        except Exception:
            figures.errors.append(traceback.format_exc())
        finally:
            rig.stop()
    figures.wall_s = time.monotonic() - began
    return figures


def spread(values: list[float]) -> float:
    """Sample standard deviation, 0 for fewer than two values."""
    return statistics.stdev(values) if len(values) > 1 else 0.0
