"""The ``MotionController`` port on a Grbl 1.1 / FluidNC controller over a serial line.

One reader thread per connection turns the byte stream into lines and dispatches them:
``ok``/``error:N`` answer the line in flight, ``<...>`` status reports, ``ALARM:N``, the
start-up banner and push messages (``[MSG:...]`` etc.) update state and wake waiters. The
calling threads stream one line at a time and wait for its reply (the "simple
send-response" protocol, Grbl 1.1 interface.md); real-time bytes (``?``, ``!``, ``~``,
0x18) bypass the stream (DESIGN §2: e-stop never queues behind a line).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import serial

from adapters.serial import grbl_protocol as gp
from domain.errors import (
    ControllerFault,
    ControllerRejected,
    ControllerUnavailable,
    DoserError,
    InvalidDose,
    PumpBusy,
)
from domain.motion import ControllerState, ControllerStatus

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


@dataclass(eq=False)
class _Line:
    """A streamed line awaiting Grbl's ``ok`` / ``error:N``."""

    text: str
    is_sync: bool = False
    done: bool = False
    error: DoserError | None = None


class _Link:
    """One open serial connection, its reader thread and its partial input line."""

    def __init__(self, port: SerialPort) -> None:
        self.port = port
        self.stop = threading.Event()
        self.pending = bytearray()
        self.thread: threading.Thread | None = None


class GrblController:
    """Grbl 1.1 / FluidNC on ``port`` (device path or pyserial URL), one pump per axis.

    ``axes`` are the letters moves may use. Timeouts (s): ``reset_timeout_s`` for the
    banner after a soft reset (an Arduino also reboots when the port opens: allow ~2 s),
    ``ack_timeout_s`` for a line's ``ok``, ``status_timeout_s`` for a status report.
    ``serial_factory(port, baudrate, read_timeout_s)`` opens the port (tests may inject).

    Thread model: streaming methods (``open``, ``start_move``, ``flush``, ``unlock``) are
    serialised by one lock; ``status``, ``feed_hold``, ``cycle_start`` and ``close`` never
    take it. Every method raises ``ControllerUnavailable`` while the link is down; after a
    loss ``open()`` reconnects.
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 115200,
        axes: tuple[str, ...] = ("X", "Y", "Z", "A"),
        *,
        reset_timeout_s: float = 5.0,
        ack_timeout_s: float = 5.0,
        status_timeout_s: float = 1.0,
        read_timeout_s: float = 0.05,
        serial_factory: SerialFactory = open_serial_port,
    ) -> None:
        self._port_name = port
        self._baudrate = baudrate
        self._axes = axes
        self._reset_timeout_s = reset_timeout_s
        self._ack_timeout_s = ack_timeout_s
        self._status_timeout_s = status_timeout_s
        self._read_timeout_s = read_timeout_s
        self._factory = serial_factory
        self._stream_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()  # guards everything below; the reader notifies
        self._link: _Link | None = None
        self._down_reason: str | None = "link not open"
        self._inflight: _Line | None = None
        self._sync: _Line | None = None
        self._status: ControllerStatus | None = None
        self._report: gp.StatusReport | None = None
        self._status_seq = 0
        self._wco: tuple[float, ...] | None = None
        self._banner_seq = 0
        self._banner = ""
        self._alarm: int | None = None
        self._reset_required = False
        self._messages: deque[str] = deque(maxlen=50)

    # -- inspection -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the link is open and healthy."""
        with self._cond:
            return self._link is not None and self._down_reason is None

    @property
    def banner(self) -> str:
        """The last start-up banner seen, e.g. ``Grbl 1.1h ['$' for help]``."""
        with self._cond:
            return self._banner

    @property
    def last_alarm(self) -> int | None:
        """The number of the last ``ALARM:N`` seen on this connection, if any."""
        with self._cond:
            return self._alarm

    @property
    def last_report(self) -> gp.StatusReport | None:
        """The last full status report (buffer, overrides, pins...), if any."""
        with self._cond:
            return self._report

    @property
    def messages(self) -> tuple[str, ...]:
        """Recent push messages (``[MSG:...]``, ``[GC:...]``, ``$N=...``), oldest first."""
        with self._cond:
            return tuple(self._messages)

    # -- the port ---------------------------------------------------------------------

    def open(self) -> None:
        """Open the port, soft-reset the controller (0x18) and wait for its banner.

        pyserial discards what arrived before ``open``, so the reset makes Grbl announce
        itself (interface.md: the banner prints after every reset). An alarm after the
        banner (``[MSG:'$H'|'$X' to unlock]``) does not fail ``open``; ``status()`` shows it.
        No-op while connected. Raises ``ControllerUnavailable`` (port error, no banner).
        """
        with self._stream_lock:
            with self._cond:
                if self._link is not None and self._down_reason is None:
                    return
                stale, self._link = self._link, None
            if stale is not None:
                self._shutdown(stale)
            try:
                port = self._factory(self._port_name, self._baudrate, self._read_timeout_s)
            except (serial.SerialException, OSError, ValueError) as exc:
                raise ControllerUnavailable(f"cannot open {self._port_name}: {exc}") from exc
            link = _Link(port)
            with self._cond:
                self._link, self._down_reason = link, None
                self._inflight = self._sync = self._status = self._report = self._wco = None
                self._alarm, self._reset_required = None, False
            link.thread = threading.Thread(
                target=self._read_loop, args=(link,), name="grbl-reader", daemon=True
            )
            link.thread.start()
            try:
                self._soft_reset()
            except ControllerUnavailable:
                self.close()
                raise
            LOG.info("grbl: %s on %s", self.banner, self._port_name)

    def close(self) -> None:
        """Close the port and stop the reader thread. Idempotent; never blocks on a line."""
        with self._cond:
            link, self._link = self._link, None
            self._fail_locked("link closed", closing=True)
        if link is not None:
            self._shutdown(link)

    def start_move(self, distances_mm: Mapping[str, float], feed_mm_min: float) -> None:
        """Send ``G91 G1 X<mm> F<mm/min>`` and, once Grbl's ``ok`` says it is planned (not
        done), ``G4 P0`` without waiting: its ``ok`` arrives when all motion finished
        (``motion_done``). Raises ``ControllerRejected`` (``error:N``), ``ControllerFault``
        (``ALARM:N`` before the ok, or a limit alarm not yet cleared by ``unlock``),
        ``InvalidDose`` (unknown axis, line too long), ``PumpBusy`` when the previous
        move's ``G4 P0`` is still unanswered after ``ack_timeout_s``: a new line waits for
        the previous line's reply first (one line in flight).
        """
        try:
            line = gp.format_move(distances_mm, feed_mm_min, self._axes)
        except ValueError as exc:
            raise InvalidDose(str(exc), field="distances_mm") from exc
        with self._stream_lock:
            if line is not None:
                self._send(line, wait=True)
            self._send(gp.SYNC_LINE, wait=False)

    def motion_done(self) -> bool:
        """True once the last ``G4 P0`` was answered, or voided by a reset or alarm (motion
        was then stopped and the planner flushed); True when no move was sent."""
        with self._cond:
            self._check_up_locked()
            return self._sync is None or self._sync.done

    def status(self) -> ControllerStatus:
        """Send ``?`` and return the next status report (positions in mm, feed mm/min).

        Re-asks while waiting, since Grbl may drop a query (interface.md: a reset clears it).
        While Grbl waits for a reset after a hard/soft limit alarm it ignores ``?``
        (interface.md), so the last known positions are returned in state Alarm.
        Raises ``ControllerUnavailable`` when no report arrives within ``status_timeout_s``.
        """
        deadline = time.monotonic() + self._status_timeout_s
        with self._cond:
            seq = self._status_seq
        while True:
            with self._cond:
                self._check_up_locked()
                if self._reset_required:
                    known = self._status.positions_mm if self._status else {}
                    return ControllerStatus(ControllerState.ALARM, dict(known))
            self._write(gp.STATUS_QUERY)
            ask_again = min(deadline, time.monotonic() + max(0.1, self._status_timeout_s / 3))
            with self._cond:
                self._cond.wait_for(
                    lambda: (
                        self._status_seq != seq
                        or self._down_reason is not None
                        or self._reset_required
                    ),
                    timeout=max(0.0, ask_again - time.monotonic()),
                )
                if self._status_seq != seq and self._status is not None:
                    return self._status
            if time.monotonic() >= deadline:
                raise ControllerUnavailable(
                    f"no status report within {self._status_timeout_s} s on {self._port_name}"
                )

    def feed_hold(self) -> None:
        """Real-time feed hold ``!``: decelerate to rest, keep position. Any thread."""
        self._write(gp.FEED_HOLD)

    def cycle_start(self) -> None:
        """Real-time cycle start ``~``: resume after a feed hold. Any thread."""
        self._write(gp.CYCLE_START)

    def flush(self) -> None:
        """After a completed hold (``Hold:0``): soft reset (0x18) flushes the planned motion
        and Grbl keeps its position (motion_control.c ``mc_reset``: no alarm unless moving
        or still decelerating). Waits for the banner, then checks the state.

        Raises ``ControllerFault`` when Grbl came back in Alarm (e.g. ``ALARM:3``, reset
        while moving: position suspect), ``ControllerUnavailable`` when no banner came.
        """
        with self._stream_lock:
            self._soft_reset()
        state = self.status().state
        if state is ControllerState.ALARM:
            number = self.last_alarm or 0
            raise ControllerFault(number, gp.alarm_message(number))
        if state is not ControllerState.IDLE:
            LOG.warning("grbl: %s after flush, not Idle", state.value)

    def unlock(self) -> None:
        """Clear an alarm lock with ``$X`` and wait for its ``ok``. After a hard/soft limit
        Grbl first needs a soft reset (``[MSG:Reset to continue]``), done here."""
        with self._stream_lock:
            with self._cond:
                needs_reset = self._reset_required
            if needs_reset:
                self._soft_reset()
            self._send(gp.UNLOCK_LINE, wait=True)

    # -- streaming --------------------------------------------------------------------

    def _send(self, text: str, *, wait: bool) -> None:
        """Stream one line; with ``wait``, block for its reply. Stream lock held."""
        line = _Line(text, is_sync=text == gp.SYNC_LINE)
        with self._cond:
            # One line in flight at a time: a pending G4 P0 is the previous line.
            if not self._cond.wait_for(
                lambda: self._inflight is None or self._down_reason is not None,
                timeout=self._ack_timeout_s,
            ):
                raise PumpBusy(f"controller still running the previous move ({text!r} waits)")
            self._check_up_locked()
            if self._reset_required:  # Grbl ignores every line until reset (interface.md)
                number = self._alarm or 0
                raise ControllerFault(number, f"{gp.alarm_message(number)}; unlock first")
            self._inflight = line
            if line.is_sync:
                self._sync = line
        self._write(f"{text}\n".encode("ascii"))
        if not wait:
            return
        with self._cond:
            if not self._cond.wait_for(lambda: line.done, timeout=self._ack_timeout_s):
                self._fail_locked(f"no reply to {text!r} within {self._ack_timeout_s} s")
        if line.error is not None:
            raise line.error

    def _soft_reset(self) -> None:
        """Write 0x18 and wait for the banner; stream lock held. No banner: link down."""
        with self._cond:
            self._check_up_locked()
            seq = self._banner_seq
        self._write(gp.SOFT_RESET)
        with self._cond:
            if not self._cond.wait_for(
                lambda: self._banner_seq != seq or self._down_reason is not None,
                timeout=self._reset_timeout_s,
            ):
                self._fail_locked(f"no Grbl banner within {self._reset_timeout_s} s of a reset")
            self._check_up_locked()

    def _write(self, data: bytes) -> None:
        with self._cond:
            link = self._check_up_locked()
        try:
            with self._write_lock:
                link.port.write(data)
        except (serial.SerialException, OSError) as exc:
            self._lose(link, f"write failed: {exc}")
            raise ControllerUnavailable(f"write to {self._port_name} failed: {exc}") from exc
        LOG.debug("grbl TX %r", data)

    # -- link state (call with self._cond held where named _locked) ---------------------

    def _check_up_locked(self) -> _Link:
        if self._link is None or self._down_reason is not None:
            raise ControllerUnavailable(f"{self._port_name}: {self._down_reason}")
        return self._link

    def _fail_locked(self, reason: str, *, closing: bool = False) -> None:
        """Mark the link down (keeping the first reason) and fail whatever waits on it."""
        if self._down_reason is None:
            level = logging.INFO if closing else logging.WARNING
            LOG.log(level, "grbl: link to %s down: %s", self._port_name, reason)
            self._down_reason = reason
        self._finish_inflight_locked(ControllerUnavailable(f"{self._port_name}: {reason}"))
        self._cond.notify_all()

    def _lose(self, link: _Link, reason: str) -> None:
        with self._cond:
            if link is self._link:
                self._fail_locked(reason)

    def _finish_inflight_locked(self, error: DoserError | None) -> None:
        line, self._inflight = self._inflight, None
        if line is not None:
            line.done, line.error = True, error

    def _shutdown(self, link: _Link) -> None:
        link.stop.set()
        if link.thread is not None and link.thread is not threading.current_thread():
            link.thread.join(timeout=1.0)
        try:
            link.port.close()
        except (serial.SerialException, OSError) as exc:
            LOG.debug("grbl: closing %s: %s", self._port_name, exc)

    # -- the reader thread ------------------------------------------------------------

    def _read_loop(self, link: _Link) -> None:
        """Read in blocks (never ``readline``: byte-by-byte reads stall behind the GIL)."""
        port = link.port
        while not link.stop.is_set():
            try:
                chunk = port.read(max(1, port.in_waiting))
            except Exception as exc:  # any failure of a vanished port ends this link
                if not link.stop.is_set():
                    self._lose(link, f"read failed: {exc}")
                return
            if not chunk:
                continue
            link.pending += chunk
            *lines, rest = link.pending.split(b"\n")
            link.pending = bytearray(rest)
            if len(link.pending) > _MAX_PARTIAL_LINE:
                LOG.warning("grbl: dropping %d bytes without a newline", len(link.pending))
                link.pending.clear()
            for raw in lines:
                text = raw.decode("ascii", errors="replace").strip()
                try:
                    self._dispatch(link, text)
                except Exception:  # a bad line must never kill the reader
                    LOG.exception("grbl: could not handle line %r", text)

    def _dispatch(self, link: _Link, text: str) -> None:
        LOG.debug("grbl RX %s", text)
        line = gp.classify(text)
        with self._cond:
            if link is not self._link:
                return
            match line.kind:
                case gp.LineKind.OK | gp.LineKind.ERROR:
                    self._on_reply(line)
                case gp.LineKind.STATUS:
                    self._on_status(line.text)
                case gp.LineKind.ALARM:
                    self._on_alarm(line.number or 0)
                case gp.LineKind.BANNER:
                    self._on_banner(line.text)
                case gp.LineKind.FEEDBACK | gp.LineKind.SETTING | gp.LineKind.STARTUP:
                    LOG.info("grbl: %s", line.text)
                    self._messages.append(line.text)
                    if "Reset to continue" in line.text:  # FluidNC adds "INFO: "
                        self._reset_required = True
                case gp.LineKind.UNKNOWN:
                    LOG.warning("grbl: ignoring unexpected line %r", line.text)
            self._cond.notify_all()

    def _on_reply(self, line: gp.GrblLine) -> None:
        inflight = self._inflight
        if inflight is None:
            LOG.warning("grbl: %r with no line in flight, ignored", line.text)
            return
        error = None
        if line.kind is gp.LineKind.ERROR:
            number = line.number or 0
            error = ControllerRejected(number, gp.error_message(number))
            LOG.warning("grbl: %r answered %s", inflight.text, line.text)
        self._finish_inflight_locked(error)

    def _on_status(self, text: str) -> None:
        try:
            report = gp.parse_status(text)
        except ValueError:
            LOG.warning("grbl: unreadable status report %r", text)
            return
        self._wco = report.wco or self._wco
        self._report = report
        self._status = report.to_status(self._wco)
        self._status_seq += 1

    def _on_alarm(self, number: int) -> None:
        LOG.warning("grbl: ALARM:%d %s", number, gp.alarm_message(number))
        self._alarm = number
        if number in gp.CRITICAL_ALARMS:
            self._reset_required = True
        # Grbl halted: a pending G4 P0 has nothing left to wait for; any other line fails.
        inflight = self._inflight
        fault = ControllerFault(number, gp.alarm_message(number))
        self._finish_inflight_locked(None if inflight and inflight.is_sync else fault)

    def _on_banner(self, text: str) -> None:
        # A reset: Grbl forgot the line in flight and flushed the planner (interface.md).
        LOG.info("grbl: reset: %s", text)
        self._banner, self._reset_required = text, False
        self._banner_seq += 1
        inflight = self._inflight
        if inflight is not None and not inflight.is_sync:
            void = ControllerUnavailable(f"controller reset before answering {inflight.text!r}")
            self._finish_inflight_locked(void)
        else:
            self._finish_inflight_locked(None)
