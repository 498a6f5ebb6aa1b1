"""Grbl 1.1h serial protocol engine of the simulator: bytes in, bytes out, on a given clock.

Behaves as gnea/grbl 1.1h on an Arduino Uno (default config.h/defaults.h), four axes:

- protocol.c: one ``ok``/``error:N`` per line; G-code gets ``error:9`` in Alarm. No line is
  read while a move waits for planner space, while ``G4`` waits for the planner to empty,
  or while a completed hold suspends the main loop (Hold:0, also after ``!`` when idle).
  ``~`` is ignored until a hold is complete (Hold:1 cannot resume).
- motion_control.c ``mc_reset``: a soft reset raises ALARM:3 only while the steppers move
  (Run, or Hold:1 still decelerating). Hold:0 raises none: protocol.c clears the hold flag
  (STEP_CONTROL_EXECUTE_HOLD) when the hold completes. report.c pauses 500 ms after
  ``ALARM:N``, deaf to everything. The line the main loop was blocked on still gets its
  ``ok`` (gc_execute_line returns OK after the abort). Then main.c clears the RX buffer,
  parser (G0 G90 F0 ...) and planner, keeps ``sys_position``, prints the banner and stays
  in Alarm with ``[MSG:'$H'|'$X' to unlock]`` if it was in Alarm, else goes Idle.
- system.c ``$`` commands: ``$Q`` is ``error:2``, ``$XY`` ``error:3``, ``$$`` in Run or
  Hold ``error:8``, ``$H`` ``error:5`` (homing disabled).

Not modelled: jogging (``$J=`` answers ``error:20``), ``$C``, ``$SLP``, ``$RST``, storing
``$N`` lines, overrides, safety door, limits, homing, spindle and coolant outputs.
Real-time bytes and line assembly live in grbl_serial, the G-code parser in grbl_gcode,
settings and reports in grbl_report, the planner and speed profiles in grbl_motion.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from adapters.sim.grbl_gcode import GcodeError, ParserState, parse_block
from adapters.sim.grbl_motion import MotionPlanner
from adapters.sim.grbl_report import Reporter, Settings
from adapters.sim.grbl_serial import Line, SerialInput

BANNER = b"\r\nGrbl 1.1h ['$' for help]\r\n"
DWELL_TIME_STEP_S = 0.05  # config.h DWELL_TIME_STEP: G4 runs in 50 ms slices
IDLE, RUN, HOLD, ALARM = "Idle", "Run", "Hold", "Alarm"
_HELP = "[HLP:$$ $# $G $I $N $x=val $Nx=line $J=line $SLP $C $X $H ~ ! ? ctrl-x]"


@dataclass(frozen=True, slots=True)
class GrblConfig:
    """The machine the simulator pretends to be: ``axes`` letters in report order; for every
    axis steps per mm, max rate (mm/min) and acceleration (mm/s²); the ``$10`` status mask
    (1 = Grbl's default: MPos, no Bf; 3 adds Bf); the pause after ``ALARM:N`` (s); whether
    bytes overflowing the RX buffer are dropped as on real Grbl or wait in order."""

    axes: str = "XYZA"
    steps_per_mm: float = 250.0
    max_rate_mm_min: float = 1000.0
    acceleration_mm_s2: float = 200.0
    status_report_mask: int = 1
    alarm_report_delay_s: float = 0.5
    drop_rx_overflow: bool = False


@dataclass(slots=True)
class _Step:
    """What a blocked line still waits for: "sync" (planner empty, then dwell ``t`` s),
    "dwell" (until clock ``t``), "move" (planner space), "flow" (M0 pause, M2/M30 end)."""

    kind: str
    t: float = 0.0
    target: tuple[float, ...] = ()
    feed: float | None = None
    flow: int = 0


class GrblEngine:
    """One simulated Grbl 1.1h controller. ``feed`` takes the bytes a host wrote and returns
    Grbl's output; ``poll`` returns what time produced (a deferred ``ok``, the banner after
    an alarm pause). ``clock`` gives seconds. Not thread-safe: the caller serialises."""

    def __init__(
        self, config: GrblConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = cfg = config or GrblConfig()
        self._clock, n = clock, len(cfg.axes)
        self._settings = Settings.defaults(cfg)
        self._motion = MotionPlanner(
            [cfg.steps_per_mm] * n, [cfg.max_rate_mm_min] * n, [cfg.acceleration_mm_s2] * n
        )
        self._report = Reporter(cfg.axes, self._settings)
        self._serial = SerialInput(drop_overflow=cfg.drop_rx_overflow)
        self._out, self._rt = bytearray(BANNER), set[int]()
        self._state, self._hold_done, self._holding = IDLE, False, False
        self._reset, self._alarm, self._busy_until = False, 0, -math.inf
        self._pending: list[_Step] | None = None
        self._gc, self._build_info = ParserState([0.0] * n), ""

    def feed(self, data: bytes) -> bytes:
        """Receive ``data`` byte by byte, as the serial interrupt does; return the output."""
        self._service()  # catch up with time first: the bytes arrive now
        for byte in data:
            command = self._serial.receive(byte)
            if command == 0x18:
                self._mc_reset()
            elif command is not None:
                self._rt.add(command)
            self._service()
        return self.poll()

    def poll(self) -> bytes:
        """Let time pass: moves progress, deferred ``ok`` lines and the banner come out."""
        self._service()
        out, self._out = bytes(self._out), bytearray()
        return out

    def positions_mm(self) -> dict[str, float]:
        """Machine position (mm) of each axis now, at step resolution."""
        return dict(zip(self.config.axes, self._motion.position_mm(self._clock()), strict=True))

    def state_name(self) -> str:
        """Machine state as the status report spells it: Idle, Run, Hold:0, Hold:1, Alarm."""
        return f"{HOLD}:{0 if self._hold_done else 1}" if self._state == HOLD else self._state

    def _emit(self, *lines: str) -> None:
        for line in lines:
            self._out += line.encode("ascii") + b"\r\n"

    @property
    def _suspended(self) -> bool:
        return self._state == HOLD and self._hold_done

    def _mc_reset(self) -> None:
        if self._reset:
            return  # only the first reset counts until the system re-initialises
        self._reset, now = True, self._clock()
        self._sync_motion(now)
        if self._state == RUN or (self._state == HOLD and self._holding):
            self._alarm = 3  # EXEC_ALARM_ABORT_CYCLE: position may be lost
            self._motion.halt(now)

    def _service(self) -> None:
        now = self._clock()
        if now < self._busy_until:
            return
        self._sync_motion(now)
        if self._reset:
            if self._alarm:
                self._state, code, self._alarm = ALARM, self._alarm, 0
                self._emit(f"ALARM:{code}")
                self._busy_until = now + self.config.alarm_report_delay_s
                if self.config.alarm_report_delay_s > 0:
                    return
            self._reinitialise(now)
        self._realtime(now)
        self._main_loop(now)
        if self._state == IDLE and self._motion.queued:  # protocol_auto_cycle_start
            self._state = RUN
            self._motion.resume(now)

    def _sync_motion(self, now: float) -> None:
        """EXEC_CYCLE_STOP: a hold came to rest (Hold:0) or the last block ended (Idle)."""
        self._motion.advance(now)
        if self._state == HOLD and self._holding and not self._motion.running:
            self._holding, self._hold_done = False, True
        elif self._state == RUN and not self._motion.running:
            self._state = IDLE

    def _reinitialise(self, now: float) -> None:
        if self._pending is not None:
            self._emit("ok")
        self._motion.halt(now)
        self._serial.reset()
        self._pending, self._reset, self._rt = None, False, set()
        self._hold_done = self._holding = False
        self._gc = ParserState(list(self._motion.position_mm(now)))
        self._report.restart()
        self._out += BANNER
        if self._state == ALARM:
            self._emit("[MSG:'$H'|'$X' to unlock]")
        else:
            self._state = IDLE

    def _realtime(self, now: float) -> None:
        rt, self._rt = self._rt, set()
        if ord("?") in rt:
            self._emit(self._status(now))
        if ord("!") in rt and self._state != ALARM:
            if self._state == RUN:
                self._motion.hold(now)
                self._holding = True
            elif self._state == IDLE:
                self._hold_done = True  # nothing moves: the hold is complete at once
            self._state = HOLD
        elif ord("~") in rt and (self._state == IDLE or self._suspended):
            self._hold_done = False
            self._state = RUN if self._motion.queued else IDLE
            self._motion.resume(now)

    def _status(self, now: float) -> str:
        spindle = self._gc.spindle_rpm if self._gc.spindle in (3, 4) else 0.0
        return self._report.status(
            self.state_name(),
            self._motion.position_mm(now),
            (self._motion.capacity - self._motion.queued, self._serial.free),
            (self._motion.speed_mm_min(now), spindle),
            busy=self._state in (RUN, HOLD),
        )

    def _main_loop(self, now: float) -> None:
        while not self._suspended:
            if self._pending is not None:
                if not self._run_pending(now) or self._suspended:
                    return
                self._pending = None
                self._emit("ok")
            line = self._serial.read_line()
            if line is None:
                return
            self._execute(line)

    def _execute(self, line: Line) -> None:
        if line.overflow or not line.text or line.text.startswith("$"):
            code = 11 if line.overflow else self._system(line.text) if line.text else 0
            self._emit("ok" if code == 0 else f"error:{code}")
            return
        if self._state == ALARM:
            self._emit("error:9")
            return
        try:
            block = parse_block(line.text, self._gc, self.config.axes)
        except GcodeError as err:
            self._emit(f"error:{err.code}")
            return
        self._gc, steps = block.state, []
        if block.dwell_s is not None:
            slices = math.ceil(block.dwell_s / DWELL_TIME_STEP_S - 1e-9)
            steps.append(_Step("sync", t=slices * DWELL_TIME_STEP_S))
        if block.target_mm is not None:
            steps.append(_Step("move", target=block.target_mm, feed=block.feed_mm_min))
        if block.program_flow is not None:
            steps += [_Step("sync"), _Step("flow", flow=block.program_flow)]
        self._pending = steps

    def _run_pending(self, now: float) -> bool:
        """Advance the line the main loop is blocked on; True once it is done."""
        steps = self._pending or []
        while steps:
            step = steps[0]
            if step.kind == "sync":
                if self._motion.queued or self._state == RUN:
                    return False  # protocol_buffer_synchronize
                steps[0] = _Step("dwell", t=now + step.t)
                continue
            if step.kind == "dwell" and now < step.t:
                return False
            if step.kind == "move":
                if self._motion.full:
                    return False  # mc_line waits for a free planner block
                self._motion.add_line(step.target, step.feed)
            elif step.kind == "flow" and step.flow == 0:
                self._rt.add(ord("!"))  # M0: a feed hold once the planner is empty
                self._realtime(now)
            elif step.kind == "flow":
                self._emit("[MSG:Pgm End]")
            steps.pop(0)
        return True

    def _system(self, text: str) -> int:
        """system.c ``system_execute_line``: run a ``$`` line, return Grbl's status code."""
        cmd = text[1:2]
        if cmd in ("$", "G", "C", "X") and len(text) > 2:
            return 3
        if cmd == "":
            self._emit(_HELP)
        elif cmd == "$":
            if self._state in (RUN, HOLD):
                return 8  # not idle: printing takes too long during a cycle
            self._emit(*self._settings.lines())
        elif cmd == "G":
            self._emit(self._gc.report())
        elif cmd == "X" and self._state == ALARM:
            self._emit("[MSG:Caution: Unlocked]")
            self._state = IDLE
        elif cmd == "J":  # jogging: not modelled
            return 8 if self._state != IDLE else 3 if text[2:3] != "=" else 20
        elif cmd == "C":  # check mode: not modelled
            return 3
        elif cmd != "X":
            return self._idle_command(text)
        return 0

    def _idle_command(self, text: str) -> int:
        """The ``$`` commands system.c allows only in Idle or Alarm."""
        if self._state not in (IDLE, ALARM):
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
