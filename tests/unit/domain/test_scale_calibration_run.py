"""Calibration from the scale, pure: the plan's rules and how one weighed move becomes a
calibration point."""

from __future__ import annotations

import math

import pytest

from domain.errors import InvalidCalibration
from domain.gravimetric import TareScale
from domain.scale import ReadingStatus, ScaleReading
from domain.scale_calibration import CalibrationPhase, ScaleCalibrationPlan, ScaleCalibrationRun


def stable(grams: float, at_s: float) -> ScaleReading:
    return ScaleReading(grams, ReadingStatus.STABLE, at_s)


def test_a_weighed_move_becomes_a_point_at_the_flow_rate_it_really_ran() -> None:
    plan = ScaleCalibrationPlan("X", (90.0, 30.0), 5.0, density_g_ml=1.25)
    run = ScaleCalibrationRun(plan, [0.05, 0.05])
    assert plan.flow_rates_ml_min == (30.0, 90.0)
    assert isinstance(run.observe(stable(50.0, 0.0), 0.0), TareScale)
    move = run.tared()
    assert (move.distance_mm, move.feed_mm_min) == pytest.approx((100.0, 600.0))
    run.move_ended(True, 10.0)
    assert run.observe(stable(6.5, 10.5), 10.5) is None  # too soon: drops still land
    run.observe(stable(6.5, 11.2), 11.2)
    point = run.points[0]
    assert point.volume_ml == pytest.approx(5.2)  # 6.5 g / 1.25 g/ml
    assert point.point.ml_per_mm == pytest.approx(0.052)
    assert point.point.flow_rate_ml_min == pytest.approx(0.052 * 600.0)
    assert run.phase is CalibrationPhase.TARING  # the next point


def test_the_run_is_done_after_its_last_point() -> None:
    run = ScaleCalibrationRun(ScaleCalibrationPlan("X", (30.0,), 5.0, 1.0), [0.05])
    run.observe(stable(0.0, 0.0), 0.0)
    run.tared()
    run.move_ended(True, 1.0)
    run.observe(stable(5.1, 3.0), 3.0)
    assert run.phase is CalibrationPhase.DONE and len(run.points) == 1


@pytest.mark.parametrize(
    ("complete", "reading", "reason"),
    [
        (False, stable(1.0, 3.0), "did not complete"),
        (True, stable(0.0, 3.0), "nothing arrived"),
        (True, ScaleReading(math.nan, ReadingStatus.OVERLOAD, 3.0), "overload"),
    ],
)
def test_a_move_cut_short_nothing_arriving_or_an_overload_aborts(
    complete: bool, reading: ScaleReading, reason: str
) -> None:
    run = ScaleCalibrationRun(ScaleCalibrationPlan("X", (30.0,), 5.0, 1.0), [0.05])
    run.observe(stable(0.0, 0.0), 0.0)
    run.tared()
    run.move_ended(complete, 1.0, "stopped")
    run.observe(reading, 3.0)
    assert run.phase is CalibrationPhase.ABORTED and reason in run.reason
    assert run.points == []


def test_a_weight_that_never_settles_aborts_after_the_timeout() -> None:
    plan = ScaleCalibrationPlan("X", (30.0,), 5.0, 1.0, settle_timeout_s=2.0)
    run = ScaleCalibrationRun(plan, [0.05])
    run.observe(stable(0.0, 0.0), 0.0)
    run.tared()
    run.move_ended(True, 1.0)
    run.observe(ScaleReading(4.0, ReadingStatus.DYNAMIC, 3.5), 3.5)
    assert run.phase is CalibrationPhase.ABORTED and "did not settle" in run.reason


@pytest.mark.parametrize(
    ("rates", "volume", "field"),
    [
        ((), 5.0, "flowRates"),
        ((30.0, 0.0), 5.0, "flowRates"),
        ((math.nan,), 5.0, "flowRates"),
        (tuple(float(r) for r in range(1, 10)), 5.0, "flowRates"),
        ((30.0,), 0.5, "volume"),  # under 100 steps of 0.01 g
    ],
)
def test_a_plan_out_of_range_is_refused_naming_the_field(
    rates: tuple[float, ...], volume: float, field: str
) -> None:
    with pytest.raises(InvalidCalibration) as caught:
        ScaleCalibrationPlan("X", rates, volume, 1.0)
    assert caught.value.field == field
