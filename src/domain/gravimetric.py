"""The gravimetric controller: dispense a target mass with the scale closing the loop.

Tare; a fast phase up to a cut-off; let it settle; a slow (dribble) phase stopped early by
the predicted in-flight mass; let it settle (and learn the in-flight time from what still
arrived); top-up pulses while short. Every pump phase is a bounded volume, so a scale that
freezes cannot run a pump away. While a pump runs, a weight that does not rise (empty
reservoir, blocked tube) or falls (beaker lifted) aborts within about two seconds.

Pure: readings and times come in, actions go out. The use case turns actions into scale
and pump commands and reports back with the verbs.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from transitions import Machine

from domain.scale import ScaleReading
from domain.weighing import WeighFault, WeighOutcome, WeighPlan, WeighResult

if TYPE_CHECKING:
    from transitions.core import TransitionConfigDict

NO_RISE_SHARE = 0.25  # of the expected rise over the window: less means nothing arrives
FALL_LIMIT_G = 1.0  # a net weight this far below its peak: the beaker was lifted
MIN_SETTLE_S = 0.5  # after a pump stops, before a stable reading counts as settled


class WeighPhase(enum.Enum):
    """Where a dispense by weight stands; DONE and ABORTED are final."""

    TARING = "taring"
    FAST = "fast"
    SETTLING = "settling"
    DRIBBLE = "dribble"
    TOPUP = "topup"
    DONE = "done"
    ABORTED = "aborted"


_TARE, _FAST, _SETTLE = WeighPhase.TARING, WeighPhase.FAST, WeighPhase.SETTLING
_DRIB, _TOP, _DONE, _ABORT = (
    WeighPhase.DRIBBLE, WeighPhase.TOPUP, WeighPhase.DONE, WeighPhase.ABORTED,
)

_TRANSITIONS: list[TransitionConfigDict] = [
    {"trigger": "to_pumping", "source": _TARE, "dest": _FAST, "conditions": "has_fast_phase"},
    {"trigger": "to_pumping", "source": _TARE, "dest": _DRIB},
    {"trigger": "flow_done", "source": [_FAST, _DRIB, _TOP], "dest": _SETTLE},
    {"trigger": "settled", "source": _SETTLE, "dest": _DRIB, "conditions": "needs_dribble"},
    {"trigger": "settled", "source": _SETTLE, "dest": _TOP, "conditions": "needs_topup"},
    {"trigger": "settled", "source": _SETTLE, "dest": _DONE},
    {"trigger": "fail", "source": [_TARE, _FAST, _SETTLE, _DRIB, _TOP], "dest": _ABORT},
]


@dataclass(frozen=True, slots=True)
class TareScale:
    """Tare the scale now (its weight is stable)."""


@dataclass(frozen=True, slots=True)
class StartFlow:
    """Run the pump for at most ``volume_ml`` (ml) at ``flow_rate_ml_min`` (ml/min)."""

    volume_ml: float
    flow_rate_ml_min: float
    phase: WeighPhase


@dataclass(frozen=True, slots=True)
class StopFlow:
    """Stop the running pump phase now (``reason`` for the journal)."""

    reason: str


WeighAction = TareScale | StartFlow | StopFlow


class GravimetricDispense:
    """One dispense by weight. Feed every reading to ``observe`` and act on what it
    returns; report back with ``tared``, ``flow_ended`` and ``abort``. ``result`` is set
    once ``phase`` is DONE or ABORTED; ``observed_inflight_s`` (s) once a dribble stop
    settled (the use case keeps it per pump)."""

    phase: WeighPhase
    trigger: Callable[..., bool]

    def __init__(self, plan: WeighPlan, started_at_s: float) -> None:
        self.plan = plan
        self.started_at_s = started_at_s
        self.result: WeighResult | None = None
        self.observed_inflight_s: float | None = None
        self.topups = 0
        self.dispensed_ml = 0.0
        self._net = 0.0
        self._peak = 0.0
        self._settled_net: float | None = None
        self._tare_asked = self._flowing = self._stop_sent = False
        self._flow_started_at = self._flow_ended_at = started_at_s
        self._history: deque[tuple[float, float]] = deque()
        self._stop_net: float | None = None
        self._stop_rate: float | None = None
        # what the dribble and top-ups really gave per ml of pump travel (g, ml)
        self._measured_g = self._measured_ml = 0.0
        self._phase_ml: float | None = None  # ml of the last dribble/top-up, until settled
        self._phase_start_net = 0.0
        self._start_asked = self._came_from_fast = False
        self._last_reading_at = -math.inf
        self._machine = Machine(
            model=self, states=WeighPhase, transitions=_TRANSITIONS, initial=_TARE,
            auto_transitions=False, model_attribute="phase",
        )

    # conditions -------------------------------------------------------------------------
    def has_fast_phase(self) -> bool:
        return self.plan.fast_cutoff_g > 0 and self._net < self._fast_stop_g

    def needs_dribble(self) -> bool:
        return self._came_from_fast and self._short_g > self.plan.topup_threshold_g

    def needs_topup(self) -> bool:
        return self._short_g > self.plan.topup_threshold_g and self.topups < self.plan.max_topups

    # verbs ------------------------------------------------------------------------------
    def observe(self, reading: ScaleReading, now_s: float) -> WeighAction | None:
        """Take one reading (net of the tare once tared); return what to do now, if
        anything. A reading out of range aborts; one seen before (same ``at_s``) is
        ignored."""
        if self.phase in (_DONE, _ABORT):
            return None
        if reading.at_s <= self._last_reading_at:
            return None  # the same reading again: a frozen scale must not look like no rise
        self._last_reading_at = reading.at_s
        if not reading.in_range:
            self._abort(now_s, f"scale {reading.status.value}", WeighFault.SCALE_RANGE)
            return StopFlow("scale out of range") if self._flowing else None
        self._net = reading.grams
        if self.phase is _TARE:
            if reading.stable and not self._tare_asked:
                self._tare_asked = True
                return TareScale()
            return None
        if self.phase is _SETTLE:
            return self._observe_settling(reading, now_s)
        return self._observe_pumping(now_s)

    def tared(self, now_s: float) -> None:
        """The scale took the tare: readings are net from now on."""
        self._net = self._peak = 0.0
        self._phase_start_net = 0.0
        self.trigger("to_pumping")

    def tare_refused(self) -> None:
        """The scale could not tare (not stable in time): ask again at the next stable one."""
        self._tare_asked = False

    def flow_started(self, now_s: float) -> None:
        """The pump phase asked for by ``StartFlow`` is running."""
        self._flowing, self._stop_sent, self._start_asked = True, False, False
        self._flow_started_at = now_s
        self._history.clear()
        self._phase_start_net = self._net

    def flow_ended(self, dispensed_ml: float, now_s: float) -> None:
        """The pump phase ended (run to its bound or stopped); ``dispensed_ml`` (ml) by
        the pump's calibration."""
        if not self._flowing:
            return
        self._flowing = False
        self.dispensed_ml += dispensed_ml
        self._phase_ml = dispensed_ml if self.phase in (_DRIB, _TOP) else None
        self._came_from_fast = self.phase is _FAST
        self._flow_ended_at = now_s
        if self.phase in (_FAST, _DRIB, _TOP):
            self.trigger("flow_done")

    def abort(self, reason: str, now_s: float, fault: WeighFault = WeighFault.EXTERNAL) -> None:
        """End now (e-stop, a refused pump phase, a lost scale, a request)."""
        self._abort(now_s, reason, fault)

    @property
    def flowing(self) -> bool:
        """A pump phase is running."""
        return self._flowing

    @property
    def net_g(self) -> float:
        """The last net weight seen (g)."""
        return self._net

    # internals --------------------------------------------------------------------------
    @property
    def _fast_stop_g(self) -> float:
        return self.plan.target_g - self.plan.fast_cutoff_g

    @property
    def _short_g(self) -> float:
        return self.plan.target_g - (self._settled_net if self._settled_net is not None else 0)

    def _observe_pumping(self, now_s: float) -> WeighAction | None:
        plan = self.plan
        if not self._flowing:
            return None if self._start_asked else self._start_phase()
        if self._stop_sent:
            return None
        self._history.append((now_s, self._net))
        self._peak = max(self._peak, self._net)
        stop_at = self._fast_stop_g if self.phase is _FAST else plan.dribble_stop_g()
        if self.phase is not _TOP and self._net >= stop_at:
            self._stop_sent = True
            if self.phase is _DRIB:
                self._stop_net, self._stop_rate = self._net, self._rate_g_s(now_s)
            return StopFlow("target weight reached" if self.phase is _DRIB else "fast cut-off")
        fault, problem = self._flow_problem(now_s)
        if problem:
            self._abort(now_s, problem, fault)
            return StopFlow(problem)
        return None

    def _start_phase(self) -> StartFlow:
        plan, remaining = self.plan, self.plan.target_g - self._net
        self._start_asked = True
        if self.phase is _FAST:
            volume = (self._fast_stop_g - self._net) / plan.density_g_ml
            return StartFlow(volume, plan.fast_flow_ml_min, _FAST)
        if self.phase is _DRIB:
            return StartFlow(1.2 * remaining / plan.density_g_ml, plan.slow_flow_ml_min, _DRIB)
        # a top-up runs to its end, so its size comes from what the dribble really gave
        # per ml (density and calibration error together), not from the nominal density
        measured = self._measured_g > 0 and self._measured_ml > 0
        g_per_ml = self._measured_g / self._measured_ml if measured else plan.density_g_ml
        self.topups += 1
        return StartFlow(self._short_g / g_per_ml, plan.slow_flow_ml_min, _TOP)

    def _observe_settling(self, reading: ScaleReading, now_s: float) -> WeighAction | None:
        waited = now_s - self._flow_ended_at
        if waited > self.plan.settle_timeout_s:
            reason = f"the weight did not settle within {self.plan.settle_timeout_s:g} s"
            self._abort(now_s, reason, WeighFault.UNSETTLED)
            return None
        if not reading.stable or waited < max(MIN_SETTLE_S, self.plan.inflight_s):
            return None
        self._settled_net = reading.grams
        if self._phase_ml:
            self._measured_g += reading.grams - self._phase_start_net
            self._measured_ml += self._phase_ml
            self._phase_ml = None
        self._learn()
        self.trigger("settled")
        if self.phase is _DONE:
            self._finish(now_s)
            return None
        return self._start_phase()

    def _learn(self) -> None:
        if self._stop_net is None or not self._stop_rate or self._settled_net is None:
            return
        self.observed_inflight_s = (self._settled_net - self._stop_net) / self._stop_rate
        self._stop_net = self._stop_rate = None

    def _rate_g_s(self, now_s: float) -> float | None:
        """Mass flow (g/s) over the last second of readings."""
        past = [(t, g) for t, g in self._history if now_s - t <= 1.0]
        if len(past) < 2 or past[-1][0] - past[0][0] < 0.3:
            return None
        (t0, g0), (t1, g1) = past[0], past[-1]
        return (g1 - g0) / (t1 - t0) if g1 > g0 else None

    def _flow_problem(self, now_s: float) -> tuple[WeighFault, str]:
        if self._net < self._peak - FALL_LIMIT_G:
            return WeighFault.WEIGHT_FELL, (
                "the weight fell while dispensing (beaker lifted or knocked over?)"
            )
        flow = self.plan.mass_flow_g_s(self.plan.slow_flow_ml_min)
        if self.phase is _FAST:
            flow = self.plan.mass_flow_g_s(self.plan.fast_flow_ml_min)
        window = min(2.0, max(0.8, 0.1 / flow))
        grace = min(1.5, self.plan.inflight_s + 0.3)
        if now_s - self._flow_started_at < grace + window:
            return WeighFault.NONE, ""
        while len(self._history) > 2 and self._history[1][0] <= now_s - window:
            self._history.popleft()
        start_t, start_g = self._history[0]
        if now_s - start_t < window * 0.9:
            return WeighFault.NONE, ""
        if self._net - start_g < NO_RISE_SHARE * flow * window:
            return WeighFault.NOT_RISING, (
                f"the weight rose {self._net - start_g:.3f} g in {window:.1f} s of pumping "
                f"(expected {flow * window:.2f} g): reservoir empty or tube blocked?"
            )
        return WeighFault.NONE, ""

    def _abort(self, now_s: float, reason: str, fault: WeighFault) -> None:
        if self.phase in (_DONE, _ABORT):
            return
        self.trigger("fail")
        self._finish(now_s, reason, fault)

    def _finish(self, now_s: float, reason: str = "", fault: WeighFault = WeighFault.NONE) -> None:
        plan = self.plan
        # an aborted run reports the last reading: what is on the pan, settled or not
        actual = self._net if reason or self._settled_net is None else self._settled_net
        error = actual - plan.target_g
        if reason:
            outcome = WeighOutcome.ABORTED
        elif abs(error) <= plan.tolerance_g:
            outcome = WeighOutcome.COMPLETED
        else:
            outcome = WeighOutcome.OUT_OF_TOLERANCE
            reason = f"settled {error:+.3f} g from the target (tolerance {plan.tolerance_g:g} g)"
        self.result = WeighResult(
            plan.pump_id, plan.target_g, plan.tolerance_g, actual, now_s - self.started_at_s,
            outcome, self.dispensed_ml, self.topups, reason, fault,
        )
