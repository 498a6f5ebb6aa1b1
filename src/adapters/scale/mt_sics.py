"""The ``Scale`` port on a Mettler Toledo balance speaking MT-SICS over a serial line.

The balance streams weights (``SIR``) and the reader keeps the newest, so ``latest`` never
waits on the wire; ``tare`` and ``zero`` send one command and wait for its reply. The port
and its reader thread are in ``mt_sics_link``; line parsing is in ``mt_sics_protocol``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from adapters.scale import mt_sics_protocol as mp
from adapters.scale.mt_sics_link import MtSicsLink
from adapters.scale.mt_sics_session import Answer
from adapters.serial.line_reader import SerialFactory, SerialPort, open_serial_port
from domain.errors import ScaleFault, ScaleUnavailable
from domain.scale import ScaleReading

# SerialPort and open_serial_port are part of the constructor's contract (serial_factory).
__all__ = ["MtSicsScale", "SerialFactory", "SerialPort", "open_serial_port"]

LOG = logging.getLogger(__name__)
_REASONS = {"I": "unstable", "+": "overload", "-": "underload"}
_ERRORS = {"ES": "syntax error", "ET": "transmission error", "EL": "logical error"}


class MtSicsScale:
    """A Mettler Toledo MT-SICS balance on ``port`` (device path or pyserial URL).

    ``stale_after_s`` (s): ``latest`` raises ``ScaleUnavailable`` when the newest reading
    is older, so a silent scale never reads as a frozen weight. ``reply_timeout_s`` (s)
    bounds the waits of ``open`` (the reset's answer, the first streamed weight).
    ``monotonic()`` (s) stamps readings; ``serial_factory(port, baudrate, read_timeout_s)``
    opens the port (tests may inject); ``read_timeout_s`` (s) bounds how long ``close``
    waits for the reader.

    Protocol (MT-SICS Reference Manual; level 0: ``S``, ``SI``, ``SIR``, ``Z``, ``@``;
    level 1: ``T``): ``open`` resets (``@``, answered ``I4 A "<serial number>"``) and
    starts ``SIR``; ``tare`` sends ``T`` (``T S <tare> <unit>``), ``zero`` sends ``Z``
    (``Z A``), each then re-sends ``SIR`` because terminals differ on which commands stop
    the stream (and a second ``SIR`` only restarts it). A command left unanswered is
    cancelled with ``@`` (which also clears the tare) before ``ScaleUnavailable`` is raised,
    so the balance never tares behind our back after we gave up.
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 9600,
        *,
        stale_after_s: float = 1.0,
        reply_timeout_s: float = 2.0,
        read_timeout_s: float = 0.05,
        monotonic: Callable[[], float] = time.monotonic,
        serial_factory: SerialFactory = open_serial_port,
    ) -> None:
        self._port = port
        self._stale_after_s, self._reply_timeout_s = stale_after_s, reply_timeout_s
        self._monotonic = monotonic
        self._commands = threading.Lock()  # one command on the wire at a time
        self._link = MtSicsLink(port, baudrate, read_timeout_s, serial_factory, monotonic)
        self.serial_number = ""  # from the last reset's I4 A reply

    @property
    def connected(self) -> bool:
        """True while the link is open and healthy."""
        with self._link.cond:
            return self._link.down_reason is None

    @property
    def garbage_lines(self) -> int:
        """Lines received since construction that were not MT-SICS (noise, cut lines)."""
        with self._link.cond:
            return self._link.session.garbage_lines

    def open(self) -> None:
        """Open the port, reset the balance (``@``) and start the stream (``SIR``); returns
        once the first weight arrived. Raises ``ScaleUnavailable`` (port will not open, no
        answer within ``reply_timeout_s``) or ``ScaleFault`` (a refusal, a unit we do not
        convert); the link is closed then."""
        with self._commands:
            self._link.open()
            try:
                reset = self._link.request(mp.RESET, "I4", self._reply_timeout_s)
                if not (isinstance(reset, mp.Response) and reset.status == "A"):
                    raise self._failure(mp.RESET, reset, self._reply_timeout_s)
                self.serial_number = reset.text or ""
                first = self._link.request(mp.STREAM, "S", self._reply_timeout_s)
                if not isinstance(first, mp.WeightLine):
                    raise self._failure(mp.STREAM, first, self._reply_timeout_s)
            except BaseException:
                self._link.close()
                raise
        LOG.info("scale on %s open (serial number %s)", self._port, self.serial_number)

    def close(self) -> None:
        """Stop the stream (``SI`` cancels ``SIR``) and close the link. Idempotent."""
        with contextlib.suppress(ScaleUnavailable):
            self._link.write(mp.STOP_STREAM)
        self._link.close()

    def latest(self) -> ScaleReading:
        """The newest streamed reading (``grams`` net of the tare, NaN when over- or
        underloaded). Raises ``ScaleUnavailable`` when the link is down or no reading came
        within ``stale_after_s``, ``ScaleFault`` (``unit``) when the newest weight line
        is in a unit we do not convert."""
        with self._link.cond:
            self._link.check_up_locked()
            session = self._link.session
            now, reading, bad = self._monotonic(), session.latest, session.bad_unit
        if bad is not None and now - bad[0] <= self._stale_after_s:
            raise ScaleFault(f"{self._port}: weights come in {bad[1]!r}", reason="unit")
        if reading is None:
            raise ScaleUnavailable(f"{self._port}: no weight received yet")
        if now - reading.at_s > self._stale_after_s:
            age = now - reading.at_s
            raise ScaleUnavailable(f"{self._port}: no weight for {age:.2f} s")
        return reading

    def tare(self, timeout_s: float) -> float:
        """Tare (``T``): the balance stores the next stable weight as the tare. Returns the
        tare (g). Raises ``ScaleFault`` (``unstable``: ``T I``; ``overload``/``underload``:
        ``T +``/``T -``; ``rejected``: ``ES``/``ET``/``EL``; ``unit``) or
        ``ScaleUnavailable`` (link down, no reply within ``timeout_s`` s)."""
        answer = self._command(mp.TARE, timeout_s)
        if isinstance(answer, mp.Response) and answer.status == "S" and answer.grams is not None:
            return answer.grams
        raise self._failure(mp.TARE, answer, timeout_s)

    def zero(self, timeout_s: float) -> None:
        """Zero (``Z``): the balance sets a new zero at the next stable weight (and clears
        the tare). Raises as ``tare`` (``Z I``, ``Z +``, ``Z -``, errors, no reply)."""
        answer = self._command(mp.ZERO, timeout_s)
        if not (isinstance(answer, mp.Response) and answer.status == "A"):
            raise self._failure(mp.ZERO, answer, timeout_s)

    def _command(self, command: str, timeout_s: float) -> Answer | None:
        with self._commands:
            answer = self._link.request(command, command, timeout_s)
            with contextlib.suppress(ScaleUnavailable):
                if answer is None:
                    self._link.write(mp.RESET)  # cancel it: no late tare or zero
                self._link.write(mp.STREAM)
        return answer

    def _failure(
        self, command: str, answer: Answer | None, timeout_s: float
    ) -> ScaleFault | ScaleUnavailable:
        where = f"{self._port}: {command}"
        if answer is None:
            return ScaleUnavailable(f"{where}: no answer within {timeout_s} s")
        if isinstance(answer, mp.UnsupportedUnit):
            return ScaleFault(f"{where}: answered in {answer.unit!r}", reason="unit")
        if isinstance(answer, mp.ErrorLine):
            text = _ERRORS.get(answer.code, answer.code)
            return ScaleFault(f"{where}: {answer.code} ({text})", reason="rejected")
        status = answer.status if isinstance(answer, mp.Response) else answer.status.value
        reason = _REASONS.get(status, "rejected") if command in (mp.TARE, mp.ZERO) else "rejected"
        return ScaleFault(f"{where}: answered {status!r}", reason=reason)
