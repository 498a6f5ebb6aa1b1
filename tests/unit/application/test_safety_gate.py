"""The safety gate: rolling hourly and daily quotas from the journal, the device-wide cap,
the reservoir, and how much a continuous run may still dispense."""

from datetime import UTC, datetime, timedelta

import pytest

from adapters.fakes import InMemoryJournal, InMemoryNvs, ManualClock
from application.reservoirs import Reservoirs
from application.safety_gate import SafetyGate
from domain.errors import LimitReached, UnknownPump
from domain.events import DoseOutcome
from domain.journal import DoseRecord
from domain.safety import PumpSafety, ReservoirSpec, Usage

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
X_LIMITS = PumpSafety(
    max_dose_ml=50.0, max_flow_ml_min=15.0, max_ml_per_hour=100.0, max_ml_per_day=300.0
)
Y_LIMITS = PumpSafety(max_dose_ml=50.0, max_flow_ml_min=15.0)


class Rig:
    def __init__(self, *, global_max: float | None = 500.0, reservoir_ml: float = 1000.0) -> None:
        self.journal = InMemoryJournal()
        self.reservoirs = Reservoirs(InMemoryNvs(), {"X": ReservoirSpec.of(reservoir_ml)})
        self.gate = SafetyGate(
            self.journal,
            ManualClock(NOW),
            self.reservoirs,
            {"X": X_LIMITS, "Y": Y_LIMITS},
            global_max,
        )

    def dosed(self, pump_id: str, ml: float, *, ago: timedelta) -> None:
        started = NOW - ago
        self.journal.dose_started(
            DoseRecord(
                dose_id=f"d{len(self.journal.records)}",
                pump_id=pump_id,
                requested_ml=ml,
                flow_rate_ml_min=10.0,
                started_at=started,
                outcome=DoseOutcome.COMPLETED,
                actual_ml=ml,
                ended_at=started + timedelta(minutes=1),
            )
        )


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_dose_just_over_an_hour_ago_counts_for_the_day_not_the_hour(rig: Rig) -> None:
    rig.dosed("X", 90.0, ago=timedelta(hours=1, seconds=1))
    rig.dosed("X", 20.0, ago=timedelta(minutes=30))
    assert rig.gate.usage("X") == Usage(
        pump_last_hour_ml=20.0, pump_last_day_ml=110.0, all_last_day_ml=110.0
    )
    rig.gate.check("X", 80.0)
    with pytest.raises(LimitReached) as refused:
        rig.gate.check("X", 80.5)
    assert refused.value.rule == "max_per_hour"


def test_a_dose_exactly_an_hour_ago_still_counts_for_the_hour(rig: Rig) -> None:
    rig.dosed("X", 90.0, ago=timedelta(hours=1))
    assert rig.gate.usage("X").pump_last_hour_ml == 90.0


def test_a_dose_over_a_day_ago_no_longer_counts(rig: Rig) -> None:
    rig.dosed("X", 250.0, ago=timedelta(hours=24, seconds=1))
    rig.dosed("X", 40.0, ago=timedelta(hours=23))
    assert rig.gate.usage("X") == Usage(0.0, 40.0, 40.0)


def test_the_daily_quota_refuses_what_the_rolling_day_cannot_take(rig: Rig) -> None:
    for hours_ago in (20, 15, 10):
        rig.dosed("X", 90.0, ago=timedelta(hours=hours_ago))
    rig.gate.check("X", 30.0)
    with pytest.raises(LimitReached, match="270 ml used, 30 ml left, 31 ml asked") as refused:
        rig.gate.check("X", 31.0)
    assert refused.value.rule == "max_per_day"


def test_the_device_wide_cap_counts_every_pump(rig: Rig) -> None:
    rig.dosed("Y", 300.0, ago=timedelta(hours=5))
    rig.dosed("X", 150.0, ago=timedelta(hours=3))
    assert rig.gate.usage("Y") == Usage(0.0, 300.0, 450.0)
    rig.gate.check("Y", 50.0)
    with pytest.raises(LimitReached) as refused:
        rig.gate.check("Y", 51.0)
    assert refused.value.rule == "global_max_per_day"


def test_the_reservoir_refuses_what_it_does_not_hold() -> None:
    rig = Rig(reservoir_ml=100.0)
    rig.reservoirs.consume("X", 75.0)
    with pytest.raises(LimitReached, match=r"POST /api/pump/X/reservoir") as refused:
        rig.gate.check("X", 30.0)
    assert refused.value.rule == "reservoir_empty"


def test_the_allowance_is_the_tightest_rule_left(rig: Rig) -> None:
    rig.dosed("X", 60.0, ago=timedelta(minutes=10))
    assert rig.gate.allowance_ml("X") == 40.0
    rig.reservoirs.consume("X", 985.0)
    assert rig.gate.allowance_ml("X") == 15.0


def test_a_pump_bounded_only_by_the_device_cap_gets_what_is_left_of_it(rig: Rig) -> None:
    rig.dosed("X", 120.0, ago=timedelta(hours=2))
    assert rig.gate.allowance_ml("Y") == 380.0


def test_a_pump_with_no_quota_and_no_cap_is_unbounded() -> None:
    assert Rig(global_max=None).gate.allowance_ml("Y") is None


def test_limits_are_given_per_pump(rig: Rig) -> None:
    assert rig.gate.limits_of("X") == X_LIMITS


@pytest.mark.parametrize("call", ["usage", "check", "allowance", "limits"])
def test_an_unknown_pump_is_refused(rig: Rig, call: str) -> None:
    calls = {
        "usage": lambda: rig.gate.usage("Q"),
        "check": lambda: rig.gate.check("Q", 1.0),
        "allowance": lambda: rig.gate.allowance_ml("Q"),
        "limits": lambda: rig.gate.limits_of("Q"),
    }
    with pytest.raises(UnknownPump, match="configured pumps: X, Y"):
        calls[call]()


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_the_device_wide_cap_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="global_max_ml_per_day"):
        Rig(global_max=bad)
