"""What one Grbl has told us on the current connection, and what each line it sends means:
``ok``/``error:N`` answer the line in flight, ``<...>`` status reports, ``ALARM:N``, the
start-up banner (a reset) and push messages (``[MSG:...]`` etc.) update what we know.

No I/O and no locking: ``grbl_link.GrblLink`` applies each received line while holding its
condition, and ``grbl.GrblController`` reads the result under the same condition.
Source: Grbl 1.1 interface.md (message types, "simple send-response" streaming).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from adapters.serial import grbl_protocol as gp
from adapters.serial.grbl_codes import CRITICAL_ALARMS, alarm_message, error_message
from domain.errors import ControllerFault, ControllerRejected, ControllerUnavailable, DoserError
from domain.motion import ControllerStatus

LOG = logging.getLogger(__name__)


@dataclass(eq=False)
class StreamedLine:
    """A streamed line awaiting Grbl's ``ok`` / ``error:N``; ``done`` once answered or voided,
    with ``error`` set when it failed."""

    text: str
    is_sync: bool = False
    done: bool = False
    error: DoserError | None = None


class GrblSession:
    """Grbl's side of the conversation, as last heard.

    ``inflight`` is the one line awaiting its reply and ``sync`` the last ``G4 P0`` streamed.
    ``status`` (positions in mm) and ``report`` are the last status report, ``status_seq``
    counts reports; ``banner_seq`` counts banners (resets). ``alarm`` is the last
    ``ALARM:N`` number; ``reset_required`` is set after a hard/soft limit until the next
    banner. ``reset_expected`` is set while our own soft reset awaits its banner: any other
    banner is a reset we did not cause. ``messages`` keeps the 50 most recent push
    messages. Not thread-safe.
    """

    def __init__(self) -> None:
        self.inflight: StreamedLine | None = None
        self.sync: StreamedLine | None = None
        self.status: ControllerStatus | None = None
        self.report: gp.StatusReport | None = None
        self.status_seq = 0
        self.wco: tuple[float, ...] | None = None
        self.banner_seq = 0
        self.banner = ""
        self.alarm: int | None = None
        self.reset_required = False
        self.reset_expected = False
        self.messages: deque[str] = deque(maxlen=50)

    def new_connection(self) -> None:
        """Forget the previous connection's line in flight, status, offsets and alarm."""
        self.inflight = self.sync = self.status = self.report = self.wco = None
        self.alarm, self.reset_required, self.reset_expected = None, False, False

    def expect_reset(self) -> None:
        """We are about to write a soft reset (0x18): its banner is ours, not a surprise."""
        self.reset_expected = True

    @property
    def motion_done(self) -> bool:
        """True once the last ``G4 P0`` was answered or voided, or when none was sent."""
        return self.sync is None or self.sync.done

    def stream(self, line: StreamedLine) -> None:
        """Make ``line`` the line in flight (and the pending sync if it is ``G4 P0``)."""
        self.inflight = line
        if line.is_sync:
            self.sync = line

    def finish_inflight(self, error: DoserError | None) -> None:
        """Complete the line in flight, if any: answered (``error`` None) or failed."""
        line, self.inflight = self.inflight, None
        if line is not None:
            line.done, line.error = True, error

    def apply(self, line: gp.GrblLine) -> str | None:
        """Update what we know from one received line. Returns why the link must go down
        (a banner nobody asked for: the controller reset on its own), else None."""
        match line.kind:
            case gp.LineKind.OK | gp.LineKind.ERROR:
                self._on_reply(line)
            case gp.LineKind.STATUS:
                self._on_status(line.text)
            case gp.LineKind.ALARM:
                self._on_alarm(line.number or 0)
            case gp.LineKind.BANNER:
                return self._on_banner(line.text)
            case gp.LineKind.FEEDBACK | gp.LineKind.SETTING | gp.LineKind.STARTUP:
                LOG.info("grbl: %s", line.text)
                self.messages.append(line.text)
                if "Reset to continue" in line.text:  # FluidNC adds "INFO: "
                    self.reset_required = True
            case gp.LineKind.UNKNOWN:
                LOG.warning("grbl: ignoring unexpected line %r", line.text)
        return None

    def _on_reply(self, line: gp.GrblLine) -> None:
        inflight = self.inflight
        if inflight is None:
            LOG.warning("grbl: %r with no line in flight, ignored", line.text)
            return
        error = None
        if line.kind is gp.LineKind.ERROR:
            number = line.number or 0
            error = ControllerRejected(number, error_message(number))
            LOG.warning("grbl: %r answered %s", inflight.text, line.text)
        self.finish_inflight(error)

    def _on_status(self, text: str) -> None:
        try:
            report = gp.parse_status(text)
        except ValueError:
            LOG.warning("grbl: unreadable status report %r", text)
            return
        self.wco = report.wco or self.wco
        self.report = report
        self.status = report.to_status(self.wco)
        self.status_seq += 1

    def _on_alarm(self, number: int) -> None:
        LOG.warning("grbl: ALARM:%d %s", number, alarm_message(number))
        self.alarm = number
        if number in CRITICAL_ALARMS:
            self.reset_required = True
        # Grbl halted: a pending G4 P0 has nothing left to wait for; any other line fails.
        inflight = self.inflight
        fault = ControllerFault(number, alarm_message(number))
        self.finish_inflight(None if inflight and inflight.is_sync else fault)

    def _on_banner(self, text: str) -> str | None:
        # A reset: Grbl forgot the line in flight and flushed the planner (interface.md:
        # the welcome message prints on power-up and after every reset).
        self.banner, self.reset_required = text, False
        self.banner_seq += 1
        if not self.reset_expected:
            # Power loss, USB re-enumeration, watchdog, the reset pin: planned motion is
            # gone and MPos may restart at 0 (no homing), so nothing we know still holds.
            return (
                f"controller reset unexpectedly ({text!r}): planned motion lost, "
                "positions may have restarted at 0"
            )
        LOG.info("grbl: reset: %s", text)
        self.reset_expected = False
        inflight = self.inflight
        if inflight is not None and not inflight.is_sync:
            void = ControllerUnavailable(f"controller reset before answering {inflight.text!r}")
            self.finish_inflight(void)
        else:
            self.finish_inflight(None)
        return None
