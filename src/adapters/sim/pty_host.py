"""Hosting of a simulated serial device behind a real pseudo-terminal.

The daemon opens the pty's slave path with pyserial exactly as it would open
``/dev/ttyUSB0``, so the real serial adapter is what tests exercise. A background thread
reads the master side in blocks, hands the bytes to the device's protocol engine and writes
back what the engine answers, and polls the engine so time-driven output (a move finishing)
goes out unprompted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from adapters.sim.grbl import GrblConfig, GrblEngine

LOG = logging.getLogger(__name__)


class LineProtocolEngine(Protocol):
    """A device simulator as a pty host drives it: bytes in, bytes out, plus time."""

    def feed(self, data: bytes) -> bytes:
        """Take bytes the host wrote; return the device's immediate output."""

    def poll(self) -> bytes:
        """Return output the passing of time produced (called every few milliseconds)."""


EngineT = TypeVar("EngineT", bound=LineProtocolEngine)
T = TypeVar("T")


class PtyHost(Generic[EngineT]):
    """Runs ``engine`` behind a pty on a background thread.

    ``port`` is the slave device path (e.g. ``/dev/pts/7``); with ``link`` a symlink to it
    is made on ``start`` (an existing symlink there is replaced) and removed on ``stop``.
    The slave is put in raw mode (no echo, no newline translation) and kept open, so the
    port survives clients opening and closing it. ``poll_interval_s`` (s) bounds both the
    latency of time-driven output and how long ``stop`` takes. Use as a context manager.
    """

    def __init__(
        self, engine: EngineT, *, link: Path | None = None, poll_interval_s: float = 0.005
    ) -> None:
        self._engine, self._link, self._interval = engine, link, poll_interval_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = self._slave = -1
        self._port = ""

    @property
    def port(self) -> str:
        """The slave device path; raises ``RuntimeError`` before ``start``."""
        if not self._port:
            raise RuntimeError("pty host not started")
        return self._port

    def with_engine(self, action: Callable[[EngineT], T]) -> T:
        """Run ``action`` on the engine under the host's lock (the engine is not
        thread-safe) and return its result."""
        with self._lock:
            return action(self._engine)

    def start(self) -> None:
        """Open the pty, make the link and start serving. Idempotent while running."""
        if self._thread is not None:
            return
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self._port = os.ttyname(self._slave)
        # Power-up output goes out before anyone can open the port, so a client's open
        # (pyserial flushes input) discards it, as it would a real board's stale output.
        with self._lock:
            os.write(self._master, self._engine.poll())
        if self._link is not None:
            _replace_symlink(self._link, self._port)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"pty-sim {self._port}")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close both fds and remove the link. Idempotent."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=max(1.0, 10 * self._interval))
        self._thread = None
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1
        link = self._link
        if link is not None and link.is_symlink() and os.readlink(link) == self._port:
            link.unlink()
        self._port = ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        out = bytearray()
        try:
            while not self._stop.is_set():
                writers = [self._master] if out else []
                readable, _, _ = select.select([self._master], writers, [], self._interval)
                data = self._read() if readable else b""
                with self._lock:
                    out += self._engine.feed(data) if data else self._engine.poll()
                if out:
                    with contextlib.suppress(BlockingIOError):
                        del out[: os.write(self._master, out)]
        except Exception:  # the thread must not die silently: the port would just go quiet
            LOG.exception("pty simulator on %s stopped", self._port)
            raise

    def _read(self) -> bytes:
        try:
            return os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:  # EIO: no slave fd open; ours stays open, so this is transient
            time.sleep(self._interval)
            return b""


class PtyGrblSimulator(PtyHost[GrblEngine]):
    """A simulated Grbl 1.1h controller (``GrblEngine``) on a real pty.

    ``link`` (optional): symlink path to the slave, e.g. ``/tmp/grbl`` for
    ``screen /tmp/grbl 115200`` or the daemon's port setting. ``config`` sets axes,
    steps/mm, max rate (mm/min), acceleration (mm/s²), ``$10``. ``clock`` gives seconds.
    """

    def __init__(
        self,
        link: Path | None = None,
        *,
        config: GrblConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = 0.005,
    ) -> None:
        super().__init__(
            GrblEngine(config, clock=clock), link=link, poll_interval_s=poll_interval_s
        )

    def positions_mm(self) -> dict[str, float]:
        """Machine position (mm) of each axis now; thread-safe. A bench scale simulator
        polls this to turn pump travel into poured volume."""
        with self._lock:
            return self._engine.positions_mm()

    def state_name(self) -> str:
        """Machine state as a status report would show it (``Idle``, ``Hold:0`` ...)."""
        with self._lock:
            return self._engine.state_name()

    def power_cycle(self) -> None:
        """The simulated controller restarts on its own (``GrblEngine.power_cycle``): motion
        and planned moves are lost, positions restart at 0, the banner goes out unprompted."""
        with self._lock:
            self._engine.power_cycle()


def serve_forever(link: Path, stop: threading.Event, config: GrblConfig | None = None) -> None:
    """Serve a simulated Grbl on a pty linked at ``link`` until ``stop`` is set (for the
    ``doser simulate grbl --link PATH`` command)."""
    with PtyGrblSimulator(link, config=config) as sim:
        LOG.info("simulated Grbl 1.1h on %s (link %s)", sim.port, link)
        stop.wait()


def _replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target``; refuses to replace anything but a symlink."""
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink")
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    tmp.replace(link)
