"""MQTT commands through the same use cases as HTTP, on the daemon's fake wiring."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from application.handle_command import CommandRequest, HandleCommand
from bootstrap.containers import UseCases
from support.fake_daemon import control_plane_running, fake_app


@pytest.fixture
def app() -> Iterator[UseCases]:
    with control_plane_running(fake_app()) as app:
        yield app


def command(
    app: UseCases, action: str, target: str | None, body: Any, error: str | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = app.handle_command().execute(
        CommandRequest(action, target, body, error)
    )
    return result


def results(app: UseCases) -> list[Any]:
    return [p for what, p in app.adapters.telemetry().published if what == "cmd/result"]


def test_a_dose_command_doses_and_answers_with_the_dose_id(app: UseCases) -> None:
    result = command(
        app, "dose", "X", {"volume_ml": 1, "flowRate_ml_min": 30, "correlationId": "c-1"}
    )
    assert result["ok"] is True and result["correlationId"] == "c-1" and result["doseId"]
    assert app.adapters.controller().moves == [({"X": 20.0}, 600.0)]
    assert results(app) == [result]


def test_a_redelivered_command_is_answered_again_but_not_run_twice(app: UseCases) -> None:
    body = {"volume_ml": 1, "flowRate_ml_min": 30, "correlationId": "c-2"}
    first = command(app, "dose", "X", body)
    again = command(app, "dose", "X", body)
    assert first == again
    assert len(app.adapters.controller().moves) == 1
    assert len(results(app)) == 2


@pytest.mark.parametrize(
    ("target", "body", "error", "code"),
    [
        ("X", None, "body is not valid JSON", "bad_request"),
        (
            "X",
            {"volume_ml": "1", "flowRate_ml_min": 30, "correlationId": "a"},
            None,
            "invalid_dose",
        ),
        (
            "X",
            {"volume_ml": True, "flowRate_ml_min": 30, "correlationId": "b"},
            None,
            "invalid_dose",
        ),
        ("X", {"volume_ml": -1, "flowRate_ml_min": 30, "correlationId": "c"}, None, "invalid_dose"),
        (
            "X",
            {"volume_ml": 1, "flowRate_ml_min": 61, "correlationId": "d"},
            None,
            "limit_exceeded",
        ),
        ("Q", {"volume_ml": 1, "flowRate_ml_min": 30, "correlationId": "e"}, None, "unknown_pump"),
        ("X", {"volume_ml": 1, "flowRate_ml_min": 30}, None, "bad_request"),
        ("X", {"volume_ml": 1, "flowRate_ml_min": 30, "correlationId": 7}, None, "bad_request"),
    ],
)
def test_a_bad_command_gets_an_error_result_and_nothing_moves(
    app: UseCases, target: str, body: Any, error: str | None, code: str
) -> None:
    result = command(app, "dose", target, body, error)
    assert result["ok"] is False and result["code"] == code and result["error"]
    assert app.adapters.controller().moves == []


def test_a_stop_command_stops_the_running_dose(app: UseCases) -> None:
    command(app, "dose", "X", {"volume_ml": 5, "flowRate_ml_min": 30, "correlationId": "d1"})
    result = command(app, "stop", "X", {"correlationId": "s1"})
    assert result == {"correlationId": "s1", "ok": True, "error": None}
    [record] = app.list_history().execute()
    assert record.outcome.value == "stopped"


def test_commands_arrive_through_the_source_and_the_worker(app: UseCases) -> None:
    worker = app.command_worker()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    app.command_source().deliver(CommandRequest("stop", "X", {"correlationId": "via-source"}))
    worker.stop()
    thread.join(timeout=5)
    assert results(app)[-1]["correlationId"] == "via-source"


def test_the_home_assistant_button_doses_the_pumps_preset(app: UseCases) -> None:
    command(app, "dose_volume", "X", {"volume_ml": 2.5})
    result = command(app, "dose", "X", {"source": "homeassistant"})
    assert result["ok"] is True and result["doseId"]
    # 2.5 ml at the pump's maximum flow (60 ml/min) with 0.05 ml/mm
    assert app.adapters.controller().moves == [({"X": 50.0}, 1200.0)]


def test_a_preset_above_the_pumps_single_dose_limit_is_refused(app: UseCases) -> None:
    result = command(app, "dose_volume", "X", {"volume_ml": 501})
    assert result["ok"] is False and result["code"] == "invalid_dose"
    assert app.presets().preset("X").volume_ml == 1.0


# Recipes

SLOW_FILL = {
    "id": "slow-fill",
    "name": "Slow fill",
    "steps": [{"doses": [{"pump": "X", "volume": 5.0, "flowRate": 30.0}]}],
}


def test_a_recipe_command_starts_the_recipe_and_answers_with_the_run_id(app: UseCases) -> None:
    app.recipes().create(SLOW_FILL)

    result = command(app, "recipe", "slow-fill", {"correlationId": "r-1"})

    assert result == {"correlationId": "r-1", "ok": True, "error": None, "runId": result["runId"]}
    assert app.steer_recipe_run().get(result["runId"]).origin == "mqtt"
    assert app.adapters.controller().moves == [({"X": 100.0}, 600.0)]
    assert results(app) == [result]


def test_a_recipe_command_without_a_correlation_id_is_refused_and_runs_nothing(
    app: UseCases,
) -> None:
    app.recipes().create(SLOW_FILL)

    result = command(app, "recipe", "slow-fill", {})

    assert (result["ok"], result["code"]) == (False, "bad_request")
    assert app.steer_recipe_run().recent() == []


def test_a_redelivered_recipe_command_is_answered_again_but_not_run_twice(
    app: UseCases,
) -> None:
    app.recipes().create(SLOW_FILL)

    first = command(app, "recipe", "slow-fill", {"correlationId": "r-2"})
    again = command(app, "recipe", "slow-fill", {"correlationId": "r-2"})

    assert first == again and first["ok"] is True
    assert len(app.adapters.controller().moves) == 1
    assert [r.run_id for r in app.steer_recipe_run().recent()] == [first["runId"]]
    assert len(results(app)) == 2


def test_an_unknown_recipe_is_an_error_result_and_nothing_moves(app: UseCases) -> None:
    result = command(app, "recipe", "nope", {"correlationId": "r-3"})

    assert result["ok"] is False and result["code"] == "unknown_recipe" and result["error"]
    assert app.adapters.controller().moves == []


def test_without_recipes_wired_a_recipe_command_is_refused(app: UseCases) -> None:
    app.recipes().create(SLOW_FILL)
    handle = HandleCommand(
        dispense=app.dispense(),
        stop=app.stop_pump(),
        link=app.adapters.telemetry(),
        presets=app.presets(),
        emergency_stop=app.emergency_stop(),
        reset_emergency_stop=app.reset_emergency_stop(),
    )

    result = handle.execute(CommandRequest("recipe", "slow-fill", {"correlationId": "r-4"}))

    assert (result["ok"], result["code"]) == (False, "unsupported")
    assert app.adapters.controller().moves == []


def test_a_dose_weight_command_starts_a_dispense_by_weight(app: UseCases) -> None:
    result = command(app, "dose-weight", "X", {"targetGrams": 1, "correlationId": "w-1"})
    assert result["ok"] is True and result["runId"]
    view = app.dispense_weight().get(result["runId"])
    assert (view.pump_id, view.target_g, view.origin) == ("X", 1.0, "mqtt")
    app.dispense_weight().abort(result["runId"])


def test_a_dose_weight_command_without_a_correlation_id_or_target_is_refused(
    app: UseCases,
) -> None:
    assert command(app, "dose-weight", "X", {"targetGrams": 1})["ok"] is False
    missing = command(app, "dose-weight", "X", {"correlationId": "w-2"})
    assert missing["ok"] is False and missing["code"] == "invalid_dose"
    assert app.adapters.controller().moves == []
