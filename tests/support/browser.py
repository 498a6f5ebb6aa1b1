"""Debian's Chromium driven by Playwright for the dashboard's end-to-end tests, and the
dashboard seen through its DOM contract (``data-testid`` attributes, see the web issue).

``chromium(profile_dir)`` launches a headless Chromium on a fresh profile (no cache, no
stored token) and closes everything it started; ``Dashboard`` wraps one page of it: log
in through the token dialog, move between pages, read what a command reported, save
screenshots under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Dialog, Locator, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PAGES = ("dashboard", "manual", "recipes", "history", "calibration", "schedules", "settings")
COMMAND_TIMEOUT_MS = 5_000  # generous: the 500 ms target is asserted on the figures


class ChromiumSession:
    """One persistent browser context: the pages opened in it and what went wrong in them
    (uncaught exceptions and unhandled rejections, renderer crashes, JS dialogs seen)."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    def new_page(self) -> Page:
        blank = [p for p in self.context.pages if p.url == "about:blank"]
        page = blank[0] if blank else self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("crash", lambda _: self.errors.append("the renderer crashed"))
        page.on("dialog", self._accept)
        return page

    def _accept(self, dialog: Dialog) -> None:
        # Playwright dismisses dialogs by default, which would cancel a confirm(); a user
        # who pressed the button confirms it.
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.accept()


@contextmanager
def chromium(profile_dir: Path) -> Iterator[ChromiumSession]:
    """Headless Debian Chromium on the empty profile ``profile_dir``; closed on exit.
    Fails the test (does not skip) when Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (make test installs it)")
    profile_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield ChromiumSession(context)
        finally:
            context.close()


# Records every change of the command-result element (a snapshot per mutation batch) and
# how long after the last click it came: the browser's own view of a command's round trip.
_COMMAND_PROBE = """() => {
  if (window.__doserResults) return;
  const log = window.__doserResults = [];
  let clickAt = null;
  document.addEventListener('click', () => { clickAt = performance.now(); }, true);
  new MutationObserver((mutations) => {
    const el = document.querySelector('[data-testid="command-result"]');
    if (!el || !mutations.some((m) => el === m.target || el.contains(m.target))) return;
    log.push({action: el.getAttribute('data-action'), ok: el.getAttribute('data-ok'),
              ms: el.getAttribute('data-ms'), text: el.textContent.trim(),
              sinceClick: clickAt === null ? null : performance.now() - clickAt});
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             characterData: true});
}"""

_NEW_RESULT = """(n) => (window.__doserResults || []).slice(n).some(
  (r) => (r.ok === 'true' || r.ok === 'false') && /^\\d+$/.test(r.ms || ''))"""


# Every change of one pump's progress, with the system state shown at that moment.
_WATCH_PROGRESS = """(pump) => {
  const log = window.__doserProgress = [];
  const read = () => {
    const bar = document.querySelector(`[data-testid="pump-progress-${pump}"]`);
    const state = document.querySelector('[data-testid="system-state"]');
    const percent = bar && bar.getAttribute('data-percent');
    const last = log[log.length - 1];
    if (percent !== null && (!last || last.percent !== percent))
      log.push({percent, state: state && state.textContent.trim()});
  };
  read();
  new MutationObserver(read).observe(document.body, {subtree: true, childList: true,
                                                     attributes: true, characterData: true});
}"""


class Dashboard:
    """The dashboard in one page, addressed through its ``data-testid`` contract."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def by(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    def open(self) -> None:
        self.page.goto(self.base_url + "/")

    def enter_token(self, token: str) -> None:
        expect(self.by("token-dialog")).to_be_visible(timeout=5_000)
        self.by("token-input").fill(token)
        self.by("token-save").click()

    def log_in(self, token: str) -> None:
        """Open ``/`` and answer the token dialog; returns once the dialog has gone."""
        self.open()
        self.enter_token(token)
        expect(self.by("token-dialog")).to_be_hidden(timeout=5_000)

    def go(self, name: str) -> Locator:
        """Click ``nav-<name>``; returns the page root once it shows."""
        self.by(f"nav-{name}").click()
        root = self.by(f"page-{name}")
        expect(root).to_be_visible(timeout=3_000)
        return root

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def command(self, test_id: str) -> dict[str, Any]:
        """Click ``test_id`` and return the command-result it produced: ``action``, ``ok``
        ("true"/"false"), ``ms`` (the page's round trip), ``text``, ``sinceClick`` (ms from
        the click to the result on screen, measured in the page)."""
        self.page.evaluate(_COMMAND_PROBE)
        seen = self.page.evaluate("window.__doserResults.length")
        self.by(test_id).click()
        self.page.wait_for_function(_NEW_RESULT, arg=seen, timeout=COMMAND_TIMEOUT_MS)
        results: list[dict[str, Any]] = self.page.evaluate(
            "(n) => window.__doserResults.slice(n)", seen
        )
        return next(r for r in results if r["ok"] in ("true", "false") and r["ms"])

    def watch_progress(self, pump: str) -> None:
        """Start recording every change of ``pump-progress-<pump>``'s data-percent."""
        self.page.evaluate(_WATCH_PROGRESS, pump)

    def progress(self) -> list[dict[str, str]]:
        """``[{"percent", "state"}]`` since ``watch_progress``: each new data-percent and
        the system state displayed at that moment."""
        samples: list[dict[str, str]] = self.page.evaluate("window.__doserProgress")
        return samples


def first_number(text: str) -> float | None:
    """The first decimal number in a cell's text ("5.00 ml" -> 5.0), None when none."""
    match = re.search(r"-?\d+(?:\.\d+)?", text)
    return None if match is None else float(match.group())
