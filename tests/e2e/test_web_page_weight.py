"""The dashboard's page weight: the first load of ``/`` in a fresh browser profile (empty
cache) must transfer at most 100 KB, counted by Chromium itself over the DevTools protocol.

Network.loadingFinished's ``encodedDataLength`` is what crossed the wire for one request:
response headers plus the body as sent (gzip-compressed when the daemon compressed it).
Only HTTP resources are counted, up to network idle; the WebSocket /ws (its upgrade and
its frames) is listed but not counted. Run with ``-s`` to see the figure and breakdown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from e2e.conftest import DaemonProcess
from support.browser import ChromiumSession, chromium

pytestmark = pytest.mark.slow

BUDGET_BYTES = 100 * 1024


@dataclass
class Transfer:
    """What Chromium saw of one page load, by DevTools request id."""

    urls: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    websockets: list[str] = field(default_factory=list)

    def sent(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["request"]["url"]
        self.kinds[event["requestId"]] = event.get("type", "?")

    def received(self, event: dict[str, Any]) -> None:
        self.statuses[event["requestId"]] = event["response"]["status"]

    def finished(self, event: dict[str, Any]) -> None:
        self.bytes[event["requestId"]] = int(event["encodedDataLength"])

    def total(self) -> int:
        return sum(self.bytes.values())

    def report(self) -> str:
        lines = [f"page weight of / (first load, empty cache): {self.total()} bytes"]
        for request_id, url in self.urls.items():
            size = self.bytes.get(request_id)
            shown = f"{size:>7} B" if size is not None else "   (not finished)"
            if request_id in self.failed:
                shown = f"   failed: {self.failed[request_id]}"
            status = self.statuses.get(request_id, "-")
            path = urlsplit(url).path or url[:60]
            lines.append(f"  {shown}  {status}  {self.kinds[request_id]:<10} {path}")
        for url in self.websockets:
            lines.append(f"  (not counted) WebSocket {urlsplit(url).path}")
        return "\n".join(lines)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[ChromiumSession]:
    with chromium(tmp_path / "chromium") as session:
        yield session


@pytest.mark.parametrize("visit", ["first visit", "token stored"])
def test_the_first_load_of_the_dashboard_transfers_at_most_100_kb(
    daemon: DaemonProcess, browser: ChromiumSession, visit: str
) -> None:
    if visit == "token stored":  # the dashboard proper loads its data too, not the dialog
        token = json.dumps(daemon.token)
        browser.context.add_init_script(f"localStorage.setItem('doser.token', {token})")
    page = browser.new_page()
    cdp = browser.context.new_cdp_session(page)
    seen = Transfer()
    cdp.on("Network.requestWillBeSent", seen.sent)
    cdp.on("Network.responseReceived", seen.received)
    cdp.on("Network.loadingFinished", seen.finished)
    cdp.on("Network.loadingFailed", lambda e: seen.failed.update({e["requestId"]: e["errorText"]}))
    cdp.on("Network.webSocketCreated", lambda e: seen.websockets.append(e["url"]))
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

    page.goto(daemon.base_url + "/", wait_until="networkidle", timeout=15_000)

    print(f"\n[{visit}] " + seen.report())
    assert seen.bytes, "Chromium reported no finished request"
    assert any(urlsplit(u).path == "/" for u in seen.urls.values())
    assert seen.total() <= BUDGET_BYTES, seen.report()
    assert browser.errors == []
