"""Steps for features/dispensing.feature, in the operator's words."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from domain.errors import DoserError
from domain.events import DoseOutcome
from domain.journal import DoseRecord
from domain.pump import PumpState

scenarios("dispensing.feature")

# Grbl's default $100 is 250 steps/mm: one step is 0.004 mm of axis travel.
STEP_MM = 0.004


class Operator:
    def __init__(self, daemon: Any, ml_per_mm: float) -> None:
        self.daemon = daemon
        self.ml_per_mm = ml_per_mm
        self.dose_id: str | None = None
        self.refusal: DoserError | None = None
        self.positions_before = daemon.axis_positions()

    @property
    def app(self) -> Any:
        return self.daemon.app

    def record(self) -> DoseRecord:
        [record] = [r for r in self.app.list_history().execute() if r.dose_id == self.dose_id]
        return record


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


# Given


@given(
    parsers.parse(
        'pump "{pump}" named "{name}" delivers {ml_per_mm:g} ml per mm at up to {flow:g} ml/min'
    ),
    target_fixture="operator",
)
def pump_configured(
    settings: dict[str, Any],
    daemon_factory: Any,
    pump: str,
    name: str,
    ml_per_mm: float,
    flow: float,
) -> Operator:
    """Configure one pump and start the daemon."""
    settings["pumps"] = [
        {
            "id": pump,
            "name": name,
            "ml_per_mm": ml_per_mm,
            "max_flow_ml_min": flow,
            "max_dose_ml": 500.0,
        }
    ]
    daemon = daemon_factory()
    wait_for(
        lambda: daemon.app.report_status().execute().snapshot.controller.connected,
        10,
        "the controller link",
    )
    return Operator(daemon, ml_per_mm)


# When


@when(parsers.parse('I dose {volume:g} ml on pump "{pump}" at {flow:g} ml/min'))
def dose(operator: Operator, volume: float, pump: str, flow: float) -> None:
    operator.dose_id = operator.app.dispense().execute(pump, volume, flow)


@when(parsers.parse('I ask pump "{pump}" for {volume} ml at {flow} ml/min'))
def ask(operator: Operator, pump: str, volume: str, flow: str) -> None:
    try:
        operator.app.dispense().execute(pump, float(volume), float(flow))
    except DoserError as refusal:
        operator.refusal = refusal


@when(parsers.parse('pump "{pump}" has delivered some of it'))
def delivered_some(operator: Operator, pump: str) -> None:
    def some() -> bool:
        view = next(
            p for p in operator.app.report_status().execute().snapshot.pumps if p.pump_id == pump
        )
        return (view.dispensed_ml or 0.0) > 0.5

    wait_for(some, 10, "some volume to flow")


@when(parsers.parse('I stop pump "{pump}"'))
def stop(operator: Operator, pump: str) -> None:
    operator.app.stop_pump().execute(pump)


# Then


@then(parsers.parse("the dose completes within {seconds:d} seconds"))
def completes(operator: Operator, seconds: int) -> None:
    wait_for(lambda: operator.record().outcome is not DoseOutcome.RUNNING, seconds, "the dose")
    assert operator.record().outcome is DoseOutcome.COMPLETED


@then(
    parsers.parse(
        'the journal shows {volume:g} ml requested on pump "{pump}" and the actual volume '
        "within one step of it"
    )
)
def journal_shows(operator: Operator, volume: float, pump: str) -> None:
    record = operator.record()
    assert (record.pump_id, record.requested_ml) == (pump, volume)
    assert record.actual_ml is not None
    assert abs(record.actual_ml - volume) <= STEP_MM * operator.ml_per_mm + 1e-9


@then(parsers.parse('the request is refused as "{code}"'))
def refused(operator: Operator, code: str) -> None:
    assert operator.refusal is not None, "the request was accepted"
    assert operator.refusal.code == code
    assert operator.refusal.message


@then("no pump has moved")
def nothing_moved(operator: Operator) -> None:
    time.sleep(0.2)  # give a wrongly started move time to show on the axis
    assert operator.daemon.axis_positions() == operator.positions_before


@then("the journal holds no dose that ran")
def journal_holds_no_dose_that_ran(operator: Operator) -> None:
    # a safety rule's refusal is journaled (refused, 0 ml); a malformed request is not
    records = operator.app.list_history().execute()
    assert [(r.outcome.value, r.actual_ml) for r in records if r.outcome.value != "refused"] == []
    assert all(r.actual_ml == 0 for r in records)


@then(
    parsers.parse(
        "the journal shows the dose stopped with an actual volume between {low:g} and {high:g} ml"
    )
)
def stopped_between(operator: Operator, low: float, high: float) -> None:
    record = operator.record()
    assert record.outcome is DoseOutcome.STOPPED
    assert record.actual_ml is not None and low < record.actual_ml < high


@then("the actual volume matches where the pump's axis came to rest")
def matches_axis(operator: Operator) -> None:
    record = operator.record()
    travel = (
        operator.daemon.axis_positions()[record.pump_id] - operator.positions_before[record.pump_id]
    )
    assert record.actual_ml == pytest.approx(travel * operator.ml_per_mm, abs=1e-6)


@then(parsers.parse('pump "{pump}" is idle'))
def idle(operator: Operator, pump: str) -> None:
    view = next(
        p for p in operator.app.report_status().execute().snapshot.pumps if p.pump_id == pump
    )
    assert view.state is PumpState.IDLE
