"""Grbl 1.1 / FluidNC serial protocol without I/O: the real-time bytes and fixed lines we
send, the kinds of line Grbl sends back, its status reports and our dose moves.

Kept pure so every rule can be tested line by line. Source: gnea/grbl
``doc/markdown/interface.md`` (message types, status report fields). What the numbers in
``error:N`` / ``ALARM:N`` mean lives in ``grbl_codes``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from domain.motion import ControllerState, ControllerStatus

# Real-time commands: single bytes Grbl acts on at once, outside the line stream
# (Grbl 1.1 commands.md: "?", "!", "~", ctrl-x).
STATUS_QUERY = b"?"
FEED_HOLD = b"!"
CYCLE_START = b"~"
SOFT_RESET = b"\x18"

SYNC_LINE = "G4 P0"  # its ok arrives once every queued motion finished (mc_dwell syncs first)
UNLOCK_LINE = "$X"
MAX_LINE_CHARS = 79  # Grbl 1.1 LINE_BUFFER_SIZE is 80 including the terminator (error:11)
POSITION_AXES = "XYZABCUVW"  # interface.md: values come in X, Y, Z (then A...) order


class LineKind(enum.Enum):
    """What a received line is (interface.md "Message Summary")."""

    OK = "ok"  # reply to the line in flight
    ERROR = "error"  # reply to the line in flight: error:N
    ALARM = "alarm"  # push: ALARM:N
    STATUS = "status"  # push: <...> real-time status report
    BANNER = "banner"  # push: Grbl X.Xx ['$' for help], printed after every reset
    FEEDBACK = "feedback"  # push: [MSG:...], [GC:...], [VER:...], [OPT:...], [HLP:...], ...
    SETTING = "setting"  # push: $x=val, $Nx=line
    STARTUP = "startup"  # push: >G54G20:ok (its :ok is not a stream reply)
    EMPTY = "empty"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class GrblLine:
    """One received line; ``number`` is the error or alarm code (0 when unreadable)."""

    kind: LineKind
    text: str
    number: int | None = None


_BANNER = re.compile(r"^Grbl\s+\d[\w.]*")  # Grbl 1.1h ['$' for help] / Grbl 3.7 [FluidNC ...]
_CODED = re.compile(r"^(?:error|alarm):\s*(\d+)", re.IGNORECASE)


def classify(text: str) -> GrblLine:
    """Classify one line (``\\r``/``\\n`` already stripped) by its leading characters."""
    line = text.strip()
    if not line:
        return GrblLine(LineKind.EMPTY, line)
    if line == "ok":
        return GrblLine(LineKind.OK, line)
    lowered = line.lower()
    if lowered.startswith(("error:", "alarm:")):
        kind = LineKind.ERROR if lowered.startswith("error:") else LineKind.ALARM
        coded = _CODED.match(line)
        return GrblLine(kind, line, int(coded.group(1)) if coded else 0)
    if line.startswith("<") and line.endswith(">"):
        return GrblLine(LineKind.STATUS, line)
    if _BANNER.match(line):
        return GrblLine(LineKind.BANNER, line)
    if line.startswith("[") and line.endswith("]"):
        return GrblLine(LineKind.FEEDBACK, line)
    if line.startswith("$") and "=" in line:
        return GrblLine(LineKind.SETTING, line)
    if line.startswith(">"):
        return GrblLine(LineKind.STARTUP, line)
    return GrblLine(LineKind.UNKNOWN, line)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A parsed ``<State[:sub]|Pos:..|field:..>`` report; units as reported ($13=0: mm, mm/min).

    ``mpos`` or ``wpos`` is set (interface.md: the second field; setting ``$10`` picks which).
    ``extra`` keeps fields this parser does not know, by name.
    """

    state: ControllerState
    substate: int | None = None
    mpos: tuple[float, ...] | None = None
    wpos: tuple[float, ...] | None = None
    wco: tuple[float, ...] | None = None
    feed_mm_min: float | None = None
    buffer: tuple[int, ...] | None = None  # Bf: free planner blocks, free RX bytes
    line_number: int | None = None
    overrides: tuple[int, ...] | None = None  # Ov: feed, rapid, spindle (%)
    pins: str | None = None
    accessories: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def to_status(self, last_wco: Sequence[float] | None) -> ControllerStatus:
        """The domain view: machine positions (mm) by axis letter, hold progress, feed.

        With only ``WPos`` reported, MPos = WPos + WCO (interface.md), using this report's
        WCO or else ``last_wco`` (the last one seen; zero when none was seen yet).
        """
        if self.mpos is not None:
            values = self.mpos
        else:
            wpos = self.wpos or ()
            offset = self.wco or tuple(last_wco or ())
            values = tuple(
                round(w + (offset[i] if i < len(offset) else 0.0), 3) for i, w in enumerate(wpos)
            )
        hold: bool | None = None
        if self.state is ControllerState.HOLD and self.substate in (0, 1):
            hold = self.substate == 0  # Hold:0 complete, Hold:1 decelerating
        positions = dict(zip(POSITION_AXES, values, strict=False))
        return ControllerStatus(self.state, positions, hold, self.feed_mm_min)


def _floats(values: str) -> tuple[float, ...]:
    return tuple(float(v) for v in values.split(","))


def _ints(values: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in values.split(","))


def parse_status(text: str) -> StatusReport:
    """Parse one real-time status report; raises ``ValueError`` when it is not one.

    Fields after the state may be missing and come in any order (interface.md); unknown
    fields and known fields with unreadable values land in ``StatusReport.extra``.
    """
    line = text.strip()
    if not (line.startswith("<") and line.endswith(">")) or len(line) < 3:
        raise ValueError(f"not a status report: {text!r}")
    head, *fields = line[1:-1].split("|")
    name, _, sub = head.partition(":")
    try:
        state = ControllerState(name)
    except ValueError:
        state = ControllerState.UNKNOWN
    report = StatusReport(state, int(sub) if sub.isdigit() else None)
    extra: dict[str, str] = {}
    for item in fields:
        key, _, raw = item.partition(":")
        try:
            report = _with_field(report, key, raw)
        except (ValueError, IndexError):
            extra[key] = raw
    if report.mpos is None and report.wpos is None:
        raise ValueError(f"status report without a position: {text!r}")
    return replace(report, extra=extra)


def _with_field(report: StatusReport, key: str, raw: str) -> StatusReport:
    """``report`` with one known field set; ``ValueError`` for an unknown or unreadable field."""
    match key:
        case "MPos":
            return replace(report, mpos=_floats(raw))
        case "WPos":
            return replace(report, wpos=_floats(raw))
        case "WCO":
            return replace(report, wco=_floats(raw))
        case "FS" | "F":
            return replace(report, feed_mm_min=_floats(raw)[0])
        case "Bf":
            return replace(report, buffer=_ints(raw))
        case "Ln":
            return replace(report, line_number=int(raw))
        case "Ov":
            return replace(report, overrides=_ints(raw))
        case "Pn":
            return replace(report, pins=raw)
        case "A":
            return replace(report, accessories=raw)
    raise ValueError(f"unknown status field {key!r}")


def format_move(
    distances_mm: Mapping[str, float], feed_mm_min: float, axes: Sequence[str]
) -> str | None:
    """The relative move line, e.g. ``G91 G1 X10.000 F200.000`` (DESIGN §6).

    Distances (mm) and feed (mm/min) get 3 decimals; axes whose distance rounds to zero are
    left out, in ``axes`` order. Returns None when no axis moves. Raises ``ValueError`` for an
    axis not in ``axes``, a non-finite number or a line over Grbl's 80-character buffer.
    """
    unknown = sorted(set(distances_mm) - set(axes))
    if unknown:
        raise ValueError(f"axis {unknown[0]!r} is not one of {', '.join(axes)}")
    if not all(math.isfinite(v) for v in (*distances_mm.values(), feed_mm_min)):
        raise ValueError("distances and feed must be finite numbers")
    words = [
        f"{axis}{distances_mm[axis]:.3f}"
        for axis in axes
        if axis in distances_mm and round(distances_mm[axis], 3) != 0
    ]
    if not words:
        return None
    line = " ".join(["G91", "G1", *words, f"F{feed_mm_min:.3f}"])
    if len(line) > MAX_LINE_CHARS:
        line = line.replace(" ", "")  # Grbl drops spaces before buffering (protocol.c)
    if len(line) > MAX_LINE_CHARS:
        raise ValueError(f"move line is {len(line)} characters; Grbl takes {MAX_LINE_CHARS}")
    return line
