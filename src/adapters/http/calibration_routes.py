"""HTTP endpoints of pump calibration: GET/POST/DELETE /api/pump/{pump_id}/calibration and
POST /api/pump/{pump_id}/calibration/run (issue 5; DESIGN §4). Volumes in ml, flow rates
in ml/min, distances in mm, feeds in mm/min, calibration in ml/mm."""

from __future__ import annotations

import math
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.http.serialize import json_number, load_object, read_body
from application.calibrate_pump import (
    AddCalibrationPoint,
    CalibrationReport,
    DeleteCalibration,
    ReadCalibration,
    RecordCalibrationRun,
    ReplaceCalibration,
    RunCalibration,
)
from domain.errors import InvalidCalibration

_SHAPES = {
    "replace": ("points",),
    "add": ("flowRate", "mlPerMm"),
    "record": ("runId", "measuredVolume"),
}
_EXPECTED = (
    'expected one of {"points": [{"flowRate": ml/min, "mlPerMm": ml/mm}, ...]}, '
    '{"flowRate": ml/min, "mlPerMm": ml/mm} or {"runId": str, "measuredVolume": ml}'
)


class CalibrationEndpoints:
    """The calibration handlers; each runs its use case in the thread pool."""

    def __init__(
        self,
        *,
        read: ReadCalibration,
        replace: ReplaceCalibration,
        add_point: AddCalibrationPoint,
        delete: DeleteCalibration,
        run: RunCalibration,
        record: RecordCalibrationRun,
    ) -> None:
        self._read = read
        self._replace = replace
        self._add_point = add_point
        self._delete = delete
        self._run = run
        self._record = record

    async def get(self, request: Request) -> Response:
        """200 ``{"pump", "source": "nvs"|"config"|"none", "valid": bool,
        "updatedAt": iso|null, "defaultMlPerMm": ml/mm|null, "points": [{"flowRate": ml/min,
        "mlPerMm": ml/mm, "predictedMlPerMm": ml/mm|null, "residualPercent": %|null}]}``;
        the prediction of each point is from the other points (leave-one-out). 404
        ``unknown_pump``."""
        report = await run_in_threadpool(self._read.execute, _pump(request))
        return JSONResponse(report_json(report))

    async def post(self, request: Request) -> Response:
        """Body, one of: ``{"points": [{"flowRate", "mlPerMm"}, ...]}`` (replace the
        curve), ``{"flowRate": ml/min, "mlPerMm": ml/mm}`` (add or replace one point),
        ``{"runId": str, "measuredVolume": ml}`` (record a calibration run's measurement;
        the response adds ``"measurement": {"runId", "distance": mm, "feedRate": mm/min,
        "measuredVolume": ml, "flowRate": ml/min, "mlPerMm": ml/mm, "predictedVolume":
        ml|null, "residualVolume": ml|null, "residualPercent": %|null}``) → 200 with the
        GET shape. 400 for a body that is not a JSON object; 422 ``invalid_calibration``
        with ``field`` for anything else wrong; 404 ``unknown_pump``."""
        data = load_object(await read_body(request))
        pump_id = _pump(request)
        shapes = [name for name, keys in _SHAPES.items() if any(k in data for k in keys)]
        if len(shapes) != 1:
            raise InvalidCalibration(_EXPECTED, field="body")
        if shapes == ["replace"]:
            points = _points(data.get("points"))
            report = await run_in_threadpool(self._replace.execute, pump_id, points)
        elif shapes == ["add"]:
            flow, ml_per_mm = _number(data, "flowRate"), _number(data, "mlPerMm")
            report = await run_in_threadpool(self._add_point.execute, pump_id, flow, ml_per_mm)
        else:
            run_id, measured = _run_id(data), _number(data, "measuredVolume")
            report = await run_in_threadpool(self._record.execute, pump_id, run_id, measured)
        return JSONResponse(report_json(report))

    async def delete(self, request: Request) -> Response:
        """Forget the stored curve (the pump falls back to its config's ml/mm) → 200 with
        the GET shape; 404 ``unknown_pump``."""
        report = await run_in_threadpool(self._delete.execute, _pump(request))
        return JSONResponse(report_json(report))

    async def run(self, request: Request) -> Response:
        """Body ``{"distance": mm, "flowRate": ml/min}`` or ``{"distance": mm, "feedRate":
        mm/min}`` → 202 ``{"runId", "pump", "distance": mm, "feedRate": mm/min,
        "expectedVolume": ml|null}`` once the move is planned. Follow it in /api/history;
        when it completed, POST the measured volume with the ``runId``. 422
        ``invalid_calibration`` (field), 409 ``not_calibrated`` for a pump with no
        calibration at all (a nominal one is needed to check the run against the pump's
        limits and reservoir), 409 ``pump_busy``, 404 ``unknown_pump``."""
        data = load_object(await read_body(request))
        distance = _number(data, "distance")
        flow = _number(data, "flowRate") if "flowRate" in data else None
        feed = _number(data, "feedRate") if "feedRate" in data else None
        run = await run_in_threadpool(
            lambda: self._run.execute(
                _pump(request), distance, flow_rate_ml_min=flow, feed_mm_min=feed
            )
        )
        body = {
            "runId": run.run_id,
            "pump": run.pump_id,
            "distance": run.distance_mm,
            "feedRate": run.feed_mm_min,
            "expectedVolume": run.expected_ml,
        }
        return JSONResponse(body, status_code=202)


def calibration_routes(endpoints: CalibrationEndpoints) -> list[Route]:
    """The calibration routes, to add to the app's route list."""
    path = "/api/pump/{pump_id}/calibration"
    return [
        Route(path, endpoints.get, methods=["GET"]),
        Route(path, endpoints.post, methods=["POST"]),
        Route(path, endpoints.delete, methods=["DELETE"]),
        Route(f"{path}/run", endpoints.run, methods=["POST"]),
    ]


def report_json(report: CalibrationReport) -> dict[str, Any]:
    """The GET body (plus ``measurement`` when the report has one)."""
    calibration = report.calibration
    body: dict[str, Any] = {
        "pump": calibration.pump_id,
        "source": calibration.source,
        "valid": calibration.valid,
        "updatedAt": calibration.updated_at,
        "defaultMlPerMm": calibration.default_ml_per_mm,
        "points": [
            {
                "flowRate": r.point.flow_rate_ml_min,
                "mlPerMm": r.point.ml_per_mm,
                "predictedMlPerMm": r.predicted_ml_per_mm,
                "residualPercent": _round(r.residual_percent, 3),
            }
            for r in report.residuals
        ],
    }
    if (m := report.measurement) is not None:
        body["measurement"] = {
            "runId": m.run_id,
            "distance": m.distance_mm,
            "feedRate": m.feed_mm_min,
            "measuredVolume": m.measured_ml,
            "flowRate": m.point.flow_rate_ml_min,
            "mlPerMm": m.point.ml_per_mm,
            "predictedVolume": _round(m.predicted_ml, 6),
            "residualVolume": _round(m.residual_ml, 6),
            "residualPercent": _round(m.residual_percent, 3),
        }
    return body


def _pump(request: Request) -> str:
    pump_id: str = request.path_params["pump_id"]
    return pump_id


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


_UNITS = {
    "flowRate": "ml/min",
    "mlPerMm": "ml/mm",
    "measuredVolume": "ml",
    "distance": "mm",
    "feedRate": "mm/min",
}


def _number(data: dict[str, Any], field: str) -> float:
    number = json_number(data, field, _UNITS[field], InvalidCalibration)
    if not math.isfinite(number):  # 1e999 parses as infinity
        raise InvalidCalibration(f"{field} must be a finite number", field=field)
    return number


def _points(raw: object) -> list[tuple[float, float]]:
    if not isinstance(raw, list):
        raise InvalidCalibration(
            'points must be an array of {"flowRate": ml/min, "mlPerMm": ml/mm}', field="points"
        )
    points = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidCalibration(
                f"points[{index}] must be an object with flowRate and mlPerMm",
                field=f"points[{index}]",
            )
        try:
            points.append((_number(item, "flowRate"), _number(item, "mlPerMm")))
        except InvalidCalibration as exc:
            raise InvalidCalibration(
                f"points[{index}].{exc.message}", field=f"points[{index}].{exc.field}"
            ) from None
    return points


def _run_id(data: dict[str, Any]) -> str:
    run_id = data.get("runId")
    if not isinstance(run_id, str) or not run_id:
        raise InvalidCalibration(
            "runId must be the runId a calibration run returned", field="runId"
        )
    return run_id
