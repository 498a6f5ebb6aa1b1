"""Steps for features/schedules.feature (fake and simulated wiring). The scheduler's clock
is a manual one the steps move; each check is one ``tick`` of the daemon's real schedule
executor, and what it starts runs through the real control plane on the fake controller or
the Grbl simulator. A restart is a new daemon on what outlives the old one (the data dir in
the simulated wiring; the journal and the schedule store handed over in the fake one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from adapters.fakes import ManualClock
from bootstrap.settings import PumpSettings
from domain.telemetry import MessageKind
from support.daemon_harness import wait_for

scenarios("schedules.feature")


class Planner:
    """The daemon (restartable), its manual scheduler clock and the schedule under test."""

    def __init__(self, settings: dict[str, Any], daemon_factory: Any) -> None:
        self.settings = settings
        self._factory = daemon_factory
        self.clock: ManualClock | None = None
        self.zone = ZoneInfo("UTC")
        self.day = datetime(2026, 11, 21, tzinfo=UTC)
        self.daemon: Any = None
        self.schedule_id = ""

    def start(self) -> None:
        handed_over: dict[str, Any] = {"schedule_clock": self.clock}
        if self.daemon is not None and self.daemon.wiring == "fake":
            old = self.daemon.app.adapters
            handed_over |= {"journal": old.journal(), "schedule_book": old.schedule_book()}
            handed_over |= {"nvs": old.nvs()}
        self.daemon = self._factory(**handed_over)
        app = self.daemon.app
        wait_for(
            lambda: app.report_status().execute().snapshot.controller.connected, 10, "the link"
        )

    def restart(self) -> None:
        self.daemon.stop()
        self.start()

    @property
    def app(self) -> Any:
        return self.daemon.app

    def at(self, hhmmss: str) -> datetime:
        """``hh:mm[:ss]`` on the scenario's day in its zone, as UTC."""
        parts = [int(p) for p in hhmmss.split(":")] + [0]
        local = self.day.replace(tzinfo=self.zone, hour=parts[0], minute=parts[1])
        return local.replace(second=parts[2]).astimezone(UTC)

    def check_at(self, hhmmss: str) -> None:
        """Move the scheduler's clock to ``hhmmss`` and let it check once."""
        assert self.clock is not None
        self.clock.advance((self.at(hhmmss) - self.clock.now()).total_seconds())
        self.app.schedule_executor().tick()

    def doses(self) -> list[Any]:
        """Doses that really started (a refusal by a safety rule is journaled too)."""
        return [r for r in self.app.list_history().execute() if r.outcome.value != "refused"]

    def runs(self) -> list[Any]:
        return list(self.app.schedule_admin().runs(self.schedule_id))

    def alarms(self, alarm_type: str) -> list[dict[str, Any]]:
        entries = self.app.adapters.outbox().pending(100_000)
        return [
            dict(e.payload)
            for e in entries
            if e.kind is MessageKind.ALARM and e.payload["alarmType"] == alarm_type
        ]


@pytest.fixture
def planner(settings: dict[str, Any], daemon_factory: Any) -> Planner:
    return Planner(settings, daemon_factory)


# Given


@given(parsers.parse('pump "{pump}" delivers {ml_per_mm:g} ml per mm at up to {flow:g} ml/min'))
def pump_configured(planner: Planner, pump: str, ml_per_mm: float, flow: float) -> None:
    spec = PumpSettings(id=pump, name="DMDEE", ml_per_mm=ml_per_mm, max_flow_ml_min=flow)
    planner.settings["pumps"] = [spec.model_dump(mode="json")]


@given(parsers.parse('the clock shows {hhmmss} on {day} in "{zone}"'))
def clock_shows(planner: Planner, hhmmss: str, day: str, zone: str) -> None:
    planner.zone = ZoneInfo(zone)
    planner.day = datetime.fromisoformat(day).replace(tzinfo=UTC)
    planner.clock = ManualClock(planner.at(hhmmss))
    planner.start()


@given(
    parsers.parse(
        'a schedule "{name}" doses {ml:g} ml on pump "{pump}" at {flow:g} ml/min at "{cron}" '
        'in "{zone}"'
    )
)
def schedule(planner: Planner, name: str, ml: float, pump: str, flow: float, cron: str,
             zone: str) -> None:  # fmt: skip
    body = {
        "name": name,
        "cron": cron,
        "timezone": zone,
        "target": {"pump": pump, "volume": ml, "flowRate": flow},
    }
    planner.schedule_id = planner.app.schedule_admin().create(body).schedule_id


@given(parsers.parse("it may catch up a missed slot within {minutes:d} minutes"))
def grace(planner: Planner, minutes: int) -> None:
    admin = planner.app.schedule_admin()
    body = admin.get(planner.schedule_id).to_plain()
    body |= {"missedRunPolicy": "run_if_within", "graceSeconds": minutes * 60}
    admin.replace(planner.schedule_id, body)


@given("the emergency stop is latched")
def latched(planner: Planner) -> None:
    planner.app.emergency_stop().execute("acceptance test")


# When


@when(parsers.parse("the scheduler checks every {step:d} seconds until {hhmm}"))
def checks_every(planner: Planner, step: int, hhmm: str) -> None:
    assert planner.clock is not None
    end = planner.at(hhmm)
    while planner.clock.now() < end:
        planner.clock.advance(step)
        planner.app.schedule_executor().tick()


@when(parsers.re(r"the scheduler (?:first )?checks at (?P<first>[\d:]+)(?: and again at "
                 r"(?P<second>[\d:]+))?"))  # fmt: skip
def checks_at(planner: Planner, first: str, second: str | None) -> None:
    planner.check_at(first)
    if second:
        planner.check_at(second)


@when(parsers.parse("the daemon restarts and the scheduler checks at {first} and at {second}"))
def restarts(planner: Planner, first: str, second: str) -> None:
    wait_for(lambda: all(d.outcome.value != "running" for d in planner.doses()), 10, "the dose")
    planner.restart()
    planner.check_at(first)
    planner.check_at(second)


@when(parsers.parse("the emergency stop is reset and the scheduler checks at {hhmmss}"))
def reset_and_check(planner: Planner, hhmmss: str) -> None:
    assert planner.app.reset_emergency_stop().execute("acceptance test")
    planner.check_at(hhmmss)


# Then


@then(parsers.parse('pump "{pump}" received 1 dose from the schedule'))
def one_dose(planner: Planner, pump: str) -> None:
    [dose] = planner.doses()
    assert dose.pump_id == pump and dose.requested_ml == 0.5
    started = [r for r in planner.runs() if r.status == "started"]
    assert [r.reference for r in started] == [dose.dose_id]


@then(parsers.parse('pump "{pump}" received no dose'))
def no_dose(planner: Planner, pump: str) -> None:
    assert planner.doses() == []
    assert all(r.status != "started" for r in planner.runs())


@then(parsers.parse("the schedule's run is recorded as {kind} for {hhmm}"))
def recorded(planner: Planner, kind: str, hhmm: str) -> None:
    kinds = {"on time": "on_time", "a catch-up": "catch_up"}
    [run] = [r for r in planner.runs() if r.status == "started"]
    assert (run.kind.value, run.slot) == (kinds[kind], planner.at(hhmm))


@then("the monitoring system is warned that the schedule caught up a missed slot")
def caught_up(planner: Planner) -> None:
    [warning] = planner.alarms("scheduleCatchUp")
    assert warning["severity"] == "warning" and warning["scheduleId"] == planner.schedule_id


@then(parsers.parse("the monitoring system is alarmed that the schedule missed {count:d} slot"))
def missed(planner: Planner, count: int) -> None:
    [alarm] = planner.alarms("scheduleRunMissed")
    assert (alarm["scheduleId"], alarm["missed"]) == (planner.schedule_id, count)
    assert [r.status for r in planner.runs()] == ["skipped"]
