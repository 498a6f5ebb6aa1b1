"""Safety rules: rolling quotas per pump and per device, the reservoir, and the allowance."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.dose import PumpLimits
from domain.errors import LimitReached
from domain.safety import (
    PumpSafety,
    ReservoirLevel,
    ReservoirSpec,
    Usage,
    allowance_ml,
    check_quota,
)

SAFETY = PumpSafety(
    max_dose_ml=50.0, max_flow_ml_min=15.0, max_ml_per_hour=100.0, max_ml_per_day=300.0
)
UNBOUNDED = PumpSafety(max_dose_ml=50.0, max_flow_ml_min=15.0)
NOTHING_USED = Usage(0.0, 0.0, 0.0)
FULL = ReservoirSpec.of(1000.0).at(1000.0)


def check(
    volume: float,
    usage: Usage = NOTHING_USED,
    *,
    safety: PumpSafety = SAFETY,
    global_max: float | None = 500.0,
    reservoir: ReservoirLevel | None = FULL,
) -> None:
    check_quota(
        "X",
        volume,
        usage=usage,
        safety=safety,
        global_max_ml_per_day=global_max,
        reservoir=reservoir,
    )


def refusal(
    volume: float, usage: Usage = NOTHING_USED, *, reservoir: ReservoirLevel = FULL
) -> LimitReached:
    with pytest.raises(LimitReached) as refused:
        check(volume, usage, reservoir=reservoir)
    assert refused.value.code == "limit_reached"
    return refused.value


# Pump safety and reservoir values


def test_pump_safety_gives_the_single_dose_limits() -> None:
    assert SAFETY.dose_limits == PumpLimits(max_flow_ml_min=15.0, max_dose_ml=50.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, True])
def test_pump_safety_limits_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="max_ml_per_hour"):
        PumpSafety(max_dose_ml=50.0, max_flow_ml_min=15.0, max_ml_per_hour=bad)


def test_a_reservoir_alarms_at_ten_percent_unless_told_otherwise() -> None:
    assert ReservoirSpec.of(1000.0) == ReservoirSpec(capacity_ml=1000.0, low_ml=100.0)
    assert ReservoirSpec.of(1000.0, 250.0).low_ml == 250.0


@pytest.mark.parametrize(("capacity", "low"), [(0.0, None), (100.0, 100.0), (100.0, -1.0)])
def test_a_reservoir_needs_a_capacity_above_its_low_mark(
    capacity: float, low: float | None
) -> None:
    with pytest.raises(ValueError, match="_ml"):
        ReservoirSpec.of(capacity, low)


def test_a_reservoir_level_knows_low_empty_and_percent() -> None:
    spec = ReservoirSpec.of(500.0, 50.0)
    assert (spec.at(51.0).low, spec.at(50.0).low) == (False, True)
    assert (spec.at(0.001).empty, spec.at(0.0009).empty) == (False, True)
    assert spec.at(125.0).percent == 25.0


@pytest.mark.parametrize("level", [-0.1, 500.1, math.nan])
def test_a_reservoir_level_stays_within_its_capacity(level: float) -> None:
    with pytest.raises(ValueError, match="level_ml"):
        ReservoirSpec.of(500.0).at(level)


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf])
def test_usage_is_never_negative_or_unknown(bad: float) -> None:
    with pytest.raises(ValueError, match="pump_last_day_ml"):
        Usage(pump_last_hour_ml=0.0, pump_last_day_ml=bad, all_last_day_ml=0.0)


# Quotas


def test_a_dose_that_fills_the_hour_exactly_passes() -> None:
    check(30.0, Usage(70.0, 70.0, 70.0))


def test_a_dose_over_the_hourly_quota_says_what_was_used_and_what_is_left() -> None:
    refused = refusal(30.0, Usage(80.0, 80.0, 80.0))
    assert refused.rule == "max_per_hour"
    assert refused.message == (
        "pump X may dispense at most 100 ml per rolling hour (the last 60 min): "
        "80 ml used, 20 ml left, 30 ml asked"
    )


def test_a_dose_over_the_daily_quota_is_refused_for_the_day() -> None:
    refused = refusal(30.0, Usage(0.0, 290.0, 290.0))
    assert refused.rule == "max_per_day"
    assert "300 ml per rolling day (the last 24 h): 290 ml used, 10 ml left" in refused.message


def test_the_device_wide_cap_counts_every_pump() -> None:
    refused = refusal(30.0, Usage(0.0, 0.0, 480.0))
    assert refused.rule == "global_max_per_day"
    assert refused.message.startswith("all pumps together may dispense at most 500 ml")
    assert "480 ml used, 20 ml left, 30 ml asked" in refused.message


def test_the_hourly_quota_is_reported_before_the_others() -> None:
    assert refusal(200.0, Usage(99.0, 299.0, 499.0)).rule == "max_per_hour"
    assert refusal(50.0, Usage(0.0, 299.0, 499.0)).rule == "max_per_day"


def test_an_overdrawn_quota_shows_nothing_left() -> None:
    assert "0 ml left" in refusal(1.0, Usage(120.0, 120.0, 120.0)).message


def test_float_noise_in_the_journal_does_not_refuse_an_exact_fit() -> None:
    used = 0.1 + 0.2  # 0.30000000000000004
    check(99.7, Usage(used, used, used))


def test_pumps_without_quotas_or_reservoir_pass_any_volume() -> None:
    check(1e6, Usage(1e6, 1e6, 1e6), safety=UNBOUNDED, global_max=None, reservoir=None)


def test_a_nonsense_volume_is_an_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match="volume_ml"):
        check(math.nan)


# Reservoir


def test_a_dose_larger_than_the_reservoir_is_refused_with_how_to_refill() -> None:
    refused = refusal(30.0, reservoir=ReservoirSpec.of(1000.0).at(20.0))
    assert refused.rule == "reservoir_empty"
    assert refused.message == (
        "pump X's reservoir holds 20 ml of 1000 ml (980 ml used), 30 ml asked; "
        "refill it and record the new level with POST /api/pump/X/reservoir"
    )


def test_a_dose_that_drains_the_reservoir_exactly_passes() -> None:
    check(20.0, reservoir=ReservoirSpec.of(1000.0).at(20.0))


def test_quotas_are_reported_before_the_reservoir() -> None:
    empty = ReservoirSpec.of(1000.0).at(0.0)
    assert refusal(30.0, Usage(0.0, 0.0, 480.0), reservoir=empty).rule == "global_max_per_day"


# Allowance


def allowance(
    usage: Usage,
    *,
    safety: PumpSafety = SAFETY,
    global_max: float | None = 500.0,
    reservoir: ReservoirLevel | None = FULL,
) -> float | None:
    return allowance_ml(
        usage=usage, safety=safety, global_max_ml_per_day=global_max, reservoir=reservoir
    )


def test_the_allowance_is_what_the_tightest_rule_leaves() -> None:
    assert allowance(Usage(60.0, 60.0, 60.0)) == 40.0  # the hour
    assert allowance(Usage(10.0, 280.0, 280.0)) == 20.0  # the pump's day
    assert allowance(Usage(10.0, 10.0, 485.0)) == 15.0  # every pump's day
    assert allowance(NOTHING_USED, reservoir=ReservoirSpec.of(1000.0).at(12.5)) == 12.5


def test_the_allowance_is_never_negative() -> None:
    assert allowance(Usage(150.0, 150.0, 150.0)) == 0.0


def test_no_rule_means_no_allowance_bound() -> None:
    unbounded = allowance(Usage(1e6, 1e6, 1e6), safety=UNBOUNDED, global_max=None, reservoir=None)
    assert unbounded is None


@given(
    volume=st.floats(0, 1000),
    hour=st.floats(0, 400),
    day=st.floats(0, 400),
    everyone=st.floats(0, 600),
    level=st.floats(0, 1000),
)
def test_a_volume_passes_exactly_when_it_fits_the_allowance(
    volume: float, hour: float, day: float, everyone: float, level: float
) -> None:
    usage = Usage(hour, day, everyone)
    reservoir = ReservoirSpec.of(1000.0).at(level)
    allowed = allowance(usage, reservoir=reservoir)
    assert allowed is not None
    try:
        check(volume, usage, reservoir=reservoir)
        passed = True
    except LimitReached:
        passed = False
    assert passed == (volume <= allowed + 1e-9)
