"""The serial link to one MT-SICS scale and the reader thread behind it.

``MtSicsLink`` opens and closes the port, writes from any thread and runs one reader
thread per connection. The reader reads in blocks (never ``readline``: it reads byte by
byte, and with a CPU-bound thread in the process each byte waits out the GIL's switch
interval), splits lines itself and hands each to the ``ScaleSession``, then wakes every
waiter on ``cond``. A failed read or write takes the link down and wakes the waiter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import serial

from adapters.scale import mt_sics_protocol as mp
from adapters.scale.mt_sics_session import Answer, ScaleSession, Waiter
from adapters.serial.line_reader import LineConnection, SerialFactory
from domain.errors import ScaleUnavailable

LOG = logging.getLogger(__name__)
_MAX_PARTIAL_LINE = 256  # bytes without a newline before we call them noise and drop them


class MtSicsLink:
    """The connection to the scale on ``port_name``, feeding ``session``.

    ``cond`` guards ``session``, ``down_reason`` (None while the link is up, else why it is
    down) and the connection; methods named ``*_locked`` need it held.
    ``factory(port_name, baudrate, read_timeout_s)`` opens the port; ``read_timeout_s`` (s)
    bounds one read, hence how soon the reader sees ``close``. ``monotonic()`` stamps
    readings (s).
    """

    def __init__(
        self,
        port_name: str,
        baudrate: int,
        read_timeout_s: float,
        factory: SerialFactory,
        monotonic: Callable[[], float],
    ) -> None:
        self.port_name = port_name
        self._baudrate, self._read_timeout_s = baudrate, read_timeout_s
        self._factory, self._monotonic = factory, monotonic
        self._write_lock = threading.Lock()
        self.cond = threading.Condition()
        self._conn: LineConnection | None = None
        self.down_reason: str | None = "link not open"
        self.session = ScaleSession(port_name)

    def open(self) -> None:
        """Replace any previous connection with a new one and start its reader. Raises
        ``ScaleUnavailable`` when the port will not open."""
        self.close()
        try:
            port = self._factory(self.port_name, self._baudrate, self._read_timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ScaleUnavailable(f"cannot open {self.port_name}: {exc}") from exc
        conn = LineConnection(port, "scale-reader")
        with self.cond:
            self._conn, self.down_reason = conn, None
            self.session.new_connection()
        # an over-long line is handed on whole: the session counts it as garbage
        dispatch = lambda raw: self._dispatch(conn, raw)  # noqa: E731
        conn.start(dispatch, lambda reason: self._lose(conn, reason), dispatch, _MAX_PARTIAL_LINE)

    def close(self) -> None:
        """Close the port and join the reader thread. Idempotent."""
        with self.cond:
            conn, self._conn = self._conn, None
            self._fail_locked("link closed", closing=True)
        if conn is not None:
            conn.shutdown(max(1.0, 10 * self._read_timeout_s))

    def check_up_locked(self) -> None:
        """Raise ``ScaleUnavailable``, naming the reason, unless the link is up."""
        self._up_locked()

    def write(self, command: str) -> None:
        """Send ``command`` (CR LF added). Raises ``ScaleUnavailable`` while the link is down
        or when the write fails (which takes the link down)."""
        with self.cond:
            conn = self._up_locked()
        try:
            with self._write_lock:
                conn.port.write(mp.encode(command))
        except (serial.SerialException, OSError) as exc:
            self._lose(conn, f"write failed: {exc}")
            raise ScaleUnavailable(f"write to {self.port_name} failed: {exc}") from exc
        LOG.debug("scale TX %s", command)

    def request(self, command: str, answers: str, timeout_s: float) -> Answer | None:
        """Send ``command`` and wait up to ``timeout_s`` (s) for the reply whose command
        field is ``answers`` (or a general error); None when none came. Raises
        ``ScaleUnavailable`` when the link is or goes down."""
        waiter = Waiter(answers)
        with self.cond:
            self.check_up_locked()
            self.session.waiter = waiter
        try:
            self.write(command)
            with self.cond:
                self.cond.wait_for(
                    lambda: waiter.answer is not None or self.down_reason is not None,
                    timeout=timeout_s,
                )
                if waiter.answer is None:
                    self.check_up_locked()
                return waiter.answer
        finally:
            with self.cond:
                if self.session.waiter is waiter:
                    self.session.waiter = None

    def _up_locked(self) -> LineConnection:
        if self._conn is None or self.down_reason is not None:
            raise ScaleUnavailable(f"{self.port_name}: {self.down_reason}")
        return self._conn

    def _fail_locked(self, reason: str, *, closing: bool = False) -> None:
        if self.down_reason is None:
            level = logging.INFO if closing else logging.WARNING
            LOG.log(level, "scale: link to %s down: %s", self.port_name, reason)
            self.down_reason = reason
        self.cond.notify_all()

    def _lose(self, conn: LineConnection, reason: str) -> None:
        with self.cond:
            if conn is self._conn:
                self._fail_locked(reason)

    # -- the reader thread ------------------------------------------------------------

    def _dispatch(self, conn: LineConnection, raw: bytes) -> None:
        now = self._monotonic()
        with self.cond:
            if conn is self._conn:  # else a stale reader's late line
                self.session.apply(raw, now)
                self.cond.notify_all()
