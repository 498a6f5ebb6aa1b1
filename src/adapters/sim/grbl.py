"""Grbl 1.1h serial protocol engine of the simulator: bytes in, bytes out, on a given clock.

Behaves as gnea/grbl 1.1h on an Arduino Uno (default config.h/defaults.h), four axes:

- protocol.c: one ``ok``/``error:N`` per line; G-code gets ``error:9`` in Alarm. No line is
  read while the last one waits for the planner (grbl_pending) or while a completed hold
  suspends the main loop (Hold:0, also after ``!`` when idle).
  ``~`` is ignored until a hold is complete (Hold:1 cannot resume).
- planner.c: up to 15 blocks are planned with look-ahead, so moves in the same direction
  run back to back at feed without stopping (grbl_motion); a move finding the planner full
  holds its ``ok`` (motion_control.c ``mc_line`` waits for a free block).
- motion_control.c ``mc_reset``: a soft reset raises ALARM:3 only while the steppers move
  (Run, or Hold:1 still decelerating). Hold:0 raises none: protocol.c clears the hold flag
  (STEP_CONTROL_EXECUTE_HOLD) when the hold completes. report.c pauses 500 ms after
  ``ALARM:N``, deaf to everything. The line the main loop was blocked on still gets its
  ``ok`` (gc_execute_line returns OK after the abort). Then main.c clears the RX buffer,
  parser (G0 G90 F0 ...) and planner, keeps ``sys_position``, prints the banner and stays
  in Alarm with ``[MSG:'$H'|'$X' to unlock]`` if it was in Alarm, else goes Idle.

``power_cycle`` stands for a reset the host did not ask for (power loss, watchdog, the
reset pin): the banner comes out unprompted and positions restart at zero.

Not modelled: overrides, safety door, limits, homing, spindle and coolant outputs.
Real-time bytes and line assembly live in grbl_serial, the G-code parser in grbl_gcode,
the ``$`` commands in grbl_system, settings and reports in grbl_report, the planner and
speed profiles in grbl_motion.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from adapters.sim.grbl_gcode import GcodeError, ParserState, parse_block
from adapters.sim.grbl_motion import MotionPlanner
from adapters.sim.grbl_pending import PendingLine
from adapters.sim.grbl_report import Reporter, Settings
from adapters.sim.grbl_serial import Line, SerialInput
from adapters.sim.grbl_system import ALARM, HOLD, IDLE, RUN, SystemCommands

BANNER = b"\r\nGrbl 1.1h ['$' for help]\r\n"


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
        self._system = SystemCommands(self._settings, self._report, self._motion, self._emit)
        self._boot()

    def _boot(self) -> None:
        """Power-up (main.c): empty buffers, parser defaults, Idle (homing is disabled), the
        banner. Settings and build info live in EEPROM and are kept by the caller."""
        self._serial = SerialInput(drop_overflow=self.config.drop_rx_overflow)
        self._out, self._rt = bytearray(BANNER), set[int]()
        self._state, self._hold_done, self._holding = IDLE, False, False
        self._reset, self._alarm, self._busy_until = False, 0, -math.inf
        self._pending: PendingLine | None = None
        self._gc = ParserState([0.0] * len(self.config.axes))
        self._report.restart()

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

    def power_cycle(self) -> None:
        """The controller restarts on its own (power lost, USB re-enumerated, watchdog, the
        reset button): motion stops dead, planned blocks, the RX buffer and the line being
        run are lost without an ``ok``, unsent output is dropped, positions restart at 0
        and the banner comes out unprompted. Settings (``$x``) survive, as in EEPROM."""
        self._motion.power_off()
        self._boot()

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
                done = self._pending.advance(now, self._motion, self._state == RUN, self._flow)
                if not done or self._suspended:
                    return
                self._pending = None
                self._emit("ok")
            line = self._serial.read_line()
            if line is None:
                return
            self._execute(line)

    def _execute(self, line: Line) -> None:
        if line.overflow or not line.text or line.text.startswith("$"):
            code = 11 if line.overflow else 0
            if line.text and not line.overflow:
                code, self._state = self._system.execute(line.text, self._state, self._gc)
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
        self._gc, self._pending = block.state, PendingLine(block)

    def _flow(self, now: float, flow: int) -> None:
        """Program flow once the planner is empty: M0 pauses, M2/M30 end the program."""
        if flow == 0:
            self._rt.add(ord("!"))  # M0: a feed hold once the planner is empty
            self._realtime(now)
        else:
            self._emit("[MSG:Pgm End]")
