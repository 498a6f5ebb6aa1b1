"""Settings and reports of the Grbl simulator: ``$$`` values, ``$#`` and the ``?`` status line.

Formats follow gnea/grbl 1.1h report.c; setting checks follow settings.c
``settings_store_global_setting``. Work offsets are always zero here (no G10/G92).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.sim.grbl import GrblConfig
    from adapters.sim.grbl_motion import MotionPlanner

_INTEGER = {0, 1, 2, 3, 4, 5, 6, 10, 13, 20, 21, 22, 23, 26, 30, 31, 32}
_BOOLEAN = {4, 5, 6, 13, 20, 21, 22, 32}
_GLOBAL = {0: 10, 1: 25, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 10: 1, 11: 0.010, 12: 0.002, 13: 0}
_GLOBAL |= {20: 0, 21: 0, 22: 0, 23: 0, 24: 25.0, 25: 500.0, 26: 250, 27: 1.0}
_GLOBAL |= {30: 1000, 31: 0, 32: 0}
MAX_STEP_RATE_HZ = 30_000  # config.h: $100 x $110 may not exceed it
_SETTING = re.compile(r"\$(\d+(?:\.\d*)?)(?:=([-+]?\d*\.?\d*))?(.*)")


class Settings:
    """Grbl's ``$x`` settings (its EEPROM). Axis settings: ``$100+i`` steps/mm, ``$110+i``
    max rate (mm/min), ``$120+i`` acceleration (mm/s²), ``$130+i`` max travel (mm)."""

    def __init__(self, values: dict[int, float], n_axes: int) -> None:
        self.values, self._n = values, n_axes

    @classmethod
    def defaults(cls, config: GrblConfig) -> Settings:
        values: dict[int, float] = dict(_GLOBAL)
        values[10] = config.status_report_mask
        for i in range(len(config.axes)):
            values[100 + i] = config.steps_per_mm
            values[110 + i] = config.max_rate_mm_min
            values[120 + i] = config.acceleration_mm_s2
            values[130 + i] = 200.0
        return cls(values, len(config.axes))

    @property
    def status_mask(self) -> int:
        return int(self.values[10])

    def lines(self) -> list[str]:
        """The ``$$`` print-out, one ``$n=value`` per setting (3 decimals for real values)."""
        return [
            f"${n}={int(v)}" if n in _INTEGER else f"${n}={v:.3f}"
            for n, v in sorted(self.values.items())
        ]

    def store_line(self, text: str) -> int:
        """Parse ``$n=value`` as system.c does (no number: 2, no ``=``: 3, no value: 2,
        trailing text or n > 255: 3) and store it; return Grbl's status code."""
        match = _SETTING.fullmatch(text)
        if match is None:
            return 2
        number, value, rest = match.groups()
        if value is None:
            return 3
        if not any(c.isdigit() for c in value):
            return 2
        if rest or float(number) > 255:
            return 3
        return self.store(int(float(number)), float(value))

    def store(self, number: int, value: float) -> int:
        """``$n=value``: store and return Grbl's status (0 ok, 3 unknown, 4 negative,
        6 step pulse under 3 µs, 10 soft limits without homing, 12 step rate too high)."""
        if value < 0:
            return 4
        if number not in self.values:
            return 3
        axis = number % 10
        if number in (100 + axis, 110 + axis) and axis < self._n:
            other = self.values[110 + axis if number < 110 else 100 + axis]
            if value * other > MAX_STEP_RATE_HZ * 60:
                return 12
        if number == 0 and value < 3:
            return 6
        if number == 20 and value and not self.values[22]:
            return 10
        if number in _BOOLEAN:
            value = 1 if value else 0
        self.values[number] = int(value) if number in _INTEGER else value
        return 0

    def apply(self, motion: MotionPlanner) -> None:
        """Hand the axis settings and the junction deviation (``$11``, mm) to the motion
        model (they take effect on new blocks)."""
        motion.junction_deviation_mm = self.values[11]
        for i in range(self._n):
            motion.steps_per_mm[i] = self.values[100 + i]
            motion.max_rate_mm_min[i] = self.values[110 + i]
            motion.accel_mm_s2[i] = self.values[120 + i]


class Reporter:
    """Builds status reports, counting reports for the intermittent ``WCO:`` and ``Ov:``
    fields (config.h: every 10 reports idle, 30/20 busy; WCO first after a reset)."""

    def __init__(self, axes: str, settings: Settings) -> None:
        self._axes, self._settings = axes, settings
        self._wco_countdown = self._ovr_countdown = 0

    def restart(self) -> None:
        """A reset clears the counters: WCO comes in the next report, Ov in the one after."""
        self._wco_countdown = self._ovr_countdown = 0

    def status(
        self,
        state: str,
        position_mm: Sequence[float],
        buffers: tuple[int, int],
        feed_speed: tuple[float, float],
        *,
        busy: bool,
    ) -> str:
        """``<state|MPos:x,y,z,a|Bf:blocks,bytes|FS:mm/min,rpm|WCO:..|Ov:..>``; Bf only when
        ``$10`` bit 1 is set, WPos instead of MPos when bit 0 is clear."""
        mask = self._settings.status_mask
        fields = [state, ("MPos:" if mask & 1 else "WPos:") + _coords(position_mm)]
        if mask & 2:
            fields.append(f"Bf:{buffers[0]},{buffers[1]}")
        fields.append(f"FS:{int(feed_speed[0] + 0.5)},{int(feed_speed[1] + 0.5)}")
        if self._wco_countdown > 0:
            self._wco_countdown -= 1
        else:
            self._wco_countdown = (30 if busy else 10) - 1
            self._ovr_countdown = self._ovr_countdown or 1
            fields.append("WCO:" + _coords([0.0] * len(self._axes)))
        if self._ovr_countdown > 0:
            self._ovr_countdown -= 1
        else:
            self._ovr_countdown = (20 if busy else 10) - 1
            fields.append("Ov:100,100,100")
        return "<" + "|".join(fields) + ">"

    def parameters(self) -> list[str]:
        """The ``$#`` print-out: coordinate systems, G28/G30, G92, TLO, last probe."""
        zero = _coords([0.0] * len(self._axes))
        names = [f"G{n}" for n in range(54, 60)] + ["G28", "G30", "G92"]
        return [f"[{name}:{zero}]" for name in names] + ["[TLO:0.000]", f"[PRB:{zero}:0]"]


def _coords(values: Sequence[float]) -> str:
    return ",".join(f"{v + 0.0:.3f}" for v in values)
