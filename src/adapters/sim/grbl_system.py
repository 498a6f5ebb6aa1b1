"""The ``$`` system commands of the Grbl simulator, and the machine states they depend on.

gnea/grbl 1.1h system.c ``system_execute_line``: ``$`` prints the help, ``$$`` the settings,
``$#`` the parameters, ``$G`` the parser state, ``$I`` the build info (``$I=`` stores it),
``$N`` the startup lines, ``$X`` unlocks an Alarm and ``$x=val`` stores a setting. ``$Q`` is
``error:2``, ``$XY`` ``error:3``, ``$$`` in Run or Hold ``error:8``, ``$H`` ``error:5``
(homing disabled). Not modelled: jogging (``$J=`` answers ``error:20``), check mode ``$C``,
``$SLP``, ``$RST`` and storing ``$N`` lines.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.sim.grbl_gcode import ParserState
from adapters.sim.grbl_motion import MotionPlanner
from adapters.sim.grbl_report import Reporter, Settings

# system.h sys.state, spelt as the status report spells them.
IDLE, RUN, HOLD, ALARM = "Idle", "Run", "Hold", "Alarm"
_HELP = "[HLP:$$ $# $G $I $N $x=val $Nx=line $J=line $SLP $C $X $H ~ ! ? ctrl-x]"


class SystemCommands:
    """Runs ``$`` lines against the simulator's settings, reports and planner; ``emit``
    prints a line to the host. Keeps the ``$I=`` build info, which, like the settings,
    survives a soft reset (both live in EEPROM)."""

    def __init__(
        self,
        settings: Settings,
        report: Reporter,
        motion: MotionPlanner,
        emit: Callable[..., None],
    ) -> None:
        self._settings, self._report, self._motion = settings, report, motion
        self._emit, self._build_info = emit, ""

    def execute(self, text: str, state: str, gc: ParserState) -> tuple[int, str]:
        """Run the ``$`` line ``text`` (upper case, no spaces) in machine ``state``; return
        Grbl's status code and the state after it (``$X`` leaves Alarm for Idle)."""
        if text == "$X" and state == ALARM:
            self._emit("[MSG:Caution: Unlocked]")
            return 0, IDLE
        return self._system(text, state, gc), state

    def _system(self, text: str, state: str, gc: ParserState) -> int:
        cmd = text[1:2]
        if cmd in ("$", "G", "C", "X") and len(text) > 2:
            return 3
        if cmd == "":
            self._emit(_HELP)
        elif cmd == "$":
            if state in (RUN, HOLD):
                return 8  # not idle: printing takes too long during a cycle
            self._emit(*self._settings.lines())
        elif cmd == "G":
            self._emit(gc.report())
        elif cmd == "J":  # jogging: not modelled
            return 8 if state != IDLE else 3 if text[2:3] != "=" else 20
        elif cmd == "C":  # check mode: not modelled
            return 3
        elif cmd != "X":  # $X outside Alarm: nothing to unlock, just ok
            return self._idle_command(text, state)
        return 0

    def _idle_command(self, text: str, state: str) -> int:
        """The ``$`` commands system.c allows only in Idle or Alarm."""
        if state not in (IDLE, ALARM):
            return 8
        if text == "$#":
            self._emit(*self._report.parameters())
        elif text == "$I":
            self._emit(f"[VER:1.1h.20190825:{self._build_info}]", "[OPT:V,15,128]")
        elif text.startswith("$I="):
            self._build_info = text[3:]
        elif text == "$N":
            self._emit("$N0=", "$N1=")
        elif text.startswith("$H"):
            return 5  # homing cycle not enabled ($22=0)
        elif text[1] in "#INSR":
            return 3  # malformed, or $SLP/$RST/$Nx=: not modelled
        else:
            code = self._settings.store_line(text)
            self._settings.apply(self._motion)
            return code
        return 0
