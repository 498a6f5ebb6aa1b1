"""What the MT-SICS reader learns from each line the scale sends.

Weight lines (``S S``/``S D``/``S +``/``S -``, the ``SIR`` stream) become the newest
reading, stamped with the monotonic time of arrival; a command reply goes to the one
command waiting for it; garbage and replies nobody waited for are counted and logged,
never raised. No I/O and no locking: ``MtSicsLink`` holds its condition around every call.
"""

from __future__ import annotations

import logging

from adapters.scale import mt_sics_protocol as mp
from domain.scale import ScaleReading

LOG = logging.getLogger(__name__)

Answer = mp.Reply | mp.UnsupportedUnit  # what a waiting command gets back


class Waiter:
    """A command waiting for the reply whose command field is ``answers`` (``S`` for the
    first weight line after ``SIR``, ``I4`` for ``@``), or for a general error."""

    def __init__(self, answers: str) -> None:
        self.answers = answers
        self.answer: Answer | None = None


class ScaleSession:
    """The reader's view of one scale: ``latest`` (the newest weight line as a reading),
    ``bad_unit`` (arrival time (s) and unit of a newer weight line we could not convert to
    grams, else None), the ``waiter`` of the command on the wire, and counters."""

    def __init__(self, port_name: str) -> None:
        self.port_name = port_name
        self.latest: ScaleReading | None = None
        self.bad_unit: tuple[float, str] | None = None
        self.waiter: Waiter | None = None
        self.garbage_lines = 0  # lines that are not MT-SICS (noise, cut lines)
        self.unexpected_lines = 0  # replies no command waited for

    def new_connection(self) -> None:
        """Forget what the previous connection said (the counters stay)."""
        self.latest, self.bad_unit, self.waiter = None, None, None

    def apply(self, raw: bytes, now: float) -> None:
        """Take one received line (without its LF) that arrived at ``now`` (s)."""
        answer: Answer
        try:
            answer = mp.parse_line(raw)
        except mp.UnsupportedUnit as exc:
            answer = exc
        except mp.MtSicsError as exc:
            self.garbage_lines += 1
            LOG.warning("scale: garbage from %s: %r (%s)", self.port_name, raw[:80], exc)
            return
        LOG.debug("scale RX %r", raw)
        waiter = self.waiter
        if isinstance(answer, mp.WeightLine):
            self.latest = ScaleReading(answer.grams, answer.status, now)
            self.bad_unit, command = None, "S"
        elif isinstance(answer, mp.UnsupportedUnit):
            if answer.command == "S":
                self.bad_unit = (now, answer.unit)
            command = answer.command
        elif isinstance(answer, mp.ErrorLine):
            command = waiter.answers if waiter is not None else answer.code
        else:
            command = answer.command
        if waiter is not None and waiter.answers == command:
            waiter.answer, self.waiter = answer, None
        elif isinstance(answer, mp.ErrorLine | mp.Response) and command not in ("S", "I4"):
            # "S I" is the stream saying "busy"; "I4 A" answers a reset sent to cancel.
            self.unexpected_lines += 1
            LOG.warning("scale: unexpected reply from %s: %s", self.port_name, answer)
