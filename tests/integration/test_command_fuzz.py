"""Fuzzing the command topics: whatever arrives, the daemon answers with an error result,
moves nothing and keeps running (hypothesis-generated topics suffixes and payloads)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.mqtt.commands import parse_command
from bootstrap.containers import UseCases
from support.fake_daemon import control_plane_running, fake_app

pytestmark = pytest.mark.slow
BASE = "doser/doser_A1B2C3"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
dose_like = st.fixed_dictionaries(
    {},
    optional={
        "volume_ml": json_values,
        "flowRate_ml_min": json_values,
        "correlationId": json_values,
    },
)
payloads = (
    st.binary(max_size=256)
    | json_values.map(lambda v: json.dumps(v).encode())
    | dose_like.map(lambda v: json.dumps(v).encode())
)
suffixes = st.sampled_from(
    ["cmd/X/dose", "cmd/X/stop", "cmd/Q/dose", "cmd/emergency-stop", "cmd/recipe/1/execute"]
) | st.text(alphabet="abcXQ/-", max_size=20).map(lambda t: f"cmd/{t}")


@pytest.fixture(scope="module")
def app() -> Iterator[UseCases]:
    with control_plane_running(fake_app()) as app:
        yield app


def could_dose(topic: str, body: dict[str, Any] | None) -> bool:
    """A payload that is a valid dose by chance may dose; that is not a fuzz finding."""
    if topic != f"{BASE}/cmd/X/dose" or not body:
        return False
    volume, flow = body.get("volume_ml"), body.get("flowRate_ml_min")
    cid = body.get("correlationId")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (volume, flow))
    return numbers and isinstance(cid, str) and 0 < len(cid) <= 128


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=suffixes, payload=payloads)
def test_any_command_gets_a_result_and_moves_nothing_unless_it_is_a_valid_dose(
    app: UseCases, suffix: str, payload: bytes
) -> None:
    topic = f"{BASE}/{suffix}"
    request = parse_command(BASE, topic, payload, None)
    if request is None:  # cmd/result or outside cmd/: not a command at all
        return
    controller = app.adapters.controller()
    moves_before = len(controller.moves)
    result = app.handle_command().execute(request)
    assert set(result) >= {"correlationId", "ok", "error"}
    if not could_dose(topic, request.body) and request.action not in ("stop", "emergency-stop"):
        assert result["ok"] is False, (topic, payload, result)
        assert result["error"]
        assert len(controller.moves) == moves_before
    for pump in app.report_status().execute().snapshot.pumps:  # leave no dose running
        app.stop_pump().execute(pump.pump_id)
