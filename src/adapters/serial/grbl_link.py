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

import serial

from adapters.serial import grbl_protocol as gp
from adapters.serial.grbl_session import GrblSession
from adapters.serial.line_reader import LineConnection, SerialFactory
from domain.errors import ControllerUnavailable

LOG = logging.getLogger(__name__)
_MAX_PARTIAL_LINE = 1024  # bytes without a newline before we call it noise and drop them
_JOIN_TIMEOUT_S = 1.0  # for the reader to see the stop (its reads time out sooner)


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
        self._conn: LineConnection | None = None
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
            stale.shutdown(_JOIN_TIMEOUT_S)
        try:
            port = self._factory(self.port_name, self._baudrate, self._read_timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ControllerUnavailable(f"cannot open {self.port_name}: {exc}") from exc
        conn = LineConnection(port, "grbl-reader")
        with self.cond:
            self._conn, self.down_reason = conn, None
            self._session.new_connection()
        conn.start(
            on_line=lambda raw: self._dispatch(conn, raw.decode("ascii", "replace").strip()),
            on_lost=lambda reason: self._lose(conn, reason),
            on_overflow=_drop_noise,
            max_partial=_MAX_PARTIAL_LINE,
        )

    def close(self) -> None:
        """Close the port and stop the reader thread. Idempotent; never blocks on a line."""
        with self.cond:
            conn, self._conn = self._conn, None
            self.fail_locked("link closed", closing=True)
        if conn is not None:
            conn.shutdown(_JOIN_TIMEOUT_S)

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

    def _up_locked(self) -> LineConnection:
        if self._conn is None or self.down_reason is not None:
            raise ControllerUnavailable(f"{self.port_name}: {self.down_reason}")
        return self._conn

    def _lose(self, conn: LineConnection, reason: str) -> None:
        with self.cond:
            if conn is self._conn:
                self.fail_locked(reason)

    # -- the reader thread ------------------------------------------------------------

    def _dispatch(self, conn: LineConnection, text: str) -> None:
        LOG.debug("grbl RX %s", text)
        line = gp.classify(text)
        with self.cond:
            if conn is not self._conn:  # a stale reader's late line
                return
            lost = self._session.apply(line)
            if lost is not None:  # the controller reset on its own: fail as a lost port
                self.fail_locked(lost)
            self.cond.notify_all()


def _drop_noise(noise: bytes) -> None:
    LOG.warning("grbl: dropping %d bytes without a newline", len(noise))
