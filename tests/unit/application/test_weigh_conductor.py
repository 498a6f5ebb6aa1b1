"""Dispensing by weight on the control plane, wired with the fakes: what ends a run besides
reaching the target (the e-stop, a scale that goes silent) and what the run leaves behind
(the event, the alarm, the journal)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bootstrap.containers import UseCases
from bootstrap.settings import ScaleSettings, Settings
from domain.errors import PumpBusy, ScaleUnavailable
from domain.telemetry import MessageKind
from domain.weighing import WeighOutcome
from support.daemon_harness import wait_for
from support.fake_daemon import PUMP_X, control_plane_running, fake_app


@pytest.fixture
def app() -> Iterator[UseCases]:
    settings = Settings(pumps=[PUMP_X], scale=ScaleSettings(slow_flow_ml_min=30.0))
    with control_plane_running(fake_app(settings)) as app:
        wait_for(lambda: app.weigher().view.connected, 5, "the scale link")
        yield app


def alarms(app: UseCases) -> list[str]:
    entries = app.adapters.outbox().pending(1000)
    return [e.payload["alarmType"] for e in entries if e.kind is MessageKind.ALARM]


def ended(app: UseCases, run_id: str) -> WeighOutcome:
    view = wait_for(
        lambda: app.dispense_weight().get(run_id).result, 20, "the dispense by weight to end"
    )
    return view.outcome  # type: ignore[no-any-return]


def test_the_emergency_stop_aborts_a_dispense_by_weight_and_halts_the_pump(
    app: UseCases,
) -> None:
    run_id = app.dispense_weight().execute("X", 20.0)
    wait_for(lambda: app.adapters.bench().beaker_liquid_g() > 0.5, 10, "liquid to arrive")
    app.emergency_stop().execute("test")
    assert ended(app, run_id) is WeighOutcome.ABORTED
    assert app.report_status().execute().snapshot.pumps[0].dose_id is None
    events = [e for e in app.adapters.outbox().pending(1000)
              if e.kind is MessageKind.WEIGHT_COMPLETE]
    assert [e.payload["outcome"] for e in events] == ["aborted"]


def test_a_scale_that_goes_silent_mid_dispense_aborts_it_with_an_alarm(app: UseCases) -> None:
    run_id = app.dispense_weight().execute("X", 20.0)
    wait_for(lambda: app.adapters.bench().beaker_liquid_g() > 0.5, 10, "liquid to arrive")
    app.adapters.scale().fall_silent()
    assert ended(app, run_id) is WeighOutcome.ABORTED
    assert "scaleUnavailable" in alarms(app)
    assert app.report_status().execute().snapshot.pumps[0].dose_id is None
    assert app.weigher().view.connected is False


def test_an_unplugged_scale_refuses_a_dispense_and_nothing_moves(app: UseCases) -> None:
    app.adapters.scale().unplug()
    with pytest.raises(ScaleUnavailable):
        app.dispense_weight().execute("X", 5.0)
    assert app.adapters.controller().moves == []


def test_a_dose_by_volume_waits_for_the_dispense_by_weight(app: UseCases) -> None:
    run_id = app.dispense_weight().execute("X", 20.0)
    with pytest.raises(PumpBusy):
        app.dispense().execute("X", 1.0, 10.0)
    app.dispense_weight().abort(run_id)


def test_a_completed_dispense_teaches_the_pump_its_in_flight_time(app: UseCases) -> None:
    before = app.adapters.nvs().get("weighing", "X.inflight_s")
    run_id = app.dispense_weight().execute("X", 3.0)
    assert ended(app, run_id) is WeighOutcome.COMPLETED
    learned = app.adapters.nvs().get("weighing", "X.inflight_s")
    assert before is None and isinstance(learned, float) and 0.0 < learned < 2.0
