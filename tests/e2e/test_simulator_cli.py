"""``doser simulate grbl --link PATH``: the simulator alone, for a terminal or a daemon."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

pytestmark = pytest.mark.slow
DOSER = Path(sys.executable).with_name("doser")


def test_the_simulator_answers_on_its_link_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    link = tmp_path / "grbl"
    process = subprocess.Popen([str(DOSER), "simulate", "grbl", "--link", str(link)])
    try:
        deadline = time.monotonic() + 15
        while not link.exists():
            assert process.poll() is None, "the simulator exited"
            assert time.monotonic() < deadline, "no link appeared"
            time.sleep(0.05)
        with serial.Serial(str(link), 115200, timeout=2) as port:
            port.write(b"\x18")
            banner = b""
            while b"Grbl 1.1h" not in banner and time.monotonic() < deadline:
                banner += port.read(64)
            assert b"Grbl 1.1h ['$' for help]\r\n" in banner
            port.write(b"$I\n")
            reply = b""
            while b"ok\r\n" not in reply and time.monotonic() < deadline:
                reply += port.read(64)
            assert b"[VER:1.1h" in reply
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    assert code == 0
    assert not link.exists()
