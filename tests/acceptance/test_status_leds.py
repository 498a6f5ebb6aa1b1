"""Steps of features/status_leds.feature.

The whole daemon runs (``bootstrap.daemon.Daemon`` on a thread, HTTP included) with its
LED render thread. On the fake wiring the LEDs are ``FakeLights``; on the simulated wiring
they are the real WS2812B SPI adapter writing to a file, and every colour checked here is
decoded back from the bytes the chain would receive.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from pytest_bdd import given, parsers, scenarios, then, when

from adapters.fakes import FakeBrokerSession
from adapters.fakes.leds import FakeLights
from bootstrap.containers import UseCases
from bootstrap.settings import (
    SIMULATED_PUMPS,
    HttpSettings,
    LedSettings,
    MqttSettings,
    Settings,
)
from domain.led import AMBER, BLUE, DIM_FACTOR, GREEN, OFF, RED, WHITE, Rgb
from support.daemon_harness import TOKEN, RunningDaemon, wait_for
from support.mosquitto import free_port
from support.ws2812_decoder import decode_stream

scenarios("status_leds.feature")

Pixels = tuple[Rgb, ...]
LEDS_PER_STRIP = 8


class LedRoom:
    """The daemon with its LEDs, and what the LEDs were sent."""

    def __init__(self, wiring: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.wiring = wiring
        self.tmp_path = tmp_path
        self.request = request
        self.spi_path = tmp_path / "spidev0.0"
        self.pumps: list[str] = []
        self.brightness = 0.25
        self.max_current_ma = 1000.0
        self.broker_down = False
        self.fake = FakeLights()
        self.daemon: RunningDaemon | None = None
        self.run_id = ""
        self.mark = 0  # frames sent before the first command

    # -- the daemon --------------------------------------------------------------------

    def start(self) -> RunningDaemon:
        if self.daemon is not None:
            return self.daemon
        spi = self.wiring != "fake"
        self.spi_path.touch()  # the capture file standing in for /dev/spidev0.0
        settings = Settings(
            data_dir=self.tmp_path / "var",
            http=HttpSettings(port=free_port(), token=TOKEN),
            mqtt=MqttSettings(
                url=self._broker_url(),
                backoff_initial_s=0.2,
                backoff_max_s=0.4,
                connect_timeout_s=1.0,
            ),
            led=LedSettings(
                driver="ws2812-spi" if spi else "none",
                device=str(self.spi_path),
                count=len(self.pumps) * LEDS_PER_STRIP,
                brightness=self.brightness,
                max_current_ma=self.max_current_ma,
            ),
            pumps=[p for p in SIMULATED_PUMPS if p.id in self.pumps],
        )
        daemon = RunningDaemon(settings, self.wiring, prepare=self._prepare)  # type: ignore[arg-type]
        self.daemon = daemon
        daemon.start()
        wait_for(lambda: self.call("GET", "/api/status")[1]["controller"]["connected"], 10,
                 "the controller link")
        return daemon

    def _broker_url(self) -> str:
        """A real mosquitto on the simulated wiring (a dead port when the broker is down);
        the fake session's address on the fake wiring."""
        if self.wiring == "fake":
            return "ws://127.0.0.1:9/mqtt"
        if self.broker_down:
            return f"ws://127.0.0.1:{free_port()}/mqtt"
        return str(self.request.getfixturevalue("mosquitto").ws_url)

    def _prepare(self, app: UseCases) -> None:
        if self.wiring == "fake":
            app.adapters.leds.override(providers.Object(self.fake))
            session = app.adapters.broker()
            assert isinstance(session, FakeBrokerSession)
            session.up = not self.broker_down
            app.adapters.telemetry().up = not self.broker_down

    @property
    def app(self) -> UseCases:
        assert self.daemon is not None
        return self.daemon.app

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self.daemon is not None
        return self.daemon.call(method, path, body)

    # -- what the LEDs were sent -------------------------------------------------------

    def frames(self) -> list[Pixels]:
        """Every frame sent so far, oldest first."""
        if self.wiring == "fake":
            return [pixels for _, pixels in self.fake.frames]
        data = self.spi_path.read_bytes() if self.spi_path.exists() else b""
        frame_size = len(self.pumps) * LEDS_PER_STRIP * 9 + 90
        complete = len(data) - len(data) % frame_size  # a frame being written is left out
        return decode_stream(data[:complete])

    def latest(self) -> Pixels | None:
        frames = self.frames()
        return frames[-1] if frames else None

    def strip(self, pixels: Pixels, pump: str) -> Pixels:
        start = self.pumps.index(pump) * LEDS_PER_STRIP
        return pixels[start : start + LEDS_PER_STRIP]

    def shown(self, colour: Rgb) -> Rgb:
        """``colour`` as the LEDs show it at the configured brightness."""
        return colour.scaled(self.brightness)

    def wait_all(self, colour: Rgb, what: str, timeout_s: float = 10) -> Pixels:
        expected = (self.shown(colour),) * (len(self.pumps) * LEDS_PER_STRIP)
        result: Pixels = wait_for(lambda: self.latest() == expected and expected, timeout_s,
                                  f"every strip {what}")
        return result


@pytest.fixture
def room(wiring: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LedRoom]:
    room = LedRoom(wiring, tmp_path, request)
    yield room
    if room.daemon is not None:
        room.daemon.stop()
        if wiring == "fake":
            assert room.fake.closed, "the LEDs were not released at shutdown"
        else:
            assert set(room.latest() or ()) == {OFF}, "the LEDs were left lit at shutdown"


# Given


@given(parsers.parse(
    'the status LEDs are 4 strips of 8, one per pump "{a}", "{b}", "{c}" and "{d}"'
))
def four_strips(room: LedRoom, a: str, b: str, c: str, d: str) -> None:
    room.pumps = [a, b, c, d]


@given("the broker is unreachable")
def broker_unreachable(room: LedRoom) -> None:
    """Nothing listens at the configured broker address."""
    room.broker_down = True


@given(parsers.parse("the LEDs may draw at most {ma:g} mA at brightness {brightness:g}"))
def power_budget(room: LedRoom, ma: float, brightness: float) -> None:
    room.max_current_ma, room.brightness = ma, brightness


# When


@when("the daemon starts")
def daemon_starts(room: LedRoom) -> None:
    room.start()


@when(parsers.parse('pump "{pump}" doses {volume:g} ml at {flow:g} ml/min'))
def dose(room: LedRoom, pump: str, volume: float, flow: float) -> None:
    room.start()
    room.wait_all(GREEN, "green before the dose")
    room.mark = len(room.frames())
    status, body = room.call("POST", f"/api/pump/{pump}/dispense",
                             {"volume": volume, "flowRate": flow})
    assert status == 202, body


@when(parsers.parse('pump "{pump}" doses {volume:g} ml at {flow:g} ml/min in a recipe'))
def dose_in_recipe(room: LedRoom, pump: str, volume: float, flow: float) -> None:
    room.start()
    room.wait_all(GREEN, "green before the recipe")
    room.mark = len(room.frames())
    recipe = {"name": "one dose", "steps": [{"doses": [
        {"pump": pump, "volume": volume, "flowRate": flow}]}]}
    status, body = room.call("POST", "/api/recipes", recipe)
    assert status == 201, body
    status, body = room.call("POST", f"/api/recipe/{body['id']}/execute")
    assert status == 202, body
    room.run_id = body["runId"]
    wait_for(lambda: room.call("GET", "/api/pumps")[1][room.pumps.index(pump)]["state"]
             == "dosing", 5, f"pump {pump} dosing")


@when("the recipe is paused")
def pause_recipe(room: LedRoom) -> None:
    status, body = room.call("POST", f"/api/recipe-runs/{room.run_id}/pause")
    assert status == 200, body


@when("the emergency stop is pressed")
def emergency_stop(room: LedRoom) -> None:
    status, body = room.call("POST", "/api/emergency-stop")
    assert status == 200, body


@when("the controller's serial link is lost")
def link_lost(room: LedRoom) -> None:
    room.wait_all(GREEN, "green before the link is lost")
    if room.wiring == "fake":
        room.app.adapters.controller().unplug()
    else:
        room.app.adapters.simulator().stop()  # the pty closes under the adapter


# Then


@then("every strip is green")
def all_green(room: LedRoom) -> None:
    room.wait_all(GREEN, "green")


@then("every strip is red")
def all_red(room: LedRoom) -> None:
    room.wait_all(RED, "red")
    time.sleep(0.6)  # steady, not flashing: nothing else is sent
    assert room.latest() == (room.shown(RED),) * 32


@then("every strip is dim white")
def all_dim_white(room: LedRoom) -> None:
    room.wait_all(WHITE.scaled(DIM_FACTOR), "dim white")


@then(parsers.parse('strip "{pump}" shows a blue bar that fills from 1 to 8 LEDs'))
def blue_bar(room: LedRoom, pump: str) -> None:
    wait_for(lambda: room.call("GET", "/api/pumps")[1][room.pumps.index(pump)]["state"]
             == "idle", 15, f"pump {pump}'s dose to end")
    bright, dim = room.shown(BLUE), room.shown(BLUE.scaled(DIM_FACTOR))
    counts = []
    for pixels in room.frames():
        strip = room.strip(pixels, pump)
        if bright not in strip:
            continue
        lit = strip.count(bright)
        assert strip == (bright,) * lit + (dim,) * (LEDS_PER_STRIP - lit), strip
        if not counts or counts[-1] != lit:
            counts.append(lit)
    assert counts == list(range(1, LEDS_PER_STRIP + 1)), counts


@then("the other strips stay green")
def others_green(room: LedRoom) -> None:
    since = room.frames()[room.mark :]
    busy = {p for p in room.pumps
            if any(room.strip(px, p) != (room.shown(GREEN),) * 8 for px in since)}
    assert len(busy) == 1, f"strips other than the busy pump's changed: {sorted(busy)}"


@then(parsers.parse('strip "{pump}" is green again once the dose is done'))
def green_again(room: LedRoom, pump: str) -> None:
    room.wait_all(GREEN, f"green with strip {pump} done")


@then(parsers.parse('strip "{pump}" is amber'))
def amber(room: LedRoom, pump: str) -> None:
    wait_for(lambda: (px := room.latest()) and room.strip(px, pump) == (room.shown(AMBER),) * 8,
             5, f"strip {pump} amber")


@then(parsers.parse("the whole bar flashes red, on and off every {period_ms:d} ms"))
def flashing(room: LedRoom, period_ms: int) -> None:
    red, off = (room.shown(RED),) * 32, (OFF,) * 32
    wait_for(lambda: room.latest() in (red, off), 5, "the whole bar red or dark")
    before = len(room.frames())
    time.sleep(2.0)
    frames = room.frames()[before:]
    assert set(frames) == {red, off}, "the bar showed more than red and dark"
    assert all(a != b for a, b in itertools.pairwise(frames)), "a repeated frame"
    expected = 2000 / period_ms
    assert expected - 2 <= len(frames) <= expected + 1, f"{len(frames)} flashes in 2 s"


@then("after the reset every strip is green")
def reset_green(room: LedRoom) -> None:
    status, body = room.call("POST", "/api/emergency-stop/reset")
    assert status == 200, body
    room.wait_all(GREEN, "green after the reset")


@then(parsers.parse("every strip is green at the capped brightness, drawing at most {ma:g} mA"))
def capped(room: LedRoom, ma: float) -> None:
    pixels = wait_for(lambda: (px := room.latest()) and px[0].g > 0 and px, 10, "a lit frame")
    assert len(set(pixels)) == 1 and pixels[0].r == pixels[0].b == 0, pixels
    current = sum((p.r + p.g + p.b) / 255 * 20 for p in pixels)
    assert 0.9 * ma <= current <= ma, f"{current:.1f} mA"
