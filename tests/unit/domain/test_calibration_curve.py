"""Multi-point calibration: calibration points, the piecewise-linear curve over the flow
rate, clamping outside its end points, re-measurement and leave-one-out residuals."""

from __future__ import annotations

import math

import pytest

from domain.calibration import (
    MAX_POINTS,
    Calibration,
    CalibrationCurve,
    CalibrationPoint,
    PointResidual,
)
from domain.errors import InvalidCalibration

SLOW, MID, FAST = (
    CalibrationPoint(10.0, 0.05),
    CalibrationPoint(20.0, 0.04),
    CalibrationPoint(40.0, 0.036),
)


def test_a_calibration_point_keeps_its_flow_rate_and_ml_per_mm_as_floats() -> None:
    point = CalibrationPoint(10, 0.05)

    assert point.flow_rate_ml_min == 10.0
    assert isinstance(point.flow_rate_ml_min, float)
    assert point.ml_per_mm == 0.05


@pytest.mark.parametrize("flow", [0.0, -1.0, math.nan, math.inf, True, "10"])
def test_a_point_refuses_a_flow_rate_that_is_not_a_finite_positive_number(flow: object) -> None:
    with pytest.raises(InvalidCalibration) as refused:
        CalibrationPoint(flow, 0.05)  # type: ignore[arg-type]
    assert refused.value.field == "flowRate"


@pytest.mark.parametrize("ml_per_mm", [0.0, -0.05, math.nan, -math.inf, False])
def test_a_point_refuses_ml_per_mm_that_is_not_a_finite_positive_number(
    ml_per_mm: object,
) -> None:
    with pytest.raises(InvalidCalibration) as refused:
        CalibrationPoint(10.0, ml_per_mm)  # type: ignore[arg-type]
    assert refused.value.field == "mlPerMm"


def test_a_curve_sorts_its_points_by_flow_rate() -> None:
    curve = CalibrationCurve.of([FAST, SLOW, MID])

    assert curve.points == (SLOW, MID, FAST)


def test_two_points_interpolate_linearly_between_them() -> None:
    curve = CalibrationCurve.of([SLOW, MID])

    assert curve.ml_per_mm_at(15.0) == pytest.approx(0.045)
    assert curve.ml_per_mm_at(12.5) == pytest.approx(0.0475)
    assert curve.ml_per_mm_at(20.0) == pytest.approx(0.04)


def test_three_points_interpolate_within_the_segment_around_the_flow_rate() -> None:
    curve = CalibrationCurve.of([SLOW, MID, FAST])

    assert curve.ml_per_mm_at(15.0) == pytest.approx(0.045)
    assert curve.ml_per_mm_at(30.0) == pytest.approx(0.038)
    assert curve.ml_per_mm_at(35.0) == pytest.approx(0.037)


def test_below_the_slowest_point_the_curve_holds_its_value() -> None:
    curve = CalibrationCurve.of([SLOW, MID, FAST])

    assert curve.ml_per_mm_at(10.0) == 0.05
    assert curve.ml_per_mm_at(1.0) == 0.05
    assert curve.ml_per_mm_at(0.0) == 0.05


def test_above_the_fastest_point_the_curve_holds_its_value() -> None:
    curve = CalibrationCurve.of([SLOW, MID, FAST])

    assert curve.ml_per_mm_at(40.0) == 0.036
    assert curve.ml_per_mm_at(500.0) == 0.036
    assert curve.ml_per_mm_at(math.inf) == 0.036


def test_a_single_point_curve_is_constant() -> None:
    curve = CalibrationCurve.of([MID])

    assert curve.ml_per_mm_at(1.0) == curve.ml_per_mm_at(100.0) == 0.04


def test_a_nan_flow_rate_is_refused() -> None:
    with pytest.raises(InvalidCalibration) as refused:
        CalibrationCurve.of([SLOW, MID]).ml_per_mm_at(math.nan)
    assert refused.value.field == "flowRate"


def test_at_gives_the_linear_calibration_for_a_dose_at_that_flow_rate() -> None:
    calibration = CalibrationCurve.of([SLOW, MID]).at(15.0)

    assert isinstance(calibration, Calibration)
    assert calibration.ml_per_mm == pytest.approx(0.045)
    assert calibration.distance_mm(0.9) == pytest.approx(20.0)


def test_a_curve_needs_a_point() -> None:
    with pytest.raises(InvalidCalibration) as refused:
        CalibrationCurve.of([])
    assert refused.value.field == "points"


def test_a_curve_holds_at_most_32_points() -> None:
    points = [CalibrationPoint(float(n), 0.05) for n in range(1, MAX_POINTS + 2)]

    assert len(CalibrationCurve.of(points[:MAX_POINTS]).points) == 32
    with pytest.raises(InvalidCalibration, match="at most 32 points") as refused:
        CalibrationCurve.of(points)
    assert refused.value.field == "points"


def test_two_points_within_one_percent_of_flow_rate_are_refused() -> None:
    with pytest.raises(InvalidCalibration, match="within 1 %") as refused:
        CalibrationCurve.of([CalibrationPoint(10.0, 0.05), CalibrationPoint(10.09, 0.049)])
    assert refused.value.field == "flowRate"


def test_points_just_over_one_percent_apart_are_kept() -> None:
    curve = CalibrationCurve.of([CalibrationPoint(10.0, 0.05), CalibrationPoint(10.2, 0.049)])

    assert len(curve.points) == 2


def test_with_point_adds_a_point_at_a_new_flow_rate() -> None:
    curve = CalibrationCurve.of([SLOW, FAST])

    assert curve.with_point(MID).points == (SLOW, MID, FAST)
    assert curve.points == (SLOW, FAST)  # the original is unchanged


def test_with_point_replaces_the_point_within_one_percent_of_its_flow_rate() -> None:
    remeasured = CalibrationPoint(20.1, 0.042)

    curve = CalibrationCurve.of([SLOW, MID, FAST]).with_point(remeasured)

    assert curve.points == (SLOW, remeasured, FAST)


def test_with_point_refuses_a_33rd_point() -> None:
    curve = CalibrationCurve.of([CalibrationPoint(float(n), 0.05) for n in range(1, 33)])

    with pytest.raises(InvalidCalibration):
        curve.with_point(CalibrationPoint(100.0, 0.05))


def test_a_single_point_has_no_residual() -> None:
    assert CalibrationCurve.of([MID]).residuals() == [PointResidual(MID, None, None)]


def test_residuals_predict_each_point_from_the_others() -> None:
    residuals = CalibrationCurve.of([SLOW, MID, FAST]).residuals()

    assert [r.point for r in residuals] == [SLOW, MID, FAST]
    # SLOW from MID and FAST: clamped to MID's 0.04 -> (0.05 - 0.04) / 0.04 = +25 %
    assert residuals[0].predicted_ml_per_mm == pytest.approx(0.04)
    assert residuals[0].residual_percent == pytest.approx(25.0)
    # MID from SLOW and FAST: 0.05 + (20 - 10) / 30 * (0.036 - 0.05) = 0.045333...
    assert residuals[1].predicted_ml_per_mm == pytest.approx(0.0453333333)
    assert residuals[1].residual_percent == pytest.approx(-11.7647059)
    # FAST from SLOW and MID: clamped to 0.04 -> (0.036 - 0.04) / 0.04 = -10 %
    assert residuals[2].predicted_ml_per_mm == pytest.approx(0.04)
    assert residuals[2].residual_percent == pytest.approx(-10.0)


def test_two_points_predict_each_other_as_constants() -> None:
    residuals = CalibrationCurve.of([SLOW, MID]).residuals()

    assert [r.residual_percent for r in residuals] == [pytest.approx(25.0), pytest.approx(-20.0)]
