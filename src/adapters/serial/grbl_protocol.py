"""Grbl 1.1 / FluidNC serial protocol without I/O: classify the lines Grbl sends, parse its
status reports, format dose moves and name its error and alarm codes.

Kept pure so every rule can be tested line by line. Sources: gnea/grbl
``doc/markdown/interface.md`` (message types, status report fields) and
``doc/csv/error_codes_en_US.csv`` / ``alarm_codes_en_US.csv`` (code meanings).
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
CRITICAL_ALARMS = frozenset({1, 2})  # hard/soft limit: Grbl waits for a reset, ignores "?"

ERROR_MESSAGES: Mapping[int, str] = {
    1: "Expected command letter",
    2: "Bad number format",
    3: "Invalid statement",
    4: "Value < 0",
    5: "Setting disabled (homing not enabled)",
    6: "Value < 3 usec",
    7: "EEPROM read fail, using defaults",
    8: "Not idle",
    9: "G-code lock (alarm or jog state)",
    10: "Homing not enabled",
    11: "Line overflow",
    12: "Step rate > 30kHz",
    13: "Check door",
    14: "Line length exceeded",
    15: "Travel exceeded",
    16: "Invalid jog command",
    17: "Setting disabled (laser mode requires PWM output)",
    20: "Unsupported command",
    21: "Modal group violation",
    22: "Undefined feed rate",
    23: "Command requires an integer value",
    24: "More than one command requires axis words",
    25: "Repeated g-code word",
    26: "No axis words found",
    27: "Invalid line number",
    28: "Missing a required value word",
    29: "G59.x work coordinate systems not supported",
    30: "G53 only allowed with G0 and G1",
    31: "Axis words found with no command to use them",
    32: "Arc needs at least one in-plane axis word",
    33: "Invalid motion target",
    34: "Invalid arc radius",
    35: "Arc needs at least one in-plane offset word",
    36: "Unused value words found",
    37: "Tool length offset not on the configured axis",
    38: "Tool number greater than supported",
}

ALARM_MESSAGES: Mapping[int, str] = {
    1: "Hard limit",
    2: "Soft limit",
    3: "Abort during cycle",
    4: "Probe fail (probe not in expected initial state)",
    5: "Probe fail (no contact within travel)",
    6: "Homing fail (reset during homing)",
    7: "Homing fail (safety door opened)",
    8: "Homing fail (pull-off did not clear limit switch)",
    9: "Homing fail (limit switch not found)",
}


def error_message(number: int) -> str:
    """Grbl's short message for ``error:<number>`` (error_codes_en_US.csv)."""
    return ERROR_MESSAGES.get(number, f"unknown error {number}")


def alarm_message(number: int) -> str:
    """Grbl's short message for ``ALARM:<number>`` (alarm_codes_en_US.csv)."""
    return ALARM_MESSAGES.get(number, f"unknown alarm {number}")


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
