"""G-code block parser of the Grbl simulator, with Grbl 1.1's checks and error numbers.

Follows gnea/grbl gcode.c ``gc_execute_line`` for the subset a dosing daemon uses: G0 G1 G4
G17-G19 G20 G21 G40 G53 G54-G59 G61 G80 G90 G91 G91.1 G94, M0-M2 M30 M3-M5 M8 M9, words F N
P S T and the axis letters. G2/G3, G10, G28, G30, G38.x, G43.1, G49, G92, G93 and M7, which
Grbl would run, are answered ``error:20`` here. Error numbers: doc/csv/error_codes_en_US.csv.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

MM_PER_INCH = 25.4
_NUMBER = re.compile(r"[-+]?\d*(?:\.\d*)?")  # nuts_bolts.c read_float: sign, digits, one dot
_AXIS_G = {0: 1, 1: 1, 80: 1, 17: 2, 18: 2, 19: 2, 90: 3, 91: 3, 94: 5, 20: 6, 21: 6, 40: 7}
_AXIS_G |= {4: 0, 53: 0, 61: 13} | {n: 12 for n in range(54, 60)}
_M_GROUP = {0: 4, 1: 4, 2: 4, 30: 4, 3: 7, 4: 7, 5: 7, 8: 8, 9: 8}
_VALUE_LETTERS = "FIJKLNPRST"


class GcodeError(Exception):
    """A block Grbl rejects; ``code`` is the number Grbl sends as ``error:<code>``."""

    def __init__(self, code: int) -> None:
        super().__init__(f"error:{code}")
        self.code = code


@dataclass(slots=True)
class ParserState:
    """Grbl's ``gc_state``: modal groups, feed (mm/min), spindle (rpm) and the parser's idea
    of the position (machine mm at the end of the last accepted move). Defaults: gc_init."""

    position_mm: list[float]
    motion: int = 0
    plane: int = 17
    units: int = 21
    distance: int = 90
    coord: int = 54
    spindle: int = 5
    coolant: int = 9
    tool: int = 0
    feed_mm_min: float = 0.0
    spindle_rpm: float = 0.0

    def report(self) -> str:
        """The ``$G`` line, e.g. ``[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]`` (report.c)."""
        g = f"G{self.motion} G{self.coord} G{self.plane} G{self.units} G{self.distance} G94"
        # F in mm/min whatever G20/G21 says: report.c converts only when $13=1.
        return (
            f"[GC:{g} M{self.spindle} M{self.coolant} T{self.tool} "
            f"F{math.floor(self.feed_mm_min + 0.5)} S{math.floor(self.spindle_rpm + 0.5)}]"
        )


@dataclass(frozen=True, slots=True)
class Block:
    """An accepted block: the parser state after it, and what to run in Grbl's order (dwell,
    then motion, then program flow). ``dwell_s`` in s, ``target_mm`` in machine mm,
    ``feed_mm_min`` None for a rapid (G0); ``program_flow`` 0 = M0 pause, 2/30 = end."""

    state: ParserState
    dwell_s: float | None = None
    target_mm: tuple[float, ...] | None = None
    feed_mm_min: float | None = None
    program_flow: int | None = None


def parse_block(line: str, state: ParserState, axes: str) -> Block:
    """Check ``line`` (already stripped of spaces and comments, upper case) against ``state``
    and return the block to run. Raises ``GcodeError`` with Grbl's error number."""
    groups: dict[int, int] = {}  # modal group -> G/M number
    m_groups: dict[int, int] = {}
    words: dict[str, float] = {}
    pos = 0
    while pos < len(line):
        letter = line[pos]
        if not "A" <= letter <= "Z":
            raise GcodeError(1)  # expected command letter
        number = _NUMBER.match(line, pos + 1)
        text = number.group() if number else ""
        if not any(c.isdigit() for c in text):
            raise GcodeError(2)  # bad number format
        pos += 1 + len(text)
        value = float(text)
        whole = math.trunc(value)
        hundredths = round(100 * abs(value - whole))
        if letter in "GM":
            table, seen = (_AXIS_G, groups) if letter == "G" else (_M_GROUP, m_groups)
            if letter == "M" and hundredths:
                raise GcodeError(23)  # command value not an integer
            if letter == "G" and whole == 91 and hundredths == 10:
                whole, hundredths, group = 911, 0, 4  # G91.1: IJK incremental, Grbl's only mode
            elif whole < 0 or whole not in table or (hundredths and whole in (61, 90, 91)):
                raise GcodeError(20)  # unsupported command (G61.1, G90.1 included)
            else:
                group = table[whole]
            if hundredths:
                raise GcodeError(23)
            if group in seen:
                raise GcodeError(21)  # modal group violation
            seen[group] = whole
            continue
        if letter not in _VALUE_LETTERS and letter not in axes:
            raise GcodeError(20)
        if letter in words:
            raise GcodeError(25)  # word repeated
        if letter in "FNPTS" and value < 0:
            raise GcodeError(4)  # negative value
        if letter == "T" and value > 255:
            raise GcodeError(38)  # max value exceeded (MAX_TOOL_NUMBER)
        words[letter] = value
    return _check(state, groups, m_groups, words, axes)


def _check(
    state: ParserState,
    groups: dict[int, int],
    m_groups: dict[int, int],
    words: dict[str, float],
    axes: str,
) -> Block:
    """gcode.c STEP 3 (error checks) and the state update of STEP 4."""
    new = dataclasses.replace(state, position_mm=list(state.position_mm))
    new.motion = groups.get(1, state.motion)
    new.plane, new.units = groups.get(2, state.plane), groups.get(6, state.units)
    new.distance, new.coord = groups.get(3, state.distance), groups.get(12, state.coord)
    scale = MM_PER_INCH if new.units == 20 else 1.0
    axis_words = {a: words.pop(a) * scale for a in axes if a in words}
    explicit_motion = 1 in groups and groups[1] != 80
    motion = explicit_motion or bool(axis_words)
    if words.get("N", 0.0) > 9_999_999:
        raise GcodeError(27)  # line number out of range
    new.feed_mm_min = words["F"] * scale if "F" in words else state.feed_mm_min
    dwell = groups.get(0) == 4
    if dwell and "P" not in words:
        raise GcodeError(28)  # value word missing
    absolute_override = groups.get(0) == 53
    if absolute_override and new.motion not in (0, 1):
        raise GcodeError(30)
    target = list(state.position_mm)
    for i, axis in enumerate(axes):
        if axis in axis_words:
            relative = new.distance == 91 and not absolute_override
            target[i] = axis_words[axis] + (state.position_mm[i] if relative else 0.0)
    if new.motion == 80:
        if axis_words:
            raise GcodeError(31)  # axis words with G80
        motion = False
    elif motion and new.motion == 1 and new.feed_mm_min == 0.0:
        raise GcodeError(22)  # feed rate undefined
    leftover = set(words) - {"N", "F", "S", "T"} - ({"P"} if dwell else set())
    if leftover:
        raise GcodeError(36)  # unused words
    new.spindle, new.coolant = m_groups.get(7, state.spindle), m_groups.get(8, state.coolant)
    new.spindle_rpm = words.get("S", state.spindle_rpm)
    new.tool = int(words.get("T", state.tool))
    move = motion and bool(axis_words)
    if move:
        new.position_mm = target
    flow = m_groups.get(4)
    if flow in (2, 30):  # program end: gcode.c resets these modes
        new.motion, new.plane, new.distance, new.coord = 1, 17, 90, 54
        new.spindle, new.coolant = 5, 9
    return Block(
        state=new,
        dwell_s=words["P"] if dwell else None,
        target_mm=tuple(target) if move else None,
        feed_mm_min=new.feed_mm_min if new.motion == 1 else None,
        program_flow=flow if flow in (0, 2, 30) else None,
    )
