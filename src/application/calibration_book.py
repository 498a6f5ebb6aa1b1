"""Where each pump's calibration lives: the multi-point curve measured through the API and
kept in NVS, falling back to the single-point ``ml_per_mm`` of the configuration (DESIGN
§3: NVS values written at run time win over the config file), plus the calibration runs
waiting for the user's measurement."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from application.ports import Clock, NonVolatileStore
from domain.calibration import Calibration, CalibrationCurve, CalibrationPoint
from domain.errors import InvalidCalibration, NotCalibrated, UnknownPump
from domain.telemetry import iso_utc

log = logging.getLogger(__name__)

NAMESPACE = "calibration"
MAX_RUNS = 16


@dataclass(frozen=True, slots=True)
class PumpCalibration:
    """A pump's calibration as it stands: ``curve`` from NVS (None if none is stored),
    ``default_ml_per_mm`` (ml/mm) from the configuration (None if not configured),
    ``updated_at`` (ISO-8601 UTC) of the last NVS write, None without a curve."""

    pump_id: str
    curve: CalibrationCurve | None
    default_ml_per_mm: float | None
    updated_at: str | None

    @property
    def source(self) -> Literal["nvs", "config", "none"]:
        """Which calibration doses use: the NVS curve, the config's factor, or none."""
        if self.curve is not None:
            return "nvs"
        if _usable(self.default_ml_per_mm):
            return "config"
        return "none"

    @property
    def valid(self) -> bool:
        """Whether volumes can be dosed (some calibration is in force)."""
        return self.source != "none"

    def calibration_at(self, flow_rate_ml_min: float) -> Calibration:
        """The linear calibration for a dose at ``flow_rate_ml_min`` (ml/min).

        Raises ``NotCalibrated`` when the pump has no valid calibration, and
        ``InvalidCalibration`` (field ``flowRate``) for a NaN flow rate.
        """
        if self.curve is not None:
            return self.curve.at(flow_rate_ml_min)
        if self.default_ml_per_mm is not None and _usable(self.default_ml_per_mm):
            return Calibration(self.default_ml_per_mm)
        pump = self.pump_id
        raise NotCalibrated(
            f"pump {pump!r} is not calibrated: give it a nominal calibration (ml_per_mm in "
            f"its config, or one point from its datasheet with POST /api/pump/{pump}/"
            'calibration {"flowRate", "mlPerMm"}), then measure the real one with '
            f"calibration runs (POST /api/pump/{pump}/calibration/run)"
        )


@dataclass(frozen=True, slots=True)
class CalibrationRun:
    """A calibration run the control plane started: ``run_id`` (its dose id) moved pump
    ``pump_id`` by ``distance_mm`` (mm) at ``feed_mm_min`` (mm/min); ``expected_ml`` (ml)
    is what the calibration in force predicted, None when there was none."""

    run_id: str
    pump_id: str
    distance_mm: float
    feed_mm_min: float
    expected_ml: float | None


class CalibrationBook:
    """Every configured pump's calibration; thread-safe.

    ``defaults``: pump id → the config's ``ml_per_mm`` (ml/mm) or None; its keys are the
    known pumps. NVS is read once here: namespace ``calibration``, key = pump id, value
    the JSON string ``{"points": [[flow ml/min, ml/mm], ...], "updatedAt": iso}``. A
    corrupt value is logged and ignored (the pump falls back to its config), never raised.
    Writes commit to NVS before the cache changes. Pending calibration runs (the last
    ``MAX_RUNS``) live in memory only: a daemon restart forgets them, and the user starts
    a new run. Storage errors (``OSError``) propagate.
    """

    def __init__(
        self, nvs: NonVolatileStore, clock: Clock, defaults: Mapping[str, float | None]
    ) -> None:
        self._nvs = nvs
        self._clock = clock
        self._defaults = dict(defaults)
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, CalibrationRun] = OrderedDict()
        self._stored: dict[str, tuple[CalibrationCurve, str]] = {}
        for pump_id, raw in nvs.get_all(NAMESPACE).items():
            if pump_id not in self._defaults:
                log.warning("ignoring the stored calibration of unknown pump %r", pump_id)
                continue
            try:
                self._stored[pump_id] = _decode(raw)
            except (ValueError, TypeError, InvalidCalibration, RecursionError) as exc:
                log.warning(
                    "ignoring the corrupt stored calibration of pump %r (%s); it falls "
                    "back to its configured calibration",
                    pump_id,
                    exc,
                )

    def get(self, pump_id: str) -> PumpCalibration:
        """The pump's calibration; raises ``UnknownPump``."""
        self._check_known(pump_id)
        with self._lock:
            curve, updated_at = self._stored.get(pump_id, (None, None))
        return PumpCalibration(pump_id, curve, self._defaults[pump_id], updated_at)

    def calibration_for(self, pump_id: str, flow_rate_ml_min: float) -> Calibration:
        """The linear calibration for a dose at ``flow_rate_ml_min`` (ml/min); raises
        ``UnknownPump`` or ``NotCalibrated``."""
        return self.get(pump_id).calibration_at(flow_rate_ml_min)

    def replace(self, pump_id: str, points: Iterable[CalibrationPoint]) -> PumpCalibration:
        """Store a curve of exactly ``points``; raises ``UnknownPump`` or
        ``InvalidCalibration`` (nothing is stored then)."""
        self._check_known(pump_id)
        curve = CalibrationCurve.of(points)
        with self._lock:
            self._write(pump_id, curve)
        return self.get(pump_id)

    def add_point(self, pump_id: str, point: CalibrationPoint) -> PumpCalibration:
        """Add ``point`` to the stored curve (replacing a point within 1 % of its flow
        rate), or start a curve of this point alone when none is stored; the config's
        factor is not a point. Raises ``UnknownPump`` or ``InvalidCalibration``."""
        self._check_known(pump_id)
        with self._lock:
            stored = self._stored.get(pump_id)
            curve = stored[0].with_point(point) if stored else CalibrationCurve.of([point])
            self._write(pump_id, curve)
        return self.get(pump_id)

    def delete(self, pump_id: str) -> PumpCalibration:
        """Erase the stored curve; the pump falls back to its config. Raises
        ``UnknownPump``."""
        self._check_known(pump_id)
        with self._lock:
            self._nvs.erase(NAMESPACE, pump_id)
            self._stored.pop(pump_id, None)
        return self.get(pump_id)

    def remember_run(self, run: CalibrationRun) -> None:
        """Keep ``run`` until its measurement arrives (the oldest of more than
        ``MAX_RUNS`` is forgotten)."""
        with self._lock:
            self._runs[run.run_id] = run
            self._runs.move_to_end(run.run_id)
            while len(self._runs) > MAX_RUNS:
                self._runs.popitem(last=False)

    def run(self, run_id: str) -> CalibrationRun:
        """A remembered run; raises ``InvalidCalibration`` (field ``runId``) when unknown."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise InvalidCalibration(
                f"no calibration run {run_id!r} (only the last {MAX_RUNS} runs since the "
                "daemon started are kept); start a new run",
                field="runId",
            )
        return run

    def _check_known(self, pump_id: str) -> None:
        if pump_id not in self._defaults:
            known = ", ".join(sorted(self._defaults)) or "none"
            raise UnknownPump(f"no pump {pump_id!r}; configured pumps: {known}")

    def _write(self, pump_id: str, curve: CalibrationCurve) -> None:
        updated_at = iso_utc(self._clock.now())
        points = [[p.flow_rate_ml_min, p.ml_per_mm] for p in curve.points]
        value = json.dumps({"points": points, "updatedAt": updated_at})
        self._nvs.set_many(NAMESPACE, {pump_id: value})
        self._stored[pump_id] = (curve, updated_at)


def _usable(ml_per_mm: float | None) -> bool:
    return ml_per_mm is not None and math.isfinite(ml_per_mm) and ml_per_mm > 0


def _decode(raw: object) -> tuple[CalibrationCurve, str]:
    """Parse a stored value; raises ``ValueError``/``InvalidCalibration`` when corrupt."""
    if not isinstance(raw, str):
        raise ValueError(f"expected a JSON string, found {type(raw).__name__}")
    data: Any = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    points, updated_at = data.get("points"), data.get("updatedAt")
    if not isinstance(updated_at, str) or not isinstance(points, list):
        raise ValueError('expected "points" (an array) and "updatedAt" (a string)')
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in points):
        raise ValueError("expected each point as [flow rate, ml per mm]")
    curve = CalibrationCurve.of(CalibrationPoint(flow, ml) for flow, ml in points)
    return curve, updated_at
