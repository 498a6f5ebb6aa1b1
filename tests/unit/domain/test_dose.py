"""Dose validation and calibration: user units in, controller units out."""

import math

import pytest

from domain.calibration import Calibration
from domain.dose import Dose, PumpLimits
from domain.errors import InvalidDose

CAL = Calibration(ml_per_mm=0.05)
LIMITS = PumpLimits(max_flow_ml_min=15.0, max_dose_ml=100.0)


def plan(volume: float, flow: float) -> Dose:
    return Dose.plan("dose-1", "X", volume, flow, calibration=CAL, limits=LIMITS)


def test_calibration_converts_ml_to_mm_and_ml_per_min_to_mm_per_min() -> None:
    assert CAL.distance_mm(2.0) == pytest.approx(40.0)
    assert CAL.feed_mm_min(12.0) == pytest.approx(240.0)
    assert CAL.volume_ml(40.0) == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [0.0, -0.05, math.nan, math.inf])
def test_calibration_refuses_non_positive_or_non_finite_ml_per_mm(bad: float) -> None:
    with pytest.raises(ValueError, match="ml_per_mm"):
        Calibration(bad)


def test_a_valid_dose_carries_axis_travel_and_feed() -> None:
    dose = plan(5.0, 12.0)
    assert (dose.distance_mm, dose.feed_mm_min) == (100.0, 240.0)


@pytest.mark.parametrize(
    ("volume", "flow", "field", "code"),
    [
        (0.0, 10.0, "volume", "invalid_dose"),
        (-1.0, 10.0, "volume", "invalid_dose"),
        (math.nan, 10.0, "volume", "invalid_dose"),
        (math.inf, 10.0, "volume", "invalid_dose"),
        (5.0, 0.0, "flowRate", "invalid_dose"),
        (5.0, -3.0, "flowRate", "invalid_dose"),
        (5.0, math.nan, "flowRate", "invalid_dose"),
        (5.0, 15.01, "flowRate", "limit_exceeded"),
        (100.5, 10.0, "volume", "limit_exceeded"),
        (0.00001, 10.0, "volume", "invalid_dose"),
    ],
)
def test_a_dose_breaking_a_rule_is_refused_naming_the_field(
    volume: float, flow: float, field: str, code: str
) -> None:
    with pytest.raises(InvalidDose) as refused:
        plan(volume, flow)
    assert refused.value.field == field
    assert refused.value.code == code


def test_a_boolean_is_not_a_volume() -> None:
    with pytest.raises(InvalidDose, match="number"):
        plan(True, 10.0)


def test_the_maximum_flow_and_dose_themselves_are_allowed() -> None:
    assert plan(100.0, 15.0).volume_ml == 100.0


def test_pump_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_dose_ml"):
        PumpLimits(max_flow_ml_min=10.0, max_dose_ml=0.0)


def test_an_integer_too_large_for_a_float_is_refused_not_a_crash() -> None:
    with pytest.raises(InvalidDose):
        plan(10**400, 10.0)
