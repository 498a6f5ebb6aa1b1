"""The Grbl 1.1h simulator over a real pty, talked to with pyserial as the daemon does."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from adapters.sim.grbl import GrblConfig
from adapters.sim.pty_host import PtyGrblSimulator, serve_forever

pytestmark = pytest.mark.slow

BANNER_LINE = "Grbl 1.1h ['$' for help]"
UNLOCK_HINT = "[MSG:'$H'|'$X' to unlock]"


class GrblClient:
    """A pyserial client reading whole lines; lines that arrive while it polls for status
    reports are kept for ``line``."""

    def __init__(self, port: str) -> None:
        self.serial = serial.Serial(port, 115200, timeout=0.02)
        self._buffer = b""
        self._held: list[str] = []

    def write(self, data: bytes) -> None:
        self.serial.write(data)

    def line(self, timeout: float = 5.0) -> str:
        return self._held.pop(0) if self._held else self._fresh(timeout)

    def lines(self, count: int, timeout: float = 5.0) -> list[str]:
        return [self.line(timeout) for _ in range(count)]

    def silent_for(self, seconds: float) -> bool:
        return not self._held and self._next(time.monotonic() + seconds) is None

    def soft_reset(self) -> list[str]:
        """0x18, then every line up to and including the banner."""
        self.write(b"\x18")
        seen = [self.line()]
        while seen[-1] != BANNER_LINE:
            seen.append(self.line())
        return seen

    def status(self) -> str:
        self.write(b"?")
        while not (text := self._fresh(5.0)).startswith("<"):
            self._held.append(text)
        return text

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report = self.status()
            if condition(report):
                return report
            time.sleep(0.01)
        raise AssertionError(f"no status report matching within {timeout} s")

    def _fresh(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (text := self._next(deadline)) is not None:
            if text:
                return text
        raise AssertionError(f"no line within {timeout} s")

    def _next(self, deadline: float) -> str | None:
        while b"\n" not in self._buffer:
            if time.monotonic() >= deadline:
                return None
            self._buffer += self.serial.read(self.serial.in_waiting or 1)
        raw, _, self._buffer = self._buffer.partition(b"\n")
        return raw.rstrip(b"\r").decode("ascii")


def state_of(report: str) -> str:
    return report[1:].split("|", maxsplit=1)[0]


def x_of(report: str) -> float:
    match = re.search(r"MPos:([-\d.]+),", report)
    assert match, report
    return float(match.group(1))


@pytest.fixture
def open_grbl(tmp_path: Path) -> Iterator[Callable[..., GrblClient]]:
    """Start a simulator with the given config, open it and soft-reset it, as the daemon."""
    started: list[tuple[PtyGrblSimulator, GrblClient]] = []

    def _open(**config: object) -> GrblClient:
        sim = PtyGrblSimulator(tmp_path / "grbl", config=GrblConfig(**config))  # type: ignore[arg-type]
        sim.start()
        client = GrblClient(sim.port)
        started.append((sim, client))
        assert client.soft_reset() == [BANNER_LINE]
        return client

    yield _open
    for sim, client in started:
        client.serial.close()
        sim.stop()


def test_a_soft_reset_after_opening_the_port_yields_the_banner(tmp_path: Path) -> None:
    with PtyGrblSimulator(tmp_path / "grbl") as sim:
        client = GrblClient(str(tmp_path / "grbl"))
        assert client.silent_for(0.2)  # the power-up banner went before the port was opened
        client.write(b"\x18")
        assert client.line() == BANNER_LINE
        assert os.path.realpath(tmp_path / "grbl") == sim.port
        client.serial.close()


def test_the_port_does_not_echo_what_the_host_writes(open_grbl: Callable[..., GrblClient]) -> None:
    grbl = open_grbl()
    grbl.write(b"$I\n")
    assert grbl.lines(3) == ["[VER:1.1h.20190825:]", "[OPT:V,15,128]", "ok"]
    assert grbl.silent_for(0.2)


def test_a_status_request_mid_line_is_answered_and_the_line_gets_one_ok(
    open_grbl: Callable[..., GrblClient],
) -> None:
    grbl = open_grbl()
    grbl.write(b"G9")
    time.sleep(0.05)
    grbl.write(b"?")
    assert grbl.line().startswith("<Idle|MPos:0.000,0.000,0.000,0.000|")
    grbl.write(b"1\n")
    assert grbl.line() == "ok"
    assert grbl.silent_for(0.2)


def test_every_line_gets_exactly_one_ok(open_grbl: Callable[..., GrblClient]) -> None:
    grbl = open_grbl()
    grbl.write(b"G91\nG21\n\nG90\nG94\n")
    assert grbl.lines(5) == ["ok"] * 5
    assert grbl.silent_for(0.2)


def test_bad_lines_get_grbls_error_numbers(open_grbl: Callable[..., GrblClient]) -> None:
    grbl = open_grbl()
    grbl.write(b"G91 G1 X1\n" + b"G4 P" + b"0" * 90 + b"\nG2 X1 I1\n")
    assert grbl.lines(3) == ["error:22", "error:11", "error:20"]


def test_g4_p0_is_acknowledged_only_after_the_move_has_ended(
    open_grbl: Callable[..., GrblClient],
) -> None:
    grbl = open_grbl()
    grbl.write(b"G91 G1 X2 F600\n")
    assert grbl.line() == "ok"
    sent = time.monotonic()
    grbl.write(b"G4 P0\n")
    assert grbl.line() == "ok"
    assert time.monotonic() - sent >= 0.2  # 2 mm at 10 mm/s plus ramps: 0.25 s
    assert state_of(grbl.status()) == "Idle"


def test_feed_hold_stops_then_cycle_start_completes_the_move(
    open_grbl: Callable[..., GrblClient],
) -> None:
    grbl = open_grbl(acceleration_mm_s2=20.0)  # half a second to stop from 10 mm/s
    grbl.write(b"G91 G1 X5 F600\nG4 P0\n")
    assert grbl.line() == "ok"
    grbl.wait_for(lambda r: state_of(r) == "Run" and x_of(r) > 0.1)
    grbl.write(b"!")
    assert state_of(grbl.status()) == "Hold:1"
    held = grbl.wait_for(lambda r: state_of(r) == "Hold:0")
    assert grbl.silent_for(0.3)
    assert x_of(grbl.status()) == x_of(held) < 5.0
    grbl.write(b"~")
    assert state_of(grbl.status()) == "Run"
    assert grbl.line(timeout=10.0) == "ok"  # the G4 P0 after the move
    assert x_of(grbl.wait_for(lambda r: state_of(r) == "Idle")) == 5.0


def test_a_reset_during_motion_alarms_and_locks_out_gcode_until_unlocked(
    open_grbl: Callable[..., GrblClient],
) -> None:
    grbl = open_grbl()
    grbl.write(b"G91 G1 X10 F600\n")
    assert grbl.line() == "ok"
    grbl.wait_for(lambda r: state_of(r) == "Run" and x_of(r) > 0.1)
    assert grbl.soft_reset() == ["ALARM:3", BANNER_LINE]
    assert grbl.line() == UNLOCK_HINT
    stopped = grbl.status()
    assert state_of(stopped) == "Alarm" and 0 < x_of(stopped) < 10
    grbl.write(b"G1 X1 F600\n")
    assert grbl.line() == "error:9"
    grbl.write(b"$X\n")
    assert grbl.lines(2) == ["[MSG:Caution: Unlocked]", "ok"]
    grbl.write(b"G91 G1 X1 F600\nG4 P0\n")
    assert grbl.lines(2) == ["ok", "ok"]
    assert x_of(grbl.status()) == pytest.approx(x_of(stopped) + 1.0)


def test_a_reset_in_a_completed_hold_keeps_the_position_without_alarm(
    open_grbl: Callable[..., GrblClient],
) -> None:
    grbl = open_grbl(acceleration_mm_s2=20.0)
    grbl.write(b"G91 G1 X10 F600\n")
    assert grbl.line() == "ok"
    grbl.wait_for(lambda r: state_of(r) == "Run" and x_of(r) > 0.1)
    grbl.write(b"!")
    held = grbl.wait_for(lambda r: state_of(r) == "Hold:0")
    assert grbl.soft_reset() == [BANNER_LINE]
    after = grbl.status()
    assert state_of(after) == "Idle" and x_of(after) == x_of(held)
    grbl.write(b"~")
    assert grbl.silent_for(0.3)
    assert x_of(grbl.status()) == x_of(held)  # the rest of the move was discarded


def test_stop_is_prompt_and_removes_the_link(tmp_path: Path) -> None:
    link = tmp_path / "grbl"
    sim = PtyGrblSimulator(link)
    sim.start()
    assert link.is_symlink()
    began = time.monotonic()
    sim.stop()
    assert time.monotonic() - began < 0.5
    assert not link.exists() and not link.is_symlink()


def test_serve_forever_serves_on_the_link_until_told_to_stop(tmp_path: Path) -> None:
    link, stop = tmp_path / "grbl", threading.Event()
    server = threading.Thread(target=serve_forever, args=(link, stop))
    server.start()
    try:
        deadline = time.monotonic() + 5.0
        while not link.is_symlink() and time.monotonic() < deadline:
            time.sleep(0.01)
        client = GrblClient(str(link))
        assert client.soft_reset() == [BANNER_LINE]
        client.serial.close()
    finally:
        stop.set()
        server.join(timeout=5.0)
    assert not server.is_alive() and not link.is_symlink()
