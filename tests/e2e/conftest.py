"""End to end: ``doser run --simulate`` as a real process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.daemon_harness import http

DOSER = Path(sys.executable).with_name("doser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DaemonProcess:
    """A running ``doser`` process and how to talk to it."""

    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path

    @property
    def token(self) -> str:
        return (self.data_dir / "http_token").read_text().strip()

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """One HTTP request; returns (status, decoded JSON body)."""
        return http(self.base_url, method, path, body, token)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"doser exited early with {self.process.returncode}")
            try:
                status, body = self.call("GET", "/api/status")
                if status == 200 and body["controller"]["connected"]:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise AssertionError("doser did not become ready")

    def terminate(self, timeout_s: float = 20.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)


def start_daemon(tmp_path: Path, *extra_env: tuple[str, str]) -> DaemonProcess:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSER_")}
    env.update({"DOSER_DATA_DIR": str(tmp_path / "var"), "DOSER_HTTP__PORT": str(port)})
    env.update(dict(extra_env))
    log = (tmp_path / "doser.log").open("wb")
    process = subprocess.Popen(
        [str(DOSER), "run", "--simulate"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    return DaemonProcess(process, f"http://127.0.0.1:{port}", tmp_path / "var")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    proc = start_daemon(tmp_path)
    try:
        proc.wait_ready()
        yield proc
    finally:
        if proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait(timeout=10)
