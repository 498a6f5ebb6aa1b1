"""MT-SICS lines without I/O: the commands we send and what each line the scale sends means.

Kept pure so every rule is tested line by line, and total: any bytes either parse into a
typed reply or raise ``MtSicsError`` (a ``ValueError``), never anything else.

Sources: Mettler Toledo "MT-SICS Reference Manual" (MT-SICS 0 v2.3x, 1 v2.2x): level 0
``S``, ``SI``, ``SIR``, ``Z``, ``@``, ``I4``; level 1 ``T``. Replies are fields separated by
spaces, closed by CR LF; a weight reply is ``<cmd> <status> <WeightValue> <Unit>`` with the
value right-aligned in a fixed-width field, so we split on whitespace rather than count
columns. Status: ``S`` stable, ``D`` dynamic, ``+`` overload, ``-`` underload, ``I`` not
executable (busy, or no stability in time), ``A`` done. General errors (Mettler AE/AT
operating instructions, "Error messages"): ``ES`` syntax, ``ET`` transmission, ``EL``
logical.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from domain.scale import ReadingStatus

TERMINATOR = b"\r\n"
RESET = "@"  # cancels pending commands and SIR, clears the tare; answers I4 A "<serial number>"
STREAM = "SIR"  # weight immediately and repeat, until S, SI, SR or @ (Ohaus 7000 MT-SICS notes)
STOP_STREAM = "SI"  # one immediate weight; cancels SIR
TARE = "T"
ZERO = "Z"
ERROR_CODES = frozenset({"ES", "ET", "EL"})
GRAMS_PER_UNIT = {"g": 1.0, "mg": 0.001, "kg": 1000.0}

_WEIGHT_STATUS = {
    "S": ReadingStatus.STABLE,
    "D": ReadingStatus.DYNAMIC,
    "+": ReadingStatus.OVERLOAD,
    "-": ReadingStatus.UNDERLOAD,
}
_VALUE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_QUOTED = re.compile(r'"([^"]*)"')
# Replies of two fields, command and status, and the statuses each command may answer.
_STATUS_ONLY = {"T": ("I", "+", "-"), "Z": ("A", "I", "+", "-")}


class MtSicsError(ValueError):
    """A line that is not an MT-SICS reply we understand (garbage, noise, a cut line)."""


class UnsupportedUnit(MtSicsError):
    """A well-formed weight in a unit we do not convert to grams (only g, mg, kg are).
    ``command`` is the reply's command field (``S`` for streamed weights, ``T`` for a tare)."""

    def __init__(self, command: str, unit: str) -> None:
        super().__init__(f"{command} reply in unsupported unit {unit!r}")
        self.command, self.unit = command, unit


@dataclass(frozen=True, slots=True)
class WeightLine:
    """A weight reply to ``S``/``SI``/``SIR``: ``grams`` (g; NaN when over- or underloaded)."""

    status: ReadingStatus
    grams: float


@dataclass(frozen=True, slots=True)
class Response:
    """A command's reply without a weight reading: ``command`` (``S``, ``T``, ``Z``, ``I4``),
    ``status`` (``A``, ``I``, ``+``, ``-``, or ``S`` for a done tare), ``grams`` (g, the
    tare weight of ``T S``) and ``text`` (the serial number of ``I4 A``)."""

    command: str
    status: str
    grams: float | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorLine:
    """A general error: ``ES`` syntax, ``ET`` transmission, ``EL`` logical."""

    code: str


Reply = WeightLine | Response | ErrorLine


def encode(command: str) -> bytes:
    """``command`` as it goes on the wire: ASCII, closed by CR LF."""
    return command.encode("ascii") + TERMINATOR


def parse_line(raw: bytes | str) -> Reply:
    """Parse one received line (with or without its CR LF).

    Raises ``UnsupportedUnit`` for a weight in a unit other than g, mg or kg, and
    ``MtSicsError`` for anything else that is not a reply listed above.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            raise MtSicsError("non-ASCII bytes in line") from None
    text = raw.strip(" \r\n")
    if not text.isprintable():
        raise MtSicsError(f"control characters in line {text!r}")
    fields = text.split()
    if not fields:
        raise MtSicsError("empty line")
    head = fields[0]
    if head in ERROR_CODES and len(fields) == 1:
        return ErrorLine(head)
    if head == "S":
        return _weight(fields)
    if head == "T" and len(fields) == 4 and fields[1] == "S":
        return Response("T", "S", grams=_grams("T", fields[2], fields[3]))
    if head in _STATUS_ONLY and len(fields) == 2 and fields[1] in _STATUS_ONLY[head]:
        return Response(head, fields[1])
    if head == "I4" and len(fields) >= 3 and fields[1] == "A":
        quoted = _QUOTED.fullmatch(text.split(None, 2)[2])
        if quoted:
            return Response("I4", "A", text=quoted.group(1))
    raise MtSicsError(f"not an MT-SICS reply: {text[:40]!r}")


def _weight(fields: list[str]) -> Reply:
    if len(fields) == 2 and fields[1] in ("+", "-", "I"):
        if fields[1] == "I":
            return Response("S", "I")
        return WeightLine(_WEIGHT_STATUS[fields[1]], math.nan)
    if len(fields) == 4 and fields[1] in ("S", "D"):
        return WeightLine(_WEIGHT_STATUS[fields[1]], _grams("S", fields[2], fields[3]))
    raise MtSicsError(f"malformed weight reply: {' '.join(fields)[:40]!r}")


def _grams(command: str, value: str, unit: str) -> float:
    if not _VALUE.fullmatch(value):
        raise MtSicsError(f"not a weight value: {value[:20]!r}")
    factor = GRAMS_PER_UNIT.get(unit)
    if factor is None:
        raise UnsupportedUnit(command, unit[:10])
    return float(value) * factor
