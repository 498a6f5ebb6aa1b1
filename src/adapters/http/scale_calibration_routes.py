"""HTTP endpoints of calibrating a pump from the scale (issue 7): start a run at several
flow rates, follow it, read its points and residuals. Flow rates in ml/min, volumes in ml,
masses in g, distances in mm, feeds in mm/min."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.http.serialize import iso_utc, json_number, load_object, read_body
from application.dispense_weight import CalibrateFromScale
from application.scale_calibrator import ScaleCalibrationView
from domain.errors import InvalidCalibration

DEFAULT_VOLUME_ML = 10.0


class ScaleCalibrationEndpoints:
    """Errors: 422 ``invalid_calibration`` with ``field``, 404 ``unknown_pump`` /
    ``unknown_scale_run``, 409 ``pump_busy`` / ``not_calibrated`` / ``scale_fault``, 503
    ``scale_unavailable``."""

    def __init__(self, calibrate: CalibrateFromScale) -> None:
        self._calibrate = calibrate

    async def start(self, request: Request) -> Response:
        """Body ``{"flowRates": [ml/min, ...] (1 to 8), "volume": ml (default 10)}`` → 202
        ``{"runId", "pump", "flowRates", "volume"}``; follow it at
        GET /api/calibration/scale/{runId}. When it is done the points are in the pump's
        calibration (GET /api/pump/{id}/calibration)."""
        data = load_object(await read_body(request))
        rates = data.get("flowRates")
        if not isinstance(rates, list) or not rates:
            raise InvalidCalibration("flowRates must be a non-empty array of ml/min",
                                     field="flowRates")
        flows = tuple(
            json_number({"flowRates": r}, "flowRates", "ml/min", InvalidCalibration)
            for r in rates
        )
        volume = DEFAULT_VOLUME_ML
        if data.get("volume") is not None:
            volume = json_number(data, "volume", "ml", InvalidCalibration)
        pump_id = request.path_params["pump_id"]
        run_id = await run_in_threadpool(self._calibrate.execute, pump_id, flows, volume)
        return JSONResponse(
            {"runId": run_id, "pump": pump_id, "flowRates": sorted(flows), "volume": volume},
            status_code=202,
        )

    async def get(self, request: Request) -> Response:
        """200 the run (see ``scale_calibration_json``)."""
        view = await run_in_threadpool(self._calibrate.get, request.path_params["run_id"])
        return JSONResponse(scale_calibration_json(view))


def scale_calibration_routes(endpoints: ScaleCalibrationEndpoints) -> list[Route]:
    """The routes of calibrating from the scale."""
    return [
        Route("/api/pump/{pump_id}/calibration/scale", endpoints.start, methods=["POST"]),
        Route("/api/calibration/scale/{run_id}", endpoints.get, methods=["GET"]),
    ]


def scale_calibration_json(view: ScaleCalibrationView) -> dict[str, Any]:
    """``{"runId", "pump", "flowRates", "startedAt", "phase", "reason", "points": [{
    "flowRate", "mlPerMm", "mass", "volume", "distance", "feedRate", "mlPerMmBefore",
    "deviationPercent"}], "residuals": [{"flowRate", "mlPerMm", "predictedMlPerMm",
    "residualPercent"}]}`` (residuals: leave-one-out over the pump's whole curve)."""
    deviations = view.deviations_percent
    return {
        "runId": view.run_id,
        "pump": view.pump_id,
        "flowRates": list(view.flow_rates_ml_min),
        "startedAt": iso_utc(view.started_at),
        "phase": view.phase,
        "reason": view.reason or None,
        "points": [
            {
                "flowRate": round(p.point.flow_rate_ml_min, 4),
                "mlPerMm": round(p.point.ml_per_mm, 6),
                "mass": round(p.mass_g, 4),
                "volume": round(p.volume_ml, 4),
                "distance": round(p.distance_mm, 4),
                "feedRate": round(p.feed_mm_min, 3),
                "mlPerMmBefore": view.before_ml_per_mm[i],
                "deviationPercent": round(deviations[i], 3),
            }
            for i, p in enumerate(view.points)
        ],
        "residuals": [
            {
                "flowRate": round(r.point.flow_rate_ml_min, 4),
                "mlPerMm": round(r.point.ml_per_mm, 6),
                "predictedMlPerMm": None
                if r.predicted_ml_per_mm is None
                else round(r.predicted_ml_per_mm, 6),
                "residualPercent": None
                if r.residual_percent is None
                else round(r.residual_percent, 3),
            }
            for r in view.residuals
        ],
    }
