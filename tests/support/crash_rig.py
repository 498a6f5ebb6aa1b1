"""Rigs for crashing the daemon mid-dose: a Grbl simulator that outlives every daemon that
drives it (and counts the moves it was sent), the daemon as a real ``doser`` process one
can SIGKILL, and a switch that freezes an in-process daemon as a crash would.

A crash is not a shutdown: no halt, no journal write, no clean close. What survives it is
what survives a real one: the journal file and the controller, still moving.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dependency_injector import providers

from adapters.sim.grbl import GrblEngine
from adapters.sim.pty_host import PtyHost
from bootstrap.resources import SIMULATED_GRBL
from support.daemon_harness import http, wait_for

DOSER = Path(sys.executable).with_name("doser")
TOKEN = "crash-token"


class RecordingGrbl:
    """The simulated Grbl 1.1h engine, keeping every byte the hosts wrote to it."""

    def __init__(self) -> None:
        self.engine = GrblEngine(SIMULATED_GRBL)
        self.received = bytearray()

    def feed(self, data: bytes) -> bytes:
        self.received += data
        return self.engine.feed(data)

    def poll(self) -> bytes:
        return self.engine.poll()


class OutlivingGrbl(PtyHost[RecordingGrbl]):
    """A simulated controller on a pty (symlinked at ``link`` if given) that keeps running,
    and keeps its machine position, while daemons come and go. Context manager."""

    def __init__(self, link: Path | None = None) -> None:
        super().__init__(RecordingGrbl(), link=link)

    def positions_mm(self) -> dict[str, float]:
        """Machine position (mm) of each axis now, from the controller itself."""
        return self.with_engine(lambda e: e.engine.positions_mm())

    def position_mm(self, axis: str = "X") -> float:
        return self.positions_mm()[axis]

    def state_name(self) -> str:
        """Machine state as a status report shows it (``Idle``, ``Run``, ``Alarm`` ...)."""
        return self.with_engine(lambda e: e.engine.state_name())

    def moves_received(self) -> int:
        """How many motion lines (``G1``) daemons have sent it so far."""
        return self.with_engine(lambda e: bytes(e.received).count(b"G1"))

    def power_cycle(self) -> None:
        """The controller restarts on its own: motion lost, positions back to 0."""
        self.with_engine(lambda e: e.engine.power_cycle())

    def wait_still(self, axis: str = "X", still_s: float = 0.25, timeout_s: float = 10.0) -> float:
        """Wait until ``axis`` has not moved for ``still_s`` (s); returns the monotonic time
        of its last movement. Polls every 5 ms."""
        last, moved_at = self.position_mm(axis), time.monotonic()
        deadline = moved_at + timeout_s
        while time.monotonic() - moved_at < still_s:
            assert time.monotonic() < deadline, f"axis {axis} still moving after {timeout_s} s"
            time.sleep(0.005)
            now = self.position_mm(axis)
            if now != last:
                last, moved_at = now, time.monotonic()
        return moved_at


# --- the daemon as a real process -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DoserProcess:
    """``doser run --config`` against the controller at ``link``, one pump X at 0.05 ml/mm
    up to 150 ml/min, MQTT off, on a free loopback port. The data dir and the log stay the
    same across ``start``s, as on a device that reboots."""

    ML_PER_MM = 0.05

    def __init__(self, workdir: Path, link: Path, *, dead_man_s: float = 5.0) -> None:
        self.port = free_port()
        self.data_dir = workdir / "var"
        self.config = workdir / "doser.toml"
        self.config.write_text(
            f'data_dir = "{self.data_dir}"\n'
            'log_level = "info"\n'
            f'[http]\nport = {self.port}\ntoken = "{TOKEN}"\n'
            '[mqtt]\nurl = ""\n'
            f'[controller]\nport = "{link}"\n'
            f"[safety]\ndead_man_s = {dead_man_s}\n"
            f'[[pumps]]\nid = "X"\nname = "DMDEE"\nml_per_mm = {self.ML_PER_MM}\n'
            "max_flow_ml_min = 150.0\n"
        )
        self.log = workdir / "doser.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the process and wait until /healthz answers and the controller is up."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOSER_")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(DOSER), "run", "--config", str(self.config)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, timeout_s, "doser's /healthz and controller link")

    def kill(self) -> None:
        """SIGKILL: no signal handler, no halt, no journal write; wait for it to be gone."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """At teardown: SIGTERM, then SIGKILL if it hangs. Only our own process, by PID."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http(self.base_url, method, path, body, TOKEN)

    def history(self) -> list[dict[str, Any]]:
        status, body = self.call("GET", "/api/history?limit=1000")
        assert status == 200, body
        return list(body["doses"])

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"doser exited with {self.process.returncode}; see {self.log}")
        try:
            healthy = self.call("GET", "/healthz")[0] == 200
            status = self.call("GET", "/api/status")[1]
        except OSError:
            return False
        return healthy and bool(status["controller"]["connected"])


# --- the daemon in-process: a crash as a frozen process ---------------------------------


class Crashed(BaseException):
    """Raised into the crashed daemon's own thread: none of its code may act any more.
    A BaseException, so no ``except Exception`` in the daemon turns it into a halt."""


class CrashSwitch:
    """Guards adapters so that, once ``trip``ped, every call the daemon makes on them raises
    ``Crashed`` instead of reaching the device or the disk, as if the process had died."""

    def __init__(self) -> None:
        self.tripped = threading.Event()

    def guard(self, target: object) -> Any:
        return _Guarded(target, self.tripped)

    def trip(self) -> None:
        self.tripped.set()


class _Guarded:
    def __init__(self, target: object, tripped: threading.Event) -> None:
        self._target, self._tripped = target, tripped

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._tripped.is_set():
                raise Crashed(name)
            return attribute(*args, **kwargs)

        return call


def _run_until_crash(body: Callable[[threading.Event], None], stop: threading.Event) -> None:
    with contextlib.suppress(Crashed):  # the process is gone: nothing of it runs or reports
        body(stop)


class CrashableDaemon:
    """A wired container with its control-plane thread, as the daemon runs it, whose
    adapters named in ``guarded`` (name → the instance to use: the journal, the controller,
    the outbox, the NVS) are reached only through a ``CrashSwitch``. ``crash`` freezes it
    mid-whatever; ``stop`` is the orderly halt."""

    def __init__(self, app: Any, guarded: dict[str, object]) -> None:
        self.app = app
        self.switch = CrashSwitch()
        self.guarded = guarded
        for name, instance in guarded.items():
            getattr(app.adapters, name).override(providers.Object(self.switch.guard(instance)))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_run_until_crash, args=(app.control_plane().run, self._stop), daemon=True
        )
        self.crashed = False

    def start(self) -> None:
        self.app.init_resources()
        self._thread.start()

    def crash(self) -> None:
        """Die now: the control-plane thread stops at its next call into a guarded adapter
        (within one poll), without a feed hold, a flush or a journal write. The files it
        held are then closed, as the OS closes a dead process's files; a serial port the
        caller opened is the caller's to close (closing it writes nothing either)."""
        self.crashed = True
        self.switch.trip()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "the crashed control plane is still running"
        self.app.shutdown_resources()  # its files closed; no row is written by closing

    def stop(self) -> None:
        """The orderly stop (at teardown); nothing is left to stop of a crashed daemon."""
        if not self.crashed:
            self._stop.set()
            self._thread.join(timeout=30)
            self.app.shutdown_resources()
