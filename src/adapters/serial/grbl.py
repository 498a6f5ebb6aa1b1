"""The ``MotionController`` port on a Grbl 1.1 / FluidNC controller over a serial line.

The calling threads stream one line at a time and wait for its reply (the "simple
send-response" protocol, Grbl 1.1 interface.md); real-time bytes (``?``, ``!``, ``~``,
0x18) bypass the stream (DESIGN §2: e-stop never queues behind a line). The port and its
reader thread are in ``grbl_link``; what the reader learns from each line is in
``grbl_session``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from adapters.serial import grbl_protocol as gp
from adapters.serial.grbl_codes import alarm_message
from adapters.serial.grbl_link import GrblLink
from adapters.serial.grbl_session import GrblSession, StreamedLine
from adapters.serial.line_reader import SerialFactory, SerialPort, open_serial_port
from domain.errors import ControllerFault, ControllerUnavailable, InvalidDose, PumpBusy
from domain.motion import ControllerState, ControllerStatus

# SerialPort and open_serial_port are part of the constructor's contract (serial_factory).
__all__ = ["GrblController", "SerialFactory", "SerialPort", "open_serial_port"]

LOG = logging.getLogger(__name__)


class GrblController:
    """Grbl 1.1 / FluidNC on ``port`` (device path or pyserial URL), one pump per axis.

    ``axes`` are the letters moves may use. Timeouts (s): ``reset_timeout_s`` for the
    banner after a soft reset (an Arduino also reboots when the port opens: allow ~2 s),
    ``ack_timeout_s`` for a line's ``ok``, ``status_timeout_s`` for a status report.
    ``serial_factory(port, baudrate, read_timeout_s)`` opens the port (tests may inject).

    Thread model: streaming methods (``open``, ``start_move``, ``queue_move``, ``flush``,
    ``unlock``) are serialised by one lock; ``status``, ``feed_hold``, ``cycle_start`` and
    ``close`` never take it. Every method raises ``ControllerUnavailable`` while the link is
    down; after a loss ``open()`` reconnects. The link also goes down when Grbl prints its
    banner without our soft reset (power loss, USB re-enumeration, watchdog, reset button:
    interface.md, the welcome message follows every reset), since planned motion is then
    gone and MPos may have restarted at 0: the next call raises ``ControllerUnavailable``
    ("controller reset unexpectedly ...") until ``open()`` resets and re-reads the state.
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
        self._axes = axes
        self._reset_timeout_s = reset_timeout_s
        self._ack_timeout_s = ack_timeout_s
        self._status_timeout_s = status_timeout_s
        self._stream_lock = threading.Lock()
        self._session = GrblSession()  # guarded by self._link.cond, like the link state
        self._link = GrblLink(port, baudrate, read_timeout_s, serial_factory, self._session)

    # -- inspection -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the link is open and healthy."""
        return self._link.connected

    @property
    def banner(self) -> str:
        """The last start-up banner seen, e.g. ``Grbl 1.1h ['$' for help]``."""
        with self._link.cond:
            return self._session.banner

    @property
    def last_alarm(self) -> int | None:
        """The number of the last ``ALARM:N`` seen on this connection, if any."""
        with self._link.cond:
            return self._session.alarm

    @property
    def last_report(self) -> gp.StatusReport | None:
        """The last full status report (buffer, overrides, pins...), if any."""
        with self._link.cond:
            return self._session.report

    @property
    def messages(self) -> tuple[str, ...]:
        """Recent push messages (``[MSG:...]``, ``[GC:...]``, ``$N=...``), oldest first."""
        with self._link.cond:
            return tuple(self._session.messages)

    # -- the port ---------------------------------------------------------------------

    def open(self) -> None:
        """Open the port, soft-reset the controller (0x18) and wait for its banner.

        pyserial discards what arrived before ``open``, so the reset makes Grbl announce
        itself (interface.md: the banner prints after every reset). An alarm after the
        banner (``[MSG:'$H'|'$X' to unlock]``) does not fail ``open``; ``status()`` shows it.
        No-op while connected. Raises ``ControllerUnavailable`` (port error, no banner).
        """
        with self._stream_lock:
            # Only a holder of the stream lock brings the link up, so this cannot go stale.
            if self._link.connected:
                return
            self._link.open()
            try:
                self._soft_reset()
            except ControllerUnavailable:
                self.close()
                raise
            LOG.info("grbl: %s on %s", self.banner, self._port_name)

    def close(self) -> None:
        """Close the port and stop the reader thread. Idempotent; never blocks on a line."""
        self._link.close()

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

    def queue_move(self, distances_mm: Mapping[str, float], feed_mm_min: float) -> None:
        """Send ``G91 G1 X<mm> F<mm/min>`` (distances in mm, feed in mm/min) with no
        ``G4 P0`` and wait for its ``ok``: the move is planned behind whatever is planned,
        and Grbl's look-ahead joins it to the previous move without stopping (planner.c;
        a move finding the 15-block planner full gets its ``ok`` once a block frees up,
        motion_control.c ``mc_line``). For a continuous run's next bounded segment; send
        the last segment with ``start_move`` so ``motion_done`` can tell its end.

        ``motion_done`` is unaffected: after queued moves alone it stays True, so callers
        follow a continuous run by ``status`` (state, position). Raises as ``start_move``;
        ``PumpBusy`` too when a ``start_move``'s ``G4 P0`` is still unanswered after
        ``ack_timeout_s`` (one line in flight).
        """
        try:
            line = gp.format_move(distances_mm, feed_mm_min, self._axes)
        except ValueError as exc:
            raise InvalidDose(str(exc), field="distances_mm") from exc
        if line is None:
            return
        with self._stream_lock:
            self._send(line, wait=True)

    def motion_done(self) -> bool:
        """True once the last ``G4 P0`` (sent by ``start_move``) was answered, or voided by a
        reset or alarm (motion was then stopped and the planner flushed); True when no move
        was sent, and after ``queue_move`` alone (it sends no ``G4 P0``)."""
        with self._link.cond:
            self._link.check_up_locked()
            return self._session.motion_done

    def status(self) -> ControllerStatus:
        """Send ``?`` and return the next status report (positions in mm, feed mm/min).

        Re-asks while waiting, since Grbl may drop a query (interface.md: a reset clears it).
        While Grbl waits for a reset after a hard/soft limit alarm it ignores ``?``
        (interface.md), so the last known positions are returned in state Alarm.
        Raises ``ControllerUnavailable`` when no report arrives within ``status_timeout_s``.
        """
        link, session = self._link, self._session
        deadline = time.monotonic() + self._status_timeout_s
        with link.cond:
            seq = session.status_seq
        while True:
            with link.cond:
                link.check_up_locked()
                if session.reset_required:
                    known = session.status.positions_mm if session.status else {}
                    return ControllerStatus(ControllerState.ALARM, dict(known))
            link.write(gp.STATUS_QUERY)
            ask_again = min(deadline, time.monotonic() + max(0.1, self._status_timeout_s / 3))
            with link.cond:
                link.wait_locked(
                    lambda: session.status_seq != seq or session.reset_required,
                    max(0.0, ask_again - time.monotonic()),
                )
                if session.status_seq != seq and session.status is not None:
                    return session.status
            if time.monotonic() >= deadline:
                raise ControllerUnavailable(
                    f"no status report within {self._status_timeout_s} s on {self._port_name}"
                )

    def feed_hold(self) -> None:
        """Real-time feed hold ``!``: decelerate to rest, keep position. Any thread."""
        self._link.write(gp.FEED_HOLD)

    def cycle_start(self) -> None:
        """Real-time cycle start ``~``: resume after a feed hold. Any thread."""
        self._link.write(gp.CYCLE_START)

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
            raise ControllerFault(number, alarm_message(number))
        if state is not ControllerState.IDLE:
            LOG.warning("grbl: %s after flush, not Idle", state.value)

    def unlock(self) -> None:
        """Clear an alarm lock with ``$X`` and wait for its ``ok``. After a hard/soft limit
        Grbl first needs a soft reset (``[MSG:Reset to continue]``), done here."""
        with self._stream_lock:
            with self._link.cond:
                needs_reset = self._session.reset_required
            if needs_reset:
                self._soft_reset()
            self._send(gp.UNLOCK_LINE, wait=True)

    # -- streaming --------------------------------------------------------------------

    def _send(self, text: str, *, wait: bool) -> None:
        """Stream one line; with ``wait``, block for its reply. Stream lock held."""
        link, session = self._link, self._session
        line = StreamedLine(text, is_sync=text == gp.SYNC_LINE)
        with link.cond:
            # One line in flight at a time: a pending G4 P0 is the previous line.
            if not link.wait_locked(lambda: session.inflight is None, self._ack_timeout_s):
                raise PumpBusy(f"controller still running the previous move ({text!r} waits)")
            link.check_up_locked()
            if session.reset_required:  # Grbl ignores every line until reset (interface.md)
                number = session.alarm or 0
                raise ControllerFault(number, f"{alarm_message(number)}; unlock first")
            session.stream(line)
        link.write(f"{text}\n".encode("ascii"))
        if not wait:
            return
        with link.cond:
            if not link.cond.wait_for(lambda: line.done, timeout=self._ack_timeout_s):
                link.fail_locked(f"no reply to {text!r} within {self._ack_timeout_s} s")
        if line.error is not None:
            raise line.error

    def _soft_reset(self) -> None:
        """Write 0x18 and wait for the banner; stream lock held. No banner: link down."""
        link, session = self._link, self._session
        with link.cond:
            link.check_up_locked()
            seq = session.banner_seq
            session.expect_reset()  # its banner is ours, not an unexpected reset
        link.write(gp.SOFT_RESET)
        with link.cond:
            if not link.wait_locked(lambda: session.banner_seq != seq, self._reset_timeout_s):
                link.fail_locked(f"no Grbl banner within {self._reset_timeout_s} s of a reset")
            link.check_up_locked()
