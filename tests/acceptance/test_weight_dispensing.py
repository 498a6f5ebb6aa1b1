"""Steps for features/weight_dispensing.feature (fake and simulated wiring): the bench pours
the pumps into a beaker on the scale; in the simulated wiring the real Grbl and MT-SICS
adapters talk to their simulators over ptys. What the beaker really holds is read from the
bench, what the daemon saw from its run, its journal and the outbox."""

from __future__ import annotations

import time

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from domain.errors import DoserError
from domain.telemetry import MessageKind
from domain.weighing import WeighOutcome
from support.daemon_harness import wait_for
from support.weigh_rig import WeighRig

scenarios("weight_dispensing.feature")


# Given


@given(parsers.parse('the reservoir of pump "{pump}" is empty'))
def reservoir_empty(weighing: WeighRig, pump: str) -> None:
    weighing.bench.empty_reservoir(pump)


@given(parsers.parse('pump "{pump}" may deliver at most {ml:g} ml at once'))
def max_dose(weighing: WeighRig, pump: str, ml: float) -> None:
    weighing.settings["pumps"][0]["max_dose_ml"] = ml


# When


@when(parsers.parse('I dispense {grams:g} g of "{pump}" by weight'))
def dispense(weighing: WeighRig, grams: float, pump: str) -> None:
    app = weighing.app
    weighing.started_at = time.monotonic()
    weighing.run_id = app.dispense_weight().execute(pump, grams)


@when(parsers.parse('I try to dispense {grams:g} g of "{pump}" by weight'))
def try_dispense(weighing: WeighRig, grams: float, pump: str) -> None:
    try:
        weighing.app.dispense_weight().execute(pump, grams)
    except DoserError as exc:
        weighing.refusal = exc


@when(parsers.parse('the tube of pump "{pump}" blocks once {grams:g} g have arrived'))
def tube_blocks(weighing: WeighRig, pump: str, grams: float) -> None:
    wait_for(lambda: weighing.bench.beaker_liquid_g() >= grams, 20, f"{grams} g to arrive")
    weighing.bench.block_tube(pump)
    weighing.fault_at = time.monotonic()


@when("I tare the scale")
def tare(weighing: WeighRig) -> None:
    weighing.app.operate_scale().tare()


# Then


@then(parsers.parse("the dispense completes within {tolerance:g} g of {grams:g} g on the scale"))
def completes(weighing: WeighRig, tolerance: float, grams: float) -> None:
    result = weighing.ended().result
    assert result is not None
    assert result.outcome is WeighOutcome.COMPLETED, result.reason
    assert abs(result.actual_g - grams) <= tolerance


@then(parsers.parse('the journal shows pump "{pump}"\'s fast phase first, then its dribble'))
def journal_phases(weighing: WeighRig, pump: str) -> None:
    doses = [r for r in reversed(weighing.app.list_history().execute()) if r.pump_id == pump]
    assert len(doses) >= 2
    assert doses[0].flow_rate_ml_min == pytest.approx(150.0)
    assert doses[1].flow_rate_ml_min == pytest.approx(20.0)
    total = sum(r.actual_ml or 0.0 for r in doses)
    assert total == pytest.approx(weighing.run().result.dispensed_ml, abs=1e-6)  # type: ignore[union-attr]


@then("the monitoring system was told the weight dispense completed with its accuracy")
def told_completed(weighing: WeighRig) -> None:
    events = weighing.outbox(MessageKind.WEIGHT_COMPLETE)
    assert [e["runId"] for e in events] == [weighing.run_id]
    event = events[0]
    assert event["eventType"] == "weightDispenseComplete"
    assert event["targetWeight_g"] == 10.0
    assert abs(event["actualWeight_g"] - 10.0) <= 0.05
    assert event["accuracy_percent"] >= 99.5
    assert event["duration_sec"] > 0


@then(parsers.parse("the dispense is aborted within {seconds:g} s of the pump starting"))
def aborted_after_start(weighing: WeighRig, seconds: float) -> None:
    view = weighing.ended()
    assert view.result is not None and view.result.outcome is WeighOutcome.ABORTED
    doses = weighing.app.list_history().execute()
    assert doses, "the pump never started"
    first = doses[-1]
    ran_s = ((first.ended_at or first.started_at) - first.started_at).total_seconds()
    assert ran_s <= seconds


@then(parsers.parse("the dispense is aborted within {seconds:g} s of the blockage"))
def aborted_after_blockage(weighing: WeighRig, seconds: float) -> None:
    view = weighing.ended()
    assert view.result is not None and view.result.outcome is WeighOutcome.ABORTED
    assert time.monotonic() - weighing.fault_at <= seconds + 1.0  # + the poll of this step
    last = weighing.app.list_history().execute()[0]
    assert last.ended_at is not None


@then(parsers.parse('pump "{pump}" stands still'))
def stands_still(weighing: WeighRig, pump: str) -> None:
    first = weighing.daemon.axis_positions()[pump]
    time.sleep(0.3)  # an absence of motion can only be watched for a while
    assert weighing.daemon.axis_positions()[pump] == first


@then("the monitoring system was alarmed that the weight did not rise")
def alarmed_not_rising(weighing: WeighRig) -> None:
    alarms = weighing.outbox(MessageKind.ALARM)
    assert "weightNotRising" in [a["alarmType"] for a in alarms], alarms
    events = weighing.outbox(MessageKind.WEIGHT_COMPLETE)
    assert events and events[-1]["outcome"] == "aborted"


@then(parsers.parse('the dispense is refused with "{rule}"'))
def refused(weighing: WeighRig, rule: str) -> None:
    assert weighing.refusal is not None
    assert getattr(weighing.refusal, "rule", None) == rule


@then(parsers.parse('pump "{pump}" never moved'))
def never_moved(weighing: WeighRig, pump: str) -> None:
    assert weighing.daemon.axis_positions()[pump] == weighing.before[pump]
    assert weighing.app.list_history().execute() == [] or all(
        (r.actual_ml or 0.0) == 0.0 for r in weighing.app.list_history().execute()
    )


@then("the scale reads 0 g and stable")
def reads_zero(weighing: WeighRig) -> None:
    def stable_zero() -> bool:
        reading = weighing.app.operate_scale().read()
        return reading.stable and abs(reading.grams) <= 0.01

    wait_for(stable_zero, 5, "a stable 0 g")
