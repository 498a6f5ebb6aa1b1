"""Steps for features/web_control.feature (the user's Test 22): the dashboard in Chromium
against the real ``doser run --simulate`` process."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from pytest_bdd import given, parsers, scenarios, then, when

from e2e.conftest import DaemonProcess
from support.browser import PAGES, ChromiumSession, Dashboard, chromium
from support.daemon_harness import wait_for

pytestmark = pytest.mark.slow

scenarios("web_control.feature")

STATES = re.compile(r"^(IDLE|DISPENSING|EMERGENCY)$")

# Wall-clock ms (Date.now(), comparable with time.time() in this process: same host) at
# which an element first reads a text, seen by a MutationObserver as the page renders it.
_WATCH_TEXT = """([testId, text]) => {
  window.__doserShownAt = null;
  const check = () => {
    const el = document.querySelector(`[data-testid="${testId}"]`);
    if (window.__doserShownAt === null && el && el.textContent.trim() === text)
      window.__doserShownAt = Date.now();
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true,
                                                     characterData: true});
}"""


@dataclass
class WebWorld:
    """The browser's dashboard, the daemon behind it and what the page's commands reported."""

    dashboard: Dashboard
    daemon: DaemonProcess
    results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    dose_accepted_at_ms: float = 0.0

    def command(self, test_id: str) -> dict[str, Any]:
        result = self.dashboard.command(test_id)
        self.results.append((test_id, result))
        return result

    def pump_idle(self, pump: str) -> bool:
        pumps = self.daemon.call("GET", "/api/pumps")[1]
        return any(p["id"] == pump and p["state"] == "idle" for p in pumps)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[ChromiumSession]:
    with chromium(tmp_path / "chromium") as session:
        yield session
        assert session.errors == [], "the page threw"


# Given


@given("the dashboard is open in a browser with the API token", target_fixture="web")
def dashboard_open(browser: ChromiumSession, daemon: DaemonProcess) -> WebWorld:
    dashboard = Dashboard(browser.new_page(), daemon.base_url)
    dashboard.log_in(daemon.token)
    dashboard.page.evaluate("window.__doserNotReloaded = true")
    return WebWorld(dashboard, daemon)


# When


@when(parsers.parse('I ask the Manual page for {volume:g} ml on pump "{pump}" at {flow:g} ml/min'))
def dose_from_manual(web: WebWorld, volume: float, pump: str, flow: float) -> None:
    web.dashboard.go("manual")
    web.dashboard.by(f"dose-volume-{pump}").fill(f"{volume:g}")
    web.dashboard.by(f"dose-flow-{pump}").fill(f"{flow:g}")
    web.command(f"dose-start-{pump}")


@when(parsers.parse('I stop pump "{pump}" from the Manual page'))
def stop_from_manual(web: WebWorld, pump: str) -> None:
    web.dashboard.go("manual")
    web.command(f"pump-stop-{pump}")


@when("I press the emergency stop on the page")
def press_estop(web: WebWorld) -> None:
    web.command("estop")


@when("I reset the emergency stop on the page")
def reset_estop(web: WebWorld) -> None:
    expect(web.dashboard.by("estop-reset")).to_be_visible(timeout=2_000)
    web.command("estop-reset")


@when(
    parsers.parse(
        'another client starts a dose of {volume:g} ml on pump "{pump}" at {flow:g} ml/min'
    )
)
def dose_elsewhere(web: WebWorld, volume: float, pump: str, flow: float) -> None:
    web.dashboard.go("dashboard")
    web.dashboard.watch_progress(pump)
    web.dashboard.page.evaluate(_WATCH_TEXT, [f"pump-state-{pump}", "dosing"])
    body = {"volume": volume, "flowRate": flow}
    status, reply = web.daemon.call("POST", f"/api/pump/{pump}/dispense", body, web.daemon.token)
    web.dose_accepted_at_ms = time.time() * 1000
    assert status == 202, reply


@when(parsers.parse('I dose and stop pump "{pump}" from the Manual page {times:d} times'))
def dose_and_stop(web: WebWorld, pump: str, times: int) -> None:
    web.dashboard.go("manual")
    web.dashboard.by(f"dose-volume-{pump}").fill("2")
    web.dashboard.by(f"dose-flow-{pump}").fill("30")
    for _ in range(times):
        web.command(f"dose-start-{pump}")
        web.command(f"pump-stop-{pump}")
        wait_for(lambda: web.pump_idle(pump), 5, f"pump {pump} idle again")


@when(parsers.parse("I press and reset the emergency stop on the page {times:d} times"))
def estop_cycles(web: WebWorld, times: int) -> None:
    for _ in range(times):
        press_estop(web)
        expect(web.dashboard.by("estop-latched")).to_be_visible(timeout=2_000)
        reset_estop(web)
        expect(web.dashboard.by("system-state")).to_have_text("IDLE", timeout=2_000)


# Then


@then("every page of the dashboard shows with the system state within 3 s")
def every_page_loads(web: WebWorld) -> None:
    page, timings = web.dashboard.page, {}
    for name in PAGES:
        route = "#/" if name == "dashboard" else f"#/{name}"
        page.goto("about:blank")  # a full load each time, not a same-document hash change
        started = time.monotonic()
        page.goto(f"{web.daemon.base_url}/{route}", wait_until="commit")
        expect(web.dashboard.by(f"page-{name}")).to_be_visible(timeout=3_000)
        expect(web.dashboard.by("system-state")).to_have_text(STATES, timeout=3_000)
        timings[name] = round(time.monotonic() - started, 3)
        for other in set(PAGES) - {name}:
            expect(web.dashboard.by(f"page-{other}")).to_be_hidden()
    print(f"\npage load to root and system state (s): {timings}")
    assert max(timings.values()) < 3.0, timings


@then(parsers.parse('the Dashboard shows pump "{pump}" dosing'))
def shows_dosing(web: WebWorld, pump: str) -> None:
    web.dashboard.go("dashboard")
    expect(web.dashboard.by(f"pump-state-{pump}")).to_have_text("dosing", timeout=3_000)
    expect(web.dashboard.by("system-state")).to_have_text("DISPENSING", timeout=3_000)


@then(parsers.parse('the Dashboard shows pump "{pump}" idle'))
def shows_idle(web: WebWorld, pump: str) -> None:
    web.dashboard.go("dashboard")
    expect(web.dashboard.by(f"pump-state-{pump}")).to_have_text("idle", timeout=5_000)


@then("the page shows the emergency stop latched")
def shows_latched(web: WebWorld) -> None:
    expect(web.dashboard.by("system-state")).to_have_text("EMERGENCY", timeout=2_000)
    expect(web.dashboard.by("estop-latched")).to_be_visible(timeout=2_000)


@then("the page shows the system state IDLE")
def shows_idle_state(web: WebWorld) -> None:
    expect(web.dashboard.by("system-state")).to_have_text("IDLE", timeout=2_000)
    expect(web.dashboard.by("estop-latched")).to_be_hidden(timeout=2_000)


@then("every command from the page came back ok within 500 ms")
def commands_fast(web: WebWorld) -> None:
    assert web.results, "no command was sent"
    print("\ncommand round trips (data-ms / click to result on screen, ms):")
    for test_id, result in web.results:
        print(
            f"  {test_id:<14} {result['action']!s:<22} {result['ms']:>4} / "
            f"{result['sinceClick']:.0f}"
        )
    for test_id, result in web.results:
        assert result["ok"] == "true", (test_id, result)
        assert result["action"], (test_id, result)
        assert int(result["ms"]) < 500, (test_id, result)
        assert result["sinceClick"] < 500, (test_id, result)


@then(parsers.parse('within 1 s the Dashboard shows pump "{pump}" dosing'))
def dosing_within_a_second(web: WebWorld, pump: str) -> None:
    expect(web.dashboard.by(f"pump-state-{pump}")).to_have_text("dosing", timeout=2_000)
    shown_at_ms = web.dashboard.page.evaluate("window.__doserShownAt")
    latency_ms = shown_at_ms - web.dose_accepted_at_ms
    print(f"\ndose accepted (202) -> pump {pump} shown dosing: {latency_ms:.0f} ms")
    assert latency_ms < 1000


@then(parsers.parse('pump "{pump}"\'s progress moves on the Dashboard'))
def progress_moves(web: WebWorld, pump: str) -> None:
    moving = """() => new Set((window.__doserProgress || [])
        .filter((s) => s.state === 'DISPENSING' && +s.percent > 0 && +s.percent < 100)
        .map((s) => s.percent)).size >= 3"""
    web.dashboard.page.wait_for_function(moving, timeout=3_000)


@then(parsers.parse('the Dashboard shows pump "{pump}"\'s dose ending without a reload'))
def dose_ends(web: WebWorld, pump: str) -> None:
    expect(web.dashboard.by("system-state")).to_have_text("IDLE", timeout=10_000)
    expect(web.dashboard.by(f"pump-state-{pump}")).to_have_text("idle", timeout=2_000)
    assert web.dashboard.page.evaluate("window.__doserNotReloaded === true")
