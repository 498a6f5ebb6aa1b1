"""The weighing cell behind the MT-SICS simulator: settling, noise, rounding, stability,
zero point and tare register, advanced on explicit times (no sleeping)."""

from __future__ import annotations

import math
import statistics

from adapters.sim.mt_sics_cell import ScaleConfig, WeighingCell


class Pan:
    def __init__(self, grams: float = 0.0) -> None:
        self.grams = grams

    def __call__(self, _t: float) -> float:
        return self.grams


def cell_on(pan: Pan, **config: object) -> WeighingCell:
    cell = WeighingCell(ScaleConfig(**config), pan)  # type: ignore[arg-type]
    cell.advance(0.0)  # power-up
    return cell


def test_the_display_follows_a_new_load_with_the_filters_time_constant() -> None:
    pan = Pan()
    cell = cell_on(pan, noise_g=0.0, settling_time_s=0.15)
    cell.advance(1.0)
    pan.grams = 100.0
    cell.advance(1.15)
    assert abs(cell.sample().net_g - 100 * (1 - math.exp(-1))) < 2.0
    assert not cell.sample().stable
    cell.advance(3.0)
    assert cell.sample().net_g == 100.0 and cell.sample().stable


def test_stability_needs_every_value_of_the_window_within_the_band() -> None:
    pan = Pan()
    cell = cell_on(pan, noise_g=0.0, settling_time_s=0.0, stability_window_s=0.3)
    cell.advance(1.0)
    assert cell.sample().stable
    pan.grams = 10.0
    cell.advance(1.2)
    assert (cell.sample().net_g, cell.sample().stable) == (10.0, False)
    cell.advance(1.35)
    assert cell.sample().stable


def test_a_band_wider_than_the_wobble_calls_it_stable() -> None:
    wobbling = WeighingCell(
        ScaleConfig(noise_g=0.0, stability_band_g=0.5), lambda t: 5 + 0.1 * math.sin(t * 9)
    )
    wobbling.advance(0.0)
    wobbling.advance(2.0)
    assert wobbling.sample().stable


def test_noise_stays_within_bounds_and_every_value_is_rounded_to_the_resolution() -> None:
    cell = cell_on(Pan(50.0), resolution_g=0.001, noise_g=0.004)
    values = []
    for step in range(1, 301):
        cell.advance(step * 0.01)
        values.append(cell.sample().net_g)
    assert all(v == round(v, 3) for v in values)
    assert max(abs(v - 50.0) for v in values) <= 0.02  # 5 standard deviations
    assert 0.002 < statistics.pstdev(values) < 0.006


def test_the_same_seed_gives_the_same_values_and_another_seed_others() -> None:
    def values(seed: int) -> list[float]:
        cell = cell_on(Pan(20.0), resolution_g=0.001, noise_g=0.004, seed=seed)
        out = []
        for step in range(1, 51):
            cell.advance(step * 0.01)
            out.append(cell.sample().net_g)
        return out

    assert values(7) == values(7)
    assert values(7) != values(8)


def test_above_capacity_is_overload_and_below_the_margin_underload() -> None:
    pan = Pan(230.0)
    cell = cell_on(pan, capacity_g=220.0, underload_g=2.0)
    assert cell.sample().overload
    pan.grams = -1.0
    cell.advance(2.0)
    assert not (cell.sample().overload or cell.sample().underload)
    pan.grams = -5.0
    cell.advance(4.0)
    assert cell.sample().underload


def test_tare_stores_the_displayed_gross_and_the_net_is_measured_from_it() -> None:
    pan = Pan(35.21)
    cell = cell_on(pan, noise_g=0.0)
    assert cell.tare() == 35.21
    pan.grams = 45.21
    cell.advance(2.0)
    assert (cell.sample().gross_g, cell.sample().net_g) == (45.21, 10.0)


def test_zero_moves_the_zero_point_clears_the_tare_and_keeps_stability() -> None:
    pan = Pan(8.0)
    cell = cell_on(pan, noise_g=0.0)
    cell.advance(1.0)
    cell.tare()
    cell.zero()
    assert (cell.sample().gross_g, cell.tare_g, cell.sample().stable) == (0.0, 0.0, True)
    pan.grams = 9.0
    cell.advance(3.0)
    assert cell.sample().net_g == 1.0


def test_a_long_gap_in_time_only_runs_what_can_still_show() -> None:
    pan = Pan(12.0)
    cell = cell_on(pan, noise_g=0.0)
    pan.grams = 3.0
    cell.advance(1e6)  # returns at once: a few hundred samples, not a hundred million
    assert (cell.sample().net_g, cell.sample().stable) == (3.0, True)
