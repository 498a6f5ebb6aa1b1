"""The serial link to one Grbl and the reader thread behind it.

``GrblLink`` opens and closes the port, writes bytes from any thread and runs one reader
thread per connection. The reader reads in blocks, splits lines and applies each to the
``GrblSession``, then wakes every waiter on ``cond``. A failed read or write, or a reset
the controller did on its own (a banner we did not ask for), takes the link down and fails
the line in flight, so no caller waits on a dead port or trusts a rebooted controller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

import serial

from adapters.serial import grbl_protocol as gp
from adapters.serial.grbl_session import GrblSession
from domain.errors import ControllerUnavailable

LOG = logging.getLogger(__name__)
_MAX_PARTIAL_LINE = 1024  # bytes without a newline before we call it noise and drop them


class SerialPort(Protocol):
    """The slice of ``serial.Serial`` the adapter uses, so tests can pass their own."""

    @property
    def in_waiting(self) -> int: ...
    def read(self, size: int = 1) -> bytes: ...
    def write(self, data: bytes, /) -> int | None: ...
    def close(self) -> None: ...


SerialFactory = Callable[[str, int, float], SerialPort]


def open_serial_port(port: str, baudrate: int, read_timeout_s: float) -> SerialPort:
    """Open ``port`` (a device path or any pyserial URL) exclusively, 8N1 at ``baudrate``.

    ``read_timeout_s`` (s) bounds one read. pyserial discards input that arrived before
    ``open``. Raises ``serial.SerialException`` / ``OSError`` / ``ValueError``.
    """
    return serial.serial_for_url(
        port, baudrate=baudrate, timeout=read_timeout_s, write_timeout=1.0, exclusive=True
    )


class _Connection:
    """One open port, its reader thread and its partial input line."""

    def __init__(self, port: SerialPort) -> None:
        self.port = port
        self.stop = threading.Event()
        self.pending = bytearray()
        self.thread: threading.Thread | None = None


class GrblLink:
    """The connection to the Grbl on ``port_name``, feeding ``session``.

    ``cond`` guards ``session``, ``down_reason`` (None while the link is up, else why it is
    down) and the connection; the reader notifies it after every line and the link notifies
    it when it goes down. Methods named ``*_locked`` need ``cond`` held.
    ``factory(port_name, baudrate, read_timeout_s)`` opens the port; ``read_timeout_s`` (s)
    bounds one read, hence how soon the reader sees ``close``.
    """

    def __init__(
        self,
        port_name: str,
        baudrate: int,
        read_timeout_s: float,
        factory: SerialFactory,
        session: GrblSession,
    ) -> None:
        self.port_name = port_name
        self._baudrate = baudrate
        self._read_timeout_s = read_timeout_s
        self._factory = factory
        self._session = session
        self._write_lock = threading.Lock()
        self.cond = threading.Condition()
        self._conn: _Connection | None = None
        self.down_reason: str | None = "link not open"

    @property
    def connected(self) -> bool:
        """True while the link is open and healthy."""
        with self.cond:
            return self._conn is not None and self.down_reason is None

    def open(self) -> None:
        """Replace any previous connection with a new one and start its reader; the session
        forgets the old connection. Raises ``ControllerUnavailable`` when the port won't open."""
        with self.cond:
            stale, self._conn = self._conn, None
        if stale is not None:
            self._shutdown(stale)
        try:
            port = self._factory(self.port_name, self._baudrate, self._read_timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ControllerUnavailable(f"cannot open {self.port_name}: {exc}") from exc
        conn = _Connection(port)
        with self.cond:
            self._conn, self.down_reason = conn, None
            self._session.new_connection()
        conn.thread = threading.Thread(
            target=self._read_loop, args=(conn,), name="grbl-reader", daemon=True
        )
        conn.thread.start()

    def close(self) -> None:
        """Close the port and stop the reader thread. Idempotent; never blocks on a line."""
        with self.cond:
            conn, self._conn = self._conn, None
            self.fail_locked("link closed", closing=True)
        if conn is not None:
            self._shutdown(conn)

    def write(self, data: bytes) -> None:
        """Write ``data`` now, from any thread. Raises ``ControllerUnavailable`` while the link
        is down or when the write fails (which takes the link down)."""
        with self.cond:
            conn = self._up_locked()
        try:
            with self._write_lock:
                conn.port.write(data)
        except (serial.SerialException, OSError) as exc:
            self._lose(conn, f"write failed: {exc}")
            raise ControllerUnavailable(f"write to {self.port_name} failed: {exc}") from exc
        LOG.debug("grbl TX %r", data)

    def check_up_locked(self) -> None:
        """Raise ``ControllerUnavailable``, naming the reason, unless the link is up."""
        self._up_locked()

    def wait_locked(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait on ``cond`` until ``predicate()`` holds or the link is down, at most
        ``timeout_s`` (s); False on timeout."""
        return self.cond.wait_for(
            lambda: predicate() or self.down_reason is not None, timeout=timeout_s
        )

    def fail_locked(self, reason: str, *, closing: bool = False) -> None:
        """Mark the link down (keeping the first reason) and fail whatever waits on it."""
        if self.down_reason is None:
            level = logging.INFO if closing else logging.WARNING
            LOG.log(level, "grbl: link to %s down: %s", self.port_name, reason)
            self.down_reason = reason
        self._session.finish_inflight(ControllerUnavailable(f"{self.port_name}: {reason}"))
        self.cond.notify_all()

    def _up_locked(self) -> _Connection:
        if self._conn is None or self.down_reason is not None:
            raise ControllerUnavailable(f"{self.port_name}: {self.down_reason}")
        return self._conn

    def _lose(self, conn: _Connection, reason: str) -> None:
        with self.cond:
            if conn is self._conn:
                self.fail_locked(reason)

    def _shutdown(self, conn: _Connection) -> None:
        conn.stop.set()
        if conn.thread is not None and conn.thread is not threading.current_thread():
            conn.thread.join(timeout=1.0)
        try:
            conn.port.close()
        except (serial.SerialException, OSError) as exc:
            LOG.debug("grbl: closing %s: %s", self.port_name, exc)

    # -- the reader thread ------------------------------------------------------------

    def _read_loop(self, conn: _Connection) -> None:
        """Read in blocks (never ``readline``: byte-by-byte reads stall behind the GIL)."""
        port = conn.port
        while not conn.stop.is_set():
            try:
                chunk = port.read(max(1, port.in_waiting))
            except Exception as exc:  # any failure of a vanished port ends this link
                if not conn.stop.is_set():
                    self._lose(conn, f"read failed: {exc}")
                return
            if not chunk:
                continue
            conn.pending += chunk
            *lines, rest = conn.pending.split(b"\n")
            conn.pending = bytearray(rest)
            if len(conn.pending) > _MAX_PARTIAL_LINE:
                LOG.warning("grbl: dropping %d bytes without a newline", len(conn.pending))
                conn.pending.clear()
            for raw in lines:
                text = raw.decode("ascii", errors="replace").strip()
                try:
                    self._dispatch(conn, text)
                except Exception:  # a bad line must never kill the reader
                    LOG.exception("grbl: could not handle line %r", text)

    def _dispatch(self, conn: _Connection, text: str) -> None:
        LOG.debug("grbl RX %s", text)
        line = gp.classify(text)
        with self.cond:
            if conn is not self._conn:  # a stale reader's late line
                return
            lost = self._session.apply(line)
            if lost is not None:  # the controller reset on its own: fail as a lost port
                self.fail_locked(lost)
            self.cond.notify_all()
