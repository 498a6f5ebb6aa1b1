"""The web dashboard in Chromium against the real ``doser run --simulate`` process: log in,
dose from the Manual page and watch it on the Dashboard and in the History, the latched
emergency stop and its reset, a wrong token, and the daemon going away. Saves a
screenshot of every page to ``test-artifacts/screenshots/`` (the issue's artefacts)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e.conftest import DaemonProcess
from support.browser import PAGES, ChromiumSession, Dashboard, chromium, first_number

pytestmark = pytest.mark.slow


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[ChromiumSession]:
    with chromium(tmp_path / "chromium") as session:
        yield session


@pytest.fixture
def dashboard(browser: ChromiumSession, daemon: DaemonProcess) -> Dashboard:
    return Dashboard(browser.new_page(), daemon.base_url)


def test_a_dose_from_the_manual_page_is_followed_live_journaled_and_the_estop_latches(
    daemon: DaemonProcess, dashboard: Dashboard, browser: ChromiumSession
) -> None:
    dashboard.open()
    expect(dashboard.by("token-dialog")).to_be_visible(timeout=5_000)
    dashboard.screenshot("token-dialog")
    dashboard.log_in(daemon.token)

    dashboard.go("manual")
    dashboard.screenshot("manual")
    dashboard.by("dose-volume-X").fill("5")
    dashboard.by("dose-flow-X").fill("30")  # 5 ml at 30 ml/min: a 10 s dose
    result = dashboard.command("dose-start-X")
    assert result["ok"] == "true", result

    dashboard.go("dashboard")
    dashboard.watch_progress("X")
    expect(dashboard.by("system-state")).to_have_text("DISPENSING", timeout=3_000)
    expect(dashboard.by("pump-state-X")).to_have_text("dosing", timeout=3_000)
    expect(dashboard.by("pump-progress-X")).not_to_have_attribute("data-percent", "0")
    dashboard.screenshot("dashboard")
    expect(dashboard.by("system-state")).to_have_text("IDLE", timeout=20_000)
    samples = dashboard.progress()
    during = [float(s["percent"]) for s in samples if s["state"] == "DISPENSING"]
    assert all(0 <= p <= 100 for p in during), samples
    inside = [p for p in during if 0 < p < 100]
    print(f"\npump X progress while DISPENSING: {len(set(inside))} values, {inside}")
    assert len(set(inside)) >= 3, samples
    assert inside == sorted(inside), f"progress went backwards: {samples}"

    [dose] = daemon.call("GET", "/api/history")[1]["doses"]
    dashboard.go("history")
    row = dashboard.page.locator(f'[data-testid="history-row"][data-dose-id="{dose["doseId"]}"]')
    expect(row).to_be_visible(timeout=5_000)
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[1] == "X", cells
    assert first_number(cells[2]) == 5, cells
    assert cells[5] == dose["outcome"] == "completed", cells
    dashboard.screenshot("history")

    for name in ("recipes", "calibration", "schedules", "settings"):
        dashboard.go(name)
        dashboard.screenshot(name)

    dashboard.go("dashboard")
    assert dashboard.command("estop")["ok"] == "true"
    expect(dashboard.by("system-state")).to_have_text("EMERGENCY", timeout=2_000)
    expect(dashboard.by("estop-latched")).to_be_visible(timeout=2_000)
    assert daemon.call("GET", "/api/status")[1]["state"] == "EMERGENCY"
    dashboard.screenshot("emergency")
    assert dashboard.command("estop-reset")["ok"] == "true"
    expect(dashboard.by("system-state")).to_have_text("IDLE", timeout=2_000)
    expect(dashboard.by("estop-latched")).to_be_hidden(timeout=2_000)
    assert daemon.call("GET", "/api/status")[1]["state"] == "IDLE"
    assert browser.errors == []


def test_a_wrong_token_is_refused_with_a_message_and_the_right_one_is_kept(
    daemon: DaemonProcess, dashboard: Dashboard, browser: ChromiumSession
) -> None:
    # The daemon checks the token as it is entered: a wrong one is never kept, so no
    # command (an EMERGENCY STOP least of all) goes out with it.
    dashboard.open()
    dashboard.enter_token("not-the-token")
    error = dashboard.by("token-error")
    expect(error).to_be_visible(timeout=5_000)
    expect(error).to_have_text(re.compile(r"token|refused|wrong|invalid|unauthori[sz]ed", re.I))
    expect(dashboard.by("token-dialog")).to_be_visible()
    assert dashboard.page.evaluate("localStorage.getItem('doser.token')") is None

    dashboard.enter_token(daemon.token)
    expect(dashboard.by("token-dialog")).to_be_hidden(timeout=5_000)
    expect(error).to_be_hidden()
    assert dashboard.page.evaluate("localStorage.getItem('doser.token')") == daemon.token
    dashboard.go("manual")
    dashboard.by("dose-volume-X").fill("1")
    accepted = dashboard.command("dose-start-X")
    assert accepted["ok"] == "true", accepted
    assert browser.errors == []


def test_the_connection_shows_offline_when_the_daemon_stops_and_the_page_lives_on(
    daemon: DaemonProcess, dashboard: Dashboard, browser: ChromiumSession
) -> None:
    dashboard.log_in(daemon.token)
    expect(dashboard.by("connection")).to_have_text("online", timeout=5_000)

    assert daemon.terminate() == 0
    expect(dashboard.by("connection")).to_have_text("offline", timeout=5_000)

    for name in PAGES:  # still navigable, every page still renders its root
        dashboard.go(name)
    expect(dashboard.by("system-state")).to_be_visible()
    expect(dashboard.by("estop")).to_be_visible()
    assert browser.errors == []
