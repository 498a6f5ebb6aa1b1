"""The G-code line the Grbl simulator's main loop is blocked on, until its ``ok`` may go out.

gnea/grbl 1.1h runs a block's parts in order and reads no further line meanwhile: ``G4``
waits for the planner to empty (protocol.c ``protocol_buffer_synchronize``), then dwells in
50 ms slices; a move waits for a free planner block (motion_control.c ``mc_line``); ``M0``,
``M2`` and ``M30`` wait for the planner to empty, then pause or end the program.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from adapters.sim.grbl_gcode import Block
from adapters.sim.grbl_motion import MotionPlanner

DWELL_TIME_STEP_S = 0.05  # config.h DWELL_TIME_STEP: G4 runs in 50 ms slices


@dataclass(slots=True)
class _Step:
    """What a blocked line still waits for: "sync" (planner empty, then dwell ``t`` s),
    "dwell" (until clock ``t``), "move" (planner space), "flow" (M0 pause, M2/M30 end)."""

    kind: str
    t: float = 0.0
    target: tuple[float, ...] = ()
    feed: float | None = None
    flow: int = 0


class PendingLine:
    """The steps of an accepted ``block`` that have not run yet."""

    def __init__(self, block: Block) -> None:
        self._steps: list[_Step] = []
        if block.dwell_s is not None:
            slices = math.ceil(block.dwell_s / DWELL_TIME_STEP_S - 1e-9)
            self._steps.append(_Step("sync", t=slices * DWELL_TIME_STEP_S))
        if block.target_mm is not None:
            self._steps.append(_Step("move", target=block.target_mm, feed=block.feed_mm_min))
        if block.program_flow is not None:
            self._steps += [_Step("sync"), _Step("flow", flow=block.program_flow)]

    def advance(
        self,
        now: float,
        motion: MotionPlanner,
        cycle_running: bool,
        program_flow: Callable[[float, int], None],
    ) -> bool:
        """Run what can run at ``now``; True once the line is done. ``cycle_running``: the
        machine is in Run. ``program_flow(now, n)`` performs M0 (n = 0) or M2/M30, always
        the line's last step, so nothing after it reads the state it changes."""
        steps = self._steps
        while steps:
            step = steps[0]
            if step.kind == "sync":
                if motion.queued or cycle_running:
                    return False  # protocol_buffer_synchronize
                steps[0] = _Step("dwell", t=now + step.t)
                continue
            if step.kind == "dwell" and now < step.t:
                return False
            if step.kind == "move":
                if motion.full:
                    return False  # mc_line waits for a free planner block
                motion.add_line(now, step.target, step.feed)
            elif step.kind == "flow":
                program_flow(now, step.flow)
            steps.pop(0)
        return True
