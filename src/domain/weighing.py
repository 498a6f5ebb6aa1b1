"""Dispensing by weight, its parameters and its outcome: the plan a gravimetric dispense
follows, what it reports, and the per-pump in-flight estimate it learns.

The in-flight mass is what still arrives on the pan after the pump stops: liquid between
the pump head and the beaker (the drip delay), drops in the air, and the scale's own
filter lag. It grows with the mass flow, so it is kept as a time (s): in-flight mass (g) =
mass flow (g/s) * ``inflight_s``. Filling machines call the same correction "preact" or
"free-fall compensation".
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from domain.errors import InvalidDose

DEFAULT_INFLIGHT_S = 0.6  # before a pump has been measured: a short tube, a fast scale
MAX_INFLIGHT_S = 5.0
INFLIGHT_LEARNING_RATE = 0.5  # weight of a new observation (exponential average)


@dataclass(frozen=True, slots=True)
class WeighPlan:
    """How to dispense ``target_g`` (g) of one pump's fluid by weight.

    ``tolerance_g`` (g): the largest error accepted, and the overshoot never to pass;
    ``density_g_ml`` (g/ml) turns masses into the bounded volumes each pump phase may move;
    ``fast_flow_ml_min`` and ``slow_flow_ml_min`` (ml/min): the fast phase and the dribble
    phase; ``inflight_s`` (s): the pump's learned in-flight time; ``resolution_g`` (g): the
    scale's readability; ``settle_timeout_s`` (s): how long a stable reading may take;
    ``max_topups``: top-up pulses allowed when short. Raises ``InvalidDose`` (field
    ``targetGrams``, ``tolerance`` or ``flowRate``) when a number is out of range.
    """

    pump_id: str
    target_g: float
    tolerance_g: float
    density_g_ml: float
    fast_flow_ml_min: float
    slow_flow_ml_min: float
    inflight_s: float = DEFAULT_INFLIGHT_S
    resolution_g: float = 0.01
    settle_timeout_s: float = 10.0
    max_topups: int = 3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.target_g) and self.target_g > 0):
            raise InvalidDose("the target must be a weight above 0 g", field="targetGrams")
        if not (math.isfinite(self.tolerance_g) and self.tolerance_g > 0):
            raise InvalidDose("the tolerance must be a weight above 0 g", field="tolerance")
        if self.tolerance_g >= self.target_g:
            raise InvalidDose("the tolerance must be below the target", field="tolerance")
        if not (0 < self.slow_flow_ml_min <= self.fast_flow_ml_min < math.inf):
            raise InvalidDose(
                "flow rates must be finite, above 0, the slow one no faster", field="flowRate"
            )

    def mass_flow_g_s(self, flow_rate_ml_min: float) -> float:
        """Mass flow (g/s) at ``flow_rate_ml_min`` (ml/min)."""
        return flow_rate_ml_min / 60.0 * self.density_g_ml

    @property
    def topup_threshold_g(self) -> float:
        """A settled weight this far (g) below the target gets a top-up pulse."""
        return max(2 * self.resolution_g, 0.4 * self.tolerance_g)

    @property
    def fast_cutoff_g(self) -> float:
        """How far (g) below the target the fast phase stops: its predicted in-flight mass
        plus 0.35 s of fast flow (stop latency, a poll period, an in-flight estimate a
        little off), plus two seconds of dribble so the slow phase has something to
        measure. 0 when the target is too small for a fast phase."""
        fast = self.mass_flow_g_s(self.fast_flow_ml_min)
        slow = self.mass_flow_g_s(self.slow_flow_ml_min)
        if fast <= slow:
            return 0.0
        cutoff = fast * (self.inflight_s + 0.35) + 2.0 * slow
        return cutoff if cutoff < 0.8 * self.target_g else 0.0

    def dribble_stop_g(self) -> float:
        """The net weight (g) at which the dribble phase stops: the target less its
        predicted in-flight mass and a little more (aim short: a top-up pulse is exact,
        an overshoot cannot be undone)."""
        slow = self.mass_flow_g_s(self.slow_flow_ml_min)
        return self.target_g - slow * self.inflight_s - 0.3 * self.tolerance_g


class WeighOutcome(enum.Enum):
    """How a dispense by weight ended."""

    COMPLETED = "completed"  # settled within the tolerance
    OUT_OF_TOLERANCE = "out_of_tolerance"  # settled, but over (or short after the top-ups)
    ABORTED = "aborted"  # stopped by a fault, the e-stop or a request


class WeighFault(enum.Enum):
    """Why a dispense by weight was aborted (``none`` when it was not)."""

    NONE = "none"
    NOT_RISING = "not_rising"  # pumping, nothing arrives: reservoir empty, tube blocked
    WEIGHT_FELL = "weight_fell"  # the beaker was lifted or knocked over
    SCALE_RANGE = "scale_range"  # over- or underload
    UNSETTLED = "unsettled"  # no stable weight in time
    EXTERNAL = "external"  # the e-stop, a request, a refused phase, a lost scale


@dataclass(frozen=True, slots=True)
class WeighResult:
    """What a dispense by weight delivered: ``actual_g`` (g, the last settled net weight,
    or the last reading when aborted), ``duration_s`` (s), the pump volume by calibration
    ``dispensed_ml`` (ml), ``topups`` pulses, ``reason`` (why, when not completed) and the
    ``fault`` that aborted it."""

    pump_id: str
    target_g: float
    tolerance_g: float
    actual_g: float
    duration_s: float
    outcome: WeighOutcome
    dispensed_ml: float
    topups: int
    reason: str = ""
    fault: WeighFault = WeighFault.NONE

    @property
    def error_g(self) -> float:
        """Actual minus target (g): negative when short."""
        return self.actual_g - self.target_g

    @property
    def accuracy_percent(self) -> float:
        """100 * (1 - |error| / target) (%): 100 is exact."""
        return 100.0 * (1.0 - abs(self.error_g) / self.target_g)


def learn_inflight(previous_s: float, observed_s: float) -> float:
    """The new in-flight time (s) after one observation (s): an exponential average,
    clamped to [0, ``MAX_INFLIGHT_S``]; a non-finite observation changes nothing."""
    if not math.isfinite(observed_s):
        return previous_s
    observed = min(MAX_INFLIGHT_S, max(0.0, observed_s))
    return previous_s + INFLIGHT_LEARNING_RATE * (observed - previous_s)
