"""The missed-run rule (which due slot runs, as what, which are skipped), the validation of
untrusted schedule fields, and the plain shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import InvalidSchedule
from domain.schedule import (
    DoseTarget,
    MissedRunPolicy,
    RecipeTarget,
    Schedule,
    SlotKind,
)
from domain.schedule_slots import decide_slots

NOW = datetime(2026, 11, 21, 12, 0, 30, tzinfo=UTC)
SKIP, WITHIN = MissedRunPolicy.SKIP, MissedRunPolicy.RUN_IF_WITHIN


def minutes_ago(*minutes: float) -> list[datetime]:
    return sorted(NOW - timedelta(minutes=m) for m in minutes)


def plain(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "morning",
        "name": "Morning feed",
        "cron": "30 7 * * *",
        "timezone": "Europe/Berlin",
        "target": {"pump": "X", "volume": 5.0, "flowRate": 10.0},
        "enabled": True,
        "missedRunPolicy": "run_if_within",
        "graceSeconds": 3600,
        "createdAt": "2026-11-20T08:00:00.000000Z",
        "lastRun": None,
        "checkedUntil": None,
    }
    return {**body, **changes}


def test_a_slot_within_the_minute_runs_on_time() -> None:
    decision = decide_slots(minutes_ago(0.5), NOW, SKIP, grace_s=0.0)
    assert (decision.run, decision.kind, decision.skipped) == (
        NOW - timedelta(seconds=30),
        SlotKind.ON_TIME,
        (),
    )


def test_an_on_time_slot_runs_and_older_missed_ones_are_skipped_without_a_catch_up() -> None:
    due = minutes_ago(30, 10, 0.5)
    decision = decide_slots(due, NOW, WITHIN, grace_s=3600.0)
    assert (decision.run, decision.kind) == (due[-1], SlotKind.ON_TIME)
    assert decision.skipped == tuple(due[:-1])


def test_under_skip_every_missed_slot_is_skipped() -> None:
    due = minutes_ago(120, 60, 2)
    decision = decide_slots(due, NOW, SKIP, grace_s=7200.0)
    assert decision.run is None
    assert decision.skipped == tuple(due)


def test_run_if_within_runs_only_the_newest_missed_slot_inside_the_grace_window() -> None:
    due = minutes_ago(50, 40, 20)
    decision = decide_slots(due, NOW, WITHIN, grace_s=1800.0)
    assert (decision.run, decision.kind) == (due[-1], SlotKind.CATCH_UP)
    assert decision.skipped == tuple(due[:-1])


def test_run_if_within_skips_everything_when_the_newest_missed_slot_is_outside_grace() -> None:
    due = minutes_ago(50, 40, 31)
    decision = decide_slots(due, NOW, WITHIN, grace_s=1800.0)
    assert decision.run is None
    assert len(decision.skipped) == 3


def test_slots_later_than_now_are_not_due() -> None:
    decision = decide_slots([NOW + timedelta(minutes=1)], NOW, WITHIN, grace_s=3600.0)
    assert (decision.run, decision.skipped) == (None, ())


def test_the_plain_shape_round_trips() -> None:
    schedule = Schedule.from_plain(
        plain(lastRun="2026-11-21T06:30:00.000123Z", checkedUntil="2026-11-21T11:59:59.5Z")
    )
    assert schedule.target == DoseTarget("X", 5.0, 10.0)
    assert schedule.policy is WITHIN
    assert schedule.checked_until == datetime(2026, 11, 21, 11, 59, 59, 500000, tzinfo=UTC)
    assert Schedule.from_plain(schedule.to_plain()) == schedule
    assert schedule.to_plain()["lastRun"] == "2026-11-21T06:30:00.000123Z"


def test_a_recipe_target_round_trips() -> None:
    schedule = Schedule.from_plain(plain(target={"recipe": "nutrient-mix"}))
    assert schedule.target == RecipeTarget("nutrient-mix")
    assert schedule.to_plain()["target"] == {"recipe": "nutrient-mix"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "no spaces"}, "id"),
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"cron": 5}, "cron"),
        ({"timezone": ""}, "timezone"),
        ({"enabled": "yes"}, "enabled"),
        ({"missedRunPolicy": "catch_up_all"}, "missedRunPolicy"),
        ({"graceSeconds": -1}, "graceSeconds"),
        ({"graceSeconds": float("inf")}, "graceSeconds"),
        ({"graceSeconds": 7 * 24 * 3600 + 1}, "graceSeconds"),
        ({"graceSeconds": True}, "graceSeconds"),
        ({"target": {"pump": "X", "volume": 0, "flowRate": 10.0}}, "target.volume"),
        ({"target": {"pump": "X", "volume": True, "flowRate": 10.0}}, "target.volume"),
        ({"target": {"pump": "X", "volume": 5.0, "flowRate": float("nan")}}, "target.flowRate"),
        ({"target": {"pump": "X", "volume": 5.0}}, "target.flowRate"),
        ({"target": {"pump": "", "volume": 5.0, "flowRate": 10.0}}, "target.pump"),
        ({"target": {"recipe": ""}}, "target.recipe"),
        ({"target": {"recipe": "mix", "pump": "X"}}, "target"),
        ({"target": "X"}, "target"),
        ({"createdAt": "yesterday"}, "createdAt"),
        ({"createdAt": "2026-11-20T08:00:00"}, "createdAt"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_field_is_refused_by_name(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        Schedule.from_plain(plain(**changes))
    assert refused.value.field == field


def test_create_trims_the_name_and_normalises_the_cron_spacing() -> None:
    schedule = Schedule.create(
        schedule_id="s1",
        name="  Evening  ",
        cron=" 0  18 * * 1-5 ",
        timezone="UTC",
        target=RecipeTarget("mix"),
        enabled=False,
        policy="skip",
        grace_s=0,
        created_at=NOW,
    )
    assert (schedule.name, schedule.cron, schedule.policy) == ("Evening", "0 18 * * 1-5", SKIP)
