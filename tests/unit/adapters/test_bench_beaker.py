"""The simulated dosing bench on a manual clock: pump travel becomes mass on the scale pan."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest

from adapters.sim.bench import DosingBench
from adapters.sim.bench_tube import PumpLine

TARE_G = 50.0
EXACT = PumpLine(ml_per_mm_at_rest=0.05, loss_per_100_mm_min=0.0)


class Clock:
    """A monotonic clock that moves only when the test sets ``now`` (s)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedAxes:
    """Axis positions (mm) as straight moves on the clock: ``move(axis, start_s, end_s,
    distance_mm)``; a move with no duration is a jump. ``reads`` counts samples taken."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.moves: list[tuple[str, float, float, float]] = []
        self.reads = 0

    def move(self, axis: str, start_s: float, end_s: float, distance_mm: float) -> None:
        self.moves.append((axis, start_s, end_s, distance_mm))

    def __call__(self) -> dict[str, float]:
        self.reads += 1
        t = self.clock.now
        positions = dict.fromkeys("XYZA", 0.0)
        for axis, start, end, distance in self.moves:
            done = 1.0 if t >= end else max(0.0, (t - start) / (end - start))
            positions[axis] += distance * done
        return positions


def bench_with(line: PumpLine = EXACT, **beaker: float) -> tuple[DosingBench, Clock, ScriptedAxes]:
    clock = Clock()
    axes = ScriptedAxes(clock)
    return DosingBench(axes, clock, {"X": line}, beaker_tare_g=TARE_G, **beaker), clock, axes


def run(bench: DosingBench, clock: Clock, times: Iterable[float]) -> None:
    """Let the clock reach each time (s) and sample the positions there."""
    for t in times:
        clock.now = t
        bench.sample()


def every(step_s: float, until_s: float, start_s: float = 0.0) -> list[float]:
    return [start_s + i * step_s for i in range(1, round((until_s - start_s) / step_s) + 1)]


def test_volume_times_density_arrives_after_the_drip_delay() -> None:
    line = PumpLine(
        ml_per_mm_at_rest=0.05,
        loss_per_100_mm_min=0.0,
        density_g_per_ml=1.2,
        drip_delay_s=0.3,
        inflight_lag_s=0.0,
    )
    bench, clock, axes = bench_with(line)
    axes.move("X", 0.0, 1.0, 100.0)  # 5 ml in 1 s
    run(bench, clock, every(0.01, 0.3))
    assert bench.load_g(0.3) == pytest.approx(TARE_G)
    run(bench, clock, every(0.01, 0.8, start_s=0.3))
    assert bench.load_g(0.8) == pytest.approx(TARE_G + 2.5 * 1.2)
    run(bench, clock, every(0.01, 1.5, start_s=0.8))
    assert bench.poured_ml("X") == pytest.approx(5.0)
    assert bench.load_g(1.5) == pytest.approx(TARE_G + 6.0)


def test_liquid_in_flight_reaches_63_percent_after_one_time_constant() -> None:
    line = PumpLine(
        ml_per_mm_at_rest=0.05, loss_per_100_mm_min=0.0, drip_delay_s=0.3, inflight_lag_s=0.2
    )
    bench, clock, axes = bench_with(line)
    axes.move("X", 1.0, 1.0001, 100.0)  # practically a step of 5 ml at t = 1 s
    run(bench, clock, [1.0, 1.0001, 1.3])
    assert bench.load_g(1.3) == pytest.approx(TARE_G)
    clock.now = 1.5001
    assert bench.load_g(1.5001) - TARE_G == pytest.approx(5.0 * (1 - math.exp(-1)), rel=1e-3)


def test_a_steady_feed_follows_the_exact_ramp_response_of_the_lag() -> None:
    tau, delay, rate = 0.2, 0.3, 2.5  # s, s, ml/s
    line = PumpLine(
        ml_per_mm_at_rest=0.05, loss_per_100_mm_min=0.0, drip_delay_s=delay, inflight_lag_s=tau
    )
    bench, clock, axes = bench_with(line)
    axes.move("X", 0.0, 4.0, 200.0)
    run(bench, clock, every(0.1, 1.0))
    t = 1.0 - delay
    assert bench.load_g(1.0) - TARE_G == pytest.approx(rate * (t - tau * (1 - math.exp(-t / tau))))


def test_everything_pumped_arrives_eventually() -> None:
    line = PumpLine(density_g_per_ml=1.05, reservoir_ml=8.0)
    bench, clock, axes = bench_with(line)
    axes.move("X", 0.0, 2.0, 60.0)
    axes.move("X", 2.5, 2.6, 15.0)
    axes.move("X", 3.0, 7.0, 120.0)
    run(bench, clock, [0.013, 0.7, 1.9, 2.05, 2.55, 2.61, 3.3, 4.9, 6.2, 7.01])
    assert bench.in_flight_g() > 0
    run(bench, clock, [7.4, 60.0])
    poured_g = bench.poured_ml("X") * 1.05
    assert bench.arrived_g() == pytest.approx(poured_g, abs=1e-9)
    assert bench.in_flight_g() == pytest.approx(0.0, abs=1e-9)
    assert bench.load_g(60.0) == pytest.approx(TARE_G + poured_g, abs=1e-9)


@pytest.mark.parametrize(
    ("feed_mm_min", "ml_per_mm"), [(1000.0, 0.0515 * 0.99), (3000.0, 0.0515 * 0.97)]
)
def test_true_delivery_per_mm_falls_with_feed_as_configured(
    feed_mm_min: float, ml_per_mm: float
) -> None:
    bench, clock, axes = bench_with(PumpLine(ml_per_mm_at_rest=0.0515, loss_per_100_mm_min=0.001))
    duration_s = 100.0 / feed_mm_min * 60.0
    axes.move("X", 0.0, duration_s, 100.0)
    run(bench, clock, [*every(0.1, math.floor(duration_s * 10) / 10), duration_s])
    assert bench.poured_ml("X") == pytest.approx(100.0 * ml_per_mm, rel=1e-12)


def test_an_empty_reservoir_stops_arrivals_but_liquid_in_flight_still_lands() -> None:
    bench, clock, axes = bench_with()
    axes.move("X", 0.0, 4.0, 200.0)  # 2.5 ml/s
    run(bench, clock, every(0.05, 1.0))
    bench.empty_reservoir("X")
    run(bench, clock, every(0.05, 4.0, start_s=1.0))
    assert bench.in_flight_g() > 0
    run(bench, clock, [20.0])
    assert bench.poured_ml("X") == pytest.approx(2.5)
    assert bench.load_g(20.0) == pytest.approx(TARE_G + 2.5, abs=1e-9)


def test_a_reservoir_that_runs_dry_mid_move_delivers_what_it_held_then_air() -> None:
    bench, clock, axes = bench_with(
        PumpLine(ml_per_mm_at_rest=0.05, loss_per_100_mm_min=0.0, reservoir_ml=2.0)
    )
    axes.move("X", 0.0, 2.0, 100.0)
    run(bench, clock, [2.0, 10.0])
    assert bench.reservoir_ml("X") == 0.0
    assert bench.load_g(10.0) == pytest.approx(TARE_G + 2.0, abs=1e-9)
    bench.refill("X", 1.0)
    axes.move("X", 10.0, 12.0, 100.0)
    run(bench, clock, [12.0, 20.0])
    assert bench.load_g(20.0) == pytest.approx(TARE_G + 3.0, abs=1e-9)


def test_a_blocked_tube_moves_nothing_until_unblocked() -> None:
    bench, clock, axes = bench_with()
    axes.move("X", 0.0, 1.0, 20.0)  # 1 ml
    axes.move("X", 2.0, 3.0, 20.0)  # blocked: nothing
    axes.move("X", 4.0, 5.0, 20.0)  # 1 ml
    run(bench, clock, [1.0, 2.0])
    bench.block_tube("X")
    run(bench, clock, [3.0, 4.0])
    bench.unblock_tube("X")
    run(bench, clock, [5.0, 10.0])
    assert bench.load_g(10.0) == pytest.approx(TARE_G + 2.0, abs=1e-9)


def test_backward_travel_sucks_back_and_forward_travel_refills_the_tube_first() -> None:
    bench, clock, axes = bench_with()
    axes.move("X", 0.0, 1.0, 100.0)  # 5 ml out
    axes.move("X", 1.0, 2.0, -20.0)  # 1 ml drawn back into the tube
    axes.move("X", 2.0, 3.0, 40.0)  # 1 ml refills the tube, 1 ml out
    run(bench, clock, [1.0, 2.0, 3.0, 10.0])
    assert bench.load_g(10.0) == pytest.approx(TARE_G + 6.0, abs=1e-9)


def test_a_controller_restart_to_zero_pumps_nothing() -> None:
    bench, clock, axes = bench_with()
    axes.move("X", 0.0, 1.0, 100.0)
    run(bench, clock, [1.0])
    axes.move("X", 1.5, 1.5, -100.0)  # positions restart at 0
    clock.now = 1.5
    bench.controller_restarted()
    axes.move("X", 2.0, 3.0, 20.0)
    run(bench, clock, [3.0, 10.0])
    assert bench.load_g(10.0) == pytest.approx(TARE_G + 6.0, abs=1e-9)


def test_an_empty_beaker_weighs_only_its_tare_and_then_fills_again() -> None:
    bench, clock, axes = bench_with()
    axes.move("X", 0.0, 1.0, 100.0)
    run(bench, clock, [1.0, 10.0])
    bench.empty_beaker()
    assert bench.load_g(10.0) == pytest.approx(TARE_G)
    axes.move("X", 11.0, 12.0, 20.0)
    run(bench, clock, [12.0, 20.0])
    assert bench.load_g(20.0) == pytest.approx(TARE_G + 1.0, abs=1e-9)


def test_a_lifted_beaker_leaves_the_pan_empty_and_what_drips_meanwhile_is_spilled() -> None:
    bench, clock, axes = bench_with()
    axes.move("X", 0.0, 1.0, 20.0)  # 1 ml into the beaker
    axes.move("X", 10.0, 11.0, 20.0)  # 1 ml spilled
    run(bench, clock, [1.0, 10.0])
    bench.place_beaker(False)
    run(bench, clock, [11.0, 20.0])
    assert bench.load_g(20.0) == 0.0
    bench.place_beaker(True)
    assert bench.load_g(20.0) == pytest.approx(TARE_G + 1.0, abs=1e-9)


def test_a_full_beaker_overflows_and_its_mass_stops_rising() -> None:
    bench, clock, axes = bench_with(beaker_capacity_ml=3.0)
    axes.move("X", 0.0, 2.0, 100.0)
    run(bench, clock, every(0.1, 10.0))
    assert bench.load_g(10.0) == pytest.approx(TARE_G + 3.0)
    assert bench.arrived_g() == pytest.approx(5.0)


def _final_load(line: PumpLine, times: list[float]) -> float:
    bench, clock, axes = bench_with(line)
    axes.move("X", 0.5, 2.5, 80.0)
    axes.move("X", 3.0, 3.4, 30.0)
    run(bench, clock, [*times, 30.0])
    return bench.load_g(30.0)


def test_irregular_position_samples_give_the_same_final_mass() -> None:
    regular = _final_load(EXACT, every(0.01, 4.0))
    irregular = _final_load(EXACT, [0.37, 0.52, 1.9, 2.0, 2.71, 3.05, 3.061, 3.9])
    assert irregular == pytest.approx(regular, abs=1e-9)
    assert regular == pytest.approx(TARE_G + 110.0 * 0.05, abs=1e-9)


def test_irregular_samples_that_catch_every_change_of_feed_give_the_same_final_mass() -> None:
    line = PumpLine(ml_per_mm_at_rest=0.0515, loss_per_100_mm_min=0.001)
    regular = _final_load(line, every(0.01, 4.0))
    irregular = _final_load(line, [0.5, 0.61, 1.7, 2.5, 3.0, 3.13, 3.4])
    assert irregular == pytest.approx(regular, abs=1e-9)


def test_a_load_asked_before_any_motion_is_the_beaker_alone() -> None:
    bench, _, axes = bench_with()
    assert bench.load_g(0.0) == TARE_G
    assert axes.reads >= 1


def test_a_load_asked_for_an_earlier_time_is_the_load_at_that_time() -> None:
    weighed, clock, axes = bench_with(PumpLine())
    twin, twin_clock, twin_axes = bench_with(PumpLine())
    for script in (axes, twin_axes):
        script.move("X", 0.0, 20.0, 1000.0)
    for t in every(0.01, 12.0):  # weighed like a scale does, forgetting old history
        clock.now = t
        weighed.load_g(t)
    run(twin, twin_clock, every(0.01, 9.0))
    assert weighed.load_g(9.0) == pytest.approx(twin.load_g(9.0), abs=1e-9)
    assert weighed.load_g(9.0) < weighed.load_g(12.0)
