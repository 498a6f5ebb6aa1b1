"""Steps for features/scale_calibration.feature (fake and simulated wiring): the daemon
calibrates a pump on the bench's scale; the truth (what the bench's pump really delivers
per mm at a feed) comes from the bench's own pump line."""

from __future__ import annotations

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from adapters.sim.bench_tube import PumpLine
from application.scale_calibrator import ScaleCalibrationView
from domain.errors import DoserError
from domain.events import DoseKind
from support.daemon_harness import wait_for
from support.weigh_rig import WeighRig

scenarios("scale_calibration.feature")

NOMINAL_ML_PER_MM = 0.05  # the pump's configured calibration before the run


def _rates(text: str) -> tuple[float, ...]:
    return tuple(float(r) for r in text.replace(" and ", ", ").split(", "))


def _calibrate(weighing: WeighRig, pump: str, rates: str, ml: float) -> ScaleCalibrationView:
    run_id = weighing.app.calibrate_from_scale().execute(pump, _rates(rates), ml)
    weighing.run_id = run_id

    def ended() -> ScaleCalibrationView | None:
        view: ScaleCalibrationView = weighing.app.calibrate_from_scale().get(run_id)
        return view if view.phase in ("done", "aborted") else None

    view: ScaleCalibrationView = wait_for(ended, 60, "the calibration from the scale to end")
    return view


# Given


@given(
    parsers.parse(
        'pump "{pump}" was calibrated from the scale at {rates} ml/min with {ml:g} ml per point'
    )
)
def calibrated(weighing: WeighRig, pump: str, rates: str, ml: float) -> None:
    assert _calibrate(weighing, pump, rates, ml).phase == "done"


# When


_CALIBRATE = 'I calibrate pump "{pump}" from the scale at {rates} ml/min with {ml:g} ml per point'


@when(parsers.parse(_CALIBRATE), target_fixture="calibration")
def calibrate(weighing: WeighRig, pump: str, rates: str, ml: float) -> ScaleCalibrationView:
    return _calibrate(weighing, pump, rates, ml)


@when(parsers.parse('I try to calibrate pump "{pump}" from the scale at {rates} ml/min'))
def try_calibrate(weighing: WeighRig, pump: str, rates: str) -> None:
    try:
        weighing.app.calibrate_from_scale().execute(pump, _rates(rates), 5.0)
    except DoserError as exc:
        weighing.refusal = exc


@when(parsers.parse('I dose {ml:g} ml of "{pump}" at {flow:g} ml/min into an empty beaker'))
def dose_into_empty_beaker(weighing: WeighRig, ml: float, pump: str, flow: float) -> None:
    weighing.bench.empty_beaker()
    dose_id = weighing.app.dispense().execute(pump, ml, flow)
    wait_for(
        lambda: weighing.app.list_history().execute()[0].ended_at is not None
        and weighing.app.list_history().execute()[0].dose_id == dose_id,
        20,
        "the dose to end",
    )


# Then


@then(parsers.parse("the calibration completes with {count:d} points"))
def completes(calibration: ScaleCalibrationView, count: int) -> None:
    assert calibration.phase == "done", calibration.reason
    assert len(calibration.points) == count


@then(
    parsers.parse(
        'each point is within {percent:g} % of what pump "{pump}" truly delivers at that '
        "flow rate"
    )
)
def points_true(calibration: ScaleCalibrationView, percent: float, pump: str) -> None:
    line = PumpLine()  # the bench's pumps all have the default line
    for weighed in calibration.points:
        truth = line.ml_per_mm(weighed.feed_mm_min)
        assert weighed.point.ml_per_mm == pytest.approx(truth, rel=percent / 100)
        assert weighed.point.flow_rate_ml_min == pytest.approx(
            weighed.point.ml_per_mm * weighed.feed_mm_min
        )
    assert calibration.before_ml_per_mm == (NOMINAL_ML_PER_MM,) * len(calibration.points)


@then(parsers.parse('pump "{pump}"\'s calibration holds those {count:d} points, each with a '
                    'residual'))
def calibration_holds(
    weighing: WeighRig, calibration: ScaleCalibrationView, pump: str, count: int
) -> None:
    report = weighing.app.read_calibration().execute(pump)
    stored = [r.point for r in report.residuals]
    assert stored == [w.point for w in calibration.points]
    assert len(calibration.residuals) == count
    assert all(r.residual_percent is not None for r in calibration.residuals)


@then(parsers.parse('the journal shows {count:d} calibration runs of pump "{pump}"'))
def journal_runs(weighing: WeighRig, count: int, pump: str) -> None:
    runs = [
        r for r in weighing.app.list_history().execute()
        if r.pump_id == pump and r.kind is DoseKind.CALIBRATION
    ]
    assert len(runs) == count


@then(parsers.parse('the calibration is refused naming "{field}"'))
def refused(weighing: WeighRig, field: str) -> None:
    assert weighing.refusal is not None
    assert getattr(weighing.refusal, "field", None) == field


@then(parsers.parse('pump "{pump}" never moved'))
def never_moved(weighing: WeighRig, pump: str) -> None:
    assert weighing.daemon.axis_positions()[pump] == weighing.before[pump]
