"""The in-memory fake scale on a manual clock: resolution, settling, stability, tare, faults."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.fakes.scale import FakeScale
from adapters.fakes.storage import ManualClock
from domain.errors import ScaleFault, ScaleUnavailable
from domain.scale import ReadingStatus


class Pan:
    """What lies on the pan (g): ``grams`` now, or ``rising_g_per_s`` added per second."""

    def __init__(self, grams: float, rising_g_per_s: float = 0.0) -> None:
        self.grams = grams
        self.rising_g_per_s = rising_g_per_s

    def __call__(self, now: float) -> float:
        return self.grams + self.rising_g_per_s * now


def opened(
    load: Callable[[float], float], noise_g: float = 0.0, seed: int = 0
) -> tuple[FakeScale, ManualClock]:
    clock = ManualClock(datetime(2025, 3, 1, tzinfo=UTC))
    scale = FakeScale(load, clock.monotonic, sleep=clock.sleep, noise_g=noise_g, seed=seed)
    scale.open()
    return scale, clock


def test_readings_are_rounded_to_the_resolution() -> None:
    scale, _ = opened(Pan(123.4567))
    assert scale.latest().grams == 123.46


def test_a_steady_load_reads_stable_once_the_stability_window_is_covered() -> None:
    scale, clock = opened(Pan(80.0))
    assert scale.latest().status is ReadingStatus.DYNAMIC
    clock.advance(0.3)
    assert scale.latest().stable


def test_a_rising_load_reads_dynamic() -> None:
    scale, clock = opened(Pan(80.0, rising_g_per_s=1.0))
    clock.advance(2.0)
    assert scale.latest().status is ReadingStatus.DYNAMIC


def test_a_load_step_settles_with_the_time_constant() -> None:
    pan = Pan(0.0)
    scale, clock = opened(lambda now: pan(now) if now < 0.975 else 100.0)
    clock.advance(1.05)  # two measurements (at 1.00 s and 1.05 s) since the step: 0.1 s
    assert scale.latest().grams == pytest.approx(100.0 * (1 - math.exp(-1)), abs=0.01)


def test_tare_makes_readings_net() -> None:
    pan = Pan(50.0)
    scale, clock = opened(pan)
    assert scale.tare(timeout_s=2.0) == 50.0
    pan.grams = 55.0
    clock.advance(1.0)
    assert scale.latest().grams == 5.0
    assert scale.tares == 1


def test_tare_waits_for_a_stable_weight_by_sleeping_on_the_clock() -> None:
    scale, clock = opened(Pan(50.0))
    scale.tare(timeout_s=2.0)
    assert 0.3 <= clock.monotonic() <= 0.35


def test_tare_on_a_rising_load_times_out_as_unstable() -> None:
    scale, clock = opened(Pan(50.0, rising_g_per_s=2.0))
    with pytest.raises(ScaleFault) as refused:
        scale.tare(timeout_s=2.0)
    assert refused.value.reason == "unstable"
    assert clock.monotonic() >= 2.0
    assert scale.tares == 0


def test_zero_takes_the_load_as_zero_and_clears_the_tare() -> None:
    pan = Pan(50.0)
    scale, clock = opened(pan)
    scale.tare(timeout_s=2.0)
    pan.grams = 60.0
    clock.advance(1.0)
    scale.zero(timeout_s=2.0)
    assert (scale.latest().grams, scale.tare_g, scale.zeros) == (0.0, 0.0, 1)


def test_an_overloaded_scale_reads_nan_and_refuses_to_tare() -> None:
    scale, _ = opened(Pan(2500.0))
    reading = scale.latest()
    assert reading.status is ReadingStatus.OVERLOAD
    assert math.isnan(reading.grams)
    with pytest.raises(ScaleFault) as refused:
        scale.tare(timeout_s=1.0)
    assert refused.value.reason == "overload"


def test_a_pan_lifted_below_the_zero_reads_underload() -> None:
    pan = Pan(50.0)
    scale, clock = opened(pan)
    scale.zero(timeout_s=2.0)
    pan.grams = 0.0
    clock.advance(1.0)
    assert scale.latest().status is ReadingStatus.UNDERLOAD


def test_an_unplugged_scale_is_unavailable_until_plugged_back() -> None:
    scale, clock = opened(Pan(50.0))
    scale.unplug()
    with pytest.raises(ScaleUnavailable):
        scale.latest()
    with pytest.raises(ScaleUnavailable):
        scale.tare(timeout_s=1.0)
    scale.plug()
    clock.advance(0.5)
    assert scale.latest().grams == 50.0


def test_a_silent_scale_goes_stale_after_one_second() -> None:
    scale, clock = opened(Pan(50.0))
    scale.fall_silent()
    clock.advance(0.9)
    assert scale.latest().at_s == 0.0
    clock.advance(0.2)
    with pytest.raises(ScaleUnavailable):
        scale.latest()
    scale.resume()
    assert scale.latest().at_s == pytest.approx(1.1)


def test_a_closed_scale_is_unavailable() -> None:
    scale, _ = opened(Pan(50.0))
    scale.close()
    with pytest.raises(ScaleUnavailable):
        scale.latest()


def test_seeded_noise_repeats_reading_for_reading() -> None:
    def readings() -> list[float]:
        scale, clock = opened(Pan(50.0), noise_g=0.05, seed=7)
        values = []
        for _ in range(10):
            clock.advance(0.05)
            values.append(scale.latest().grams)
        return values

    first = readings()
    assert first == readings()
    assert len(set(first)) > 1
