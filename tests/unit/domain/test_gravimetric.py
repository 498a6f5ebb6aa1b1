"""The gravimetric controller against a small plant: a pump pouring through a tube with a
drip delay and in-flight lag onto a scale with a resolution, noise and a stability flag."""

from __future__ import annotations

import math
import random
from collections import deque

import pytest

from domain.errors import InvalidDose
from domain.gravimetric import GravimetricDispense, StartFlow, StopFlow, TareScale, WeighPhase
from domain.scale import ReadingStatus, ScaleReading
from domain.weighing import WeighOutcome, WeighPlan, learn_inflight

TICK_S = 0.05


class Plant:
    """Pump -> tube (dead time, first-order lag) -> pan; readings every tick."""

    def __init__(self, *, true_factor: float = 1.0, delay_s: float = 0.3, lag_s: float = 0.2,
                 noise_g: float = 0.002, seed: int = 1) -> None:
        self.true_factor, self.delay_s, self.lag_s = true_factor, delay_s, lag_s
        self.noise_g, self.rng = noise_g, random.Random(seed)
        self.now = 0.0
        self.pumped_ml = 0.0  # cumulative, true
        self.history: deque[tuple[float, float]] = deque([(0.0, 0.0)])
        self.lagged_ml = 0.0
        self.tare_g = 0.0
        self.flow: StartFlow | None = None
        self.moved_ml = 0.0  # nominal volume of the running phase
        self.liquid = True
        self.recent: deque[float] = deque(maxlen=7)
        self.lifted = False

    def step(self) -> None:
        self.now += TICK_S
        if self.flow is not None:
            nominal = self.flow.flow_rate_ml_min / 60 * TICK_S
            nominal = min(nominal, self.flow.volume_ml - self.moved_ml)
            self.moved_ml += nominal
            if self.liquid:
                self.pumped_ml += nominal * self.true_factor
            if self.moved_ml >= self.flow.volume_ml - 1e-12:
                self.flow = None
        self.history.append((self.now, self.pumped_ml))
        delayed = next(v for t, v in reversed(self.history) if t <= self.now - self.delay_s) \
            if self.history[0][0] <= self.now - self.delay_s else 0.0
        self.lagged_ml += (delayed - self.lagged_ml) * (1 - math.exp(-TICK_S / self.lag_s))

    def reading(self) -> ScaleReading:
        gross = -40.0 if self.lifted else self.lagged_ml + self.rng.gauss(0, self.noise_g)
        shown = round((gross - self.tare_g) / 0.01) * 0.01
        self.recent.append(shown)
        stable = max(self.recent) - min(self.recent) <= 0.0100001 and len(self.recent) == 7
        status = ReadingStatus.STABLE if stable else ReadingStatus.DYNAMIC
        return ScaleReading(shown, status, self.now)


def plan(target_g: float = 50.0, **kw: float) -> WeighPlan:
    values = {"tolerance_g": 0.05, "density_g_ml": 1.0, "fast_flow_ml_min": 100.0,
              "slow_flow_ml_min": 10.0} | kw
    return WeighPlan("X", target_g, **values)  # type: ignore[arg-type]


def run(dispense: GravimetricDispense, plant: Plant, *, limit_s: float = 200.0,
        fault_at_s: float | None = None) -> None:
    while dispense.result is None and plant.now < limit_s:
        if fault_at_s is not None and plant.now >= fault_at_s:
            plant.liquid = False
        plant.step()
        action = dispense.observe(plant.reading(), plant.now)
        if isinstance(action, TareScale):
            plant.tare_g = plant.lagged_ml
            plant.recent.clear()
            dispense.tared(plant.now)
        elif isinstance(action, StartFlow):
            plant.flow, plant.moved_ml = action, 0.0
            dispense.flow_started(plant.now)
        elif isinstance(action, StopFlow):
            plant.flow = None
        if dispense.flowing and plant.flow is None:
            dispense.flow_ended(plant.moved_ml, plant.now)


def test_a_50_g_target_settles_within_the_tolerance_and_learns_the_in_flight_time() -> None:
    plant = Plant()
    dispense = GravimetricDispense(plan(), 0.0)
    run(dispense, plant)
    assert dispense.result is not None
    assert dispense.result.outcome is WeighOutcome.COMPLETED
    assert abs(dispense.result.error_g) <= 0.05
    assert abs(plant.lagged_ml - 50.0) <= 0.05
    assert dispense.observed_inflight_s is not None and 0.2 < dispense.observed_inflight_s < 1.5


@pytest.mark.parametrize("true_factor", [0.9, 1.1])
def test_a_pump_off_its_calibration_still_lands_on_the_target(true_factor: float) -> None:
    plant = Plant(true_factor=true_factor)
    dispense = GravimetricDispense(plan(), 0.0)
    run(dispense, plant)
    assert dispense.result is not None and dispense.result.outcome is WeighOutcome.COMPLETED
    assert abs(plant.lagged_ml - 50.0) <= 0.05


def test_a_learned_in_flight_time_makes_the_next_dispense_stop_closer() -> None:
    first = GravimetricDispense(plan(inflight_s=0.0), 0.0)
    run(first, Plant())
    assert first.observed_inflight_s is not None
    learned = learn_inflight(0.0, first.observed_inflight_s)
    learned = learn_inflight(learned, first.observed_inflight_s)
    second = GravimetricDispense(plan(inflight_s=learned), 0.0)
    run(second, Plant(seed=2))
    assert second.result is not None and second.result.outcome is WeighOutcome.COMPLETED
    assert second.topups <= first.topups


def test_a_small_target_skips_the_fast_phase() -> None:
    dispense = GravimetricDispense(plan(0.5), 0.0)
    phases = []
    plant = Plant()
    while dispense.result is None and plant.now < 60:
        plant.step()
        action = dispense.observe(plant.reading(), plant.now)
        if isinstance(action, TareScale):
            dispense.tared(plant.now)
        elif isinstance(action, StartFlow):
            phases.append(action.phase)
            plant.flow, plant.moved_ml = action, 0.0
            dispense.flow_started(plant.now)
        elif isinstance(action, StopFlow):
            plant.flow = None
        if dispense.flowing and plant.flow is None:
            dispense.flow_ended(plant.moved_ml, plant.now)
    assert WeighPhase.FAST not in phases and phases[0] is WeighPhase.DRIBBLE
    assert dispense.result is not None and abs(dispense.result.error_g) <= 0.05


@pytest.mark.parametrize("fault_at_s", [0.0, 10.0])
def test_nothing_arriving_while_pumping_aborts_within_three_seconds(fault_at_s: float) -> None:
    plant = Plant()
    dispense = GravimetricDispense(plan(), 0.0)
    run(dispense, plant, fault_at_s=fault_at_s)
    assert dispense.result is not None
    assert dispense.result.outcome is WeighOutcome.ABORTED
    assert "reservoir empty or tube blocked" in dispense.result.reason
    assert plant.now - max(fault_at_s, 0.5) <= 3.0  # 0.5 s: tare before the pump starts
    assert plant.flow is None


def test_a_lifted_beaker_aborts_the_dispense() -> None:
    plant = Plant()
    dispense = GravimetricDispense(plan(), 0.0)
    while dispense.result is None and plant.now < 60:
        if plant.now > 5:
            plant.lifted = True
        plant.step()
        action = dispense.observe(plant.reading(), plant.now)
        if isinstance(action, TareScale):
            dispense.tared(plant.now)
        elif isinstance(action, StartFlow):
            plant.flow, plant.moved_ml = action, 0.0
            dispense.flow_started(plant.now)
    assert dispense.result is not None and dispense.result.outcome is WeighOutcome.ABORTED
    assert "fell" in dispense.result.reason


def test_an_overloaded_scale_aborts_and_stops_the_pump() -> None:
    dispense = GravimetricDispense(plan(), 0.0)
    dispense.observe(ScaleReading(0.0, ReadingStatus.STABLE, 0.0), 0.0)
    dispense.tared(0.0)
    assert isinstance(dispense.observe(ScaleReading(0.0, ReadingStatus.DYNAMIC, 0.1), 0.1),
                      StartFlow)
    dispense.flow_started(0.1)
    action = dispense.observe(ScaleReading(math.nan, ReadingStatus.OVERLOAD, 0.2), 0.2)
    assert isinstance(action, StopFlow)
    assert dispense.phase is WeighPhase.ABORTED
    assert dispense.result is not None and "overload" in dispense.result.reason


def test_a_weight_that_never_settles_aborts_after_the_settle_timeout() -> None:
    dispense = GravimetricDispense(plan(settle_timeout_s=2.0), 0.0)
    dispense.observe(ScaleReading(0.0, ReadingStatus.STABLE, 0.0), 0.0)
    dispense.tared(0.0)
    dispense.observe(ScaleReading(0.0, ReadingStatus.DYNAMIC, 0.1), 0.1)
    dispense.flow_started(0.1)
    dispense.flow_ended(10.0, 5.0)
    now = 5.0
    while dispense.result is None and now < 10:
        now += TICK_S
        dispense.observe(ScaleReading(10.0, ReadingStatus.DYNAMIC, now), now)
    assert dispense.result is not None and "did not settle" in dispense.result.reason
    assert now == pytest.approx(7.05, abs=0.1)


def test_an_abort_from_outside_ends_the_dispense_with_the_last_reading() -> None:
    dispense = GravimetricDispense(plan(), 0.0)
    dispense.observe(ScaleReading(0.0, ReadingStatus.STABLE, 0.0), 0.0)
    dispense.tared(0.0)
    dispense.observe(ScaleReading(12.5, ReadingStatus.DYNAMIC, 1.0), 1.0)
    dispense.abort("emergency stop", 1.0)
    assert dispense.result is not None
    assert (dispense.result.outcome, dispense.result.actual_g) == (WeighOutcome.ABORTED, 12.5)
    assert dispense.observe(ScaleReading(13.0, ReadingStatus.DYNAMIC, 1.1), 1.1) is None


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"target_g": 0.0}, "targetGrams"), ({"target_g": math.inf}, "targetGrams"),
     ({"tolerance_g": -1.0}, "tolerance"), ({"tolerance_g": 60.0}, "tolerance"),
     ({"slow_flow_ml_min": 200.0}, "flowRate")],
)
def test_a_plan_out_of_range_is_refused_naming_the_field(kw: dict[str, float], field: str) -> None:
    values = {"target_g": 50.0, "tolerance_g": 0.05, "density_g_ml": 1.0,
              "fast_flow_ml_min": 100.0, "slow_flow_ml_min": 10.0} | kw
    with pytest.raises(InvalidDose) as caught:
        WeighPlan("X", **values)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_learning_the_in_flight_time_averages_and_clamps() -> None:
    assert learn_inflight(0.6, 1.0) == pytest.approx(0.8)
    assert learn_inflight(0.6, 100.0) == pytest.approx(2.8)
    assert learn_inflight(0.6, -3.0) == pytest.approx(0.3)
    assert learn_inflight(0.6, math.nan) == 0.6
