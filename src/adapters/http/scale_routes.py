"""HTTP endpoints of the scale and of dispensing by weight (DESIGN §4, issue 7).

GET /api/scale, POST /api/scale/tare and /zero; POST /api/dispense/weight starts a
dispense by weight, GET /api/dispense/weight/{runId} follows it, POST .../abort ends it.
Weights in g, flow rates in ml/min, times in s.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.http.scale_json import scale_json, weigh_run_json
from adapters.http.serialize import json_number, load_object, read_body
from application.dispense_weight import DispenseWeight, OperateScale
from domain.errors import InvalidDose


class ScaleEndpoints:
    """The scale handlers. Errors: 503 ``scale_unavailable`` (none configured, link down,
    silent), 409 ``scale_fault`` with ``reason`` (overload, unstable, rejected ...), 409
    ``pump_busy``, 422 ``invalid_dose`` with ``field``, 404 ``unknown_scale_run``."""

    def __init__(self, dispense: DispenseWeight, scale: OperateScale) -> None:
        self._dispense, self._scale = dispense, scale

    async def read(self, request: Request) -> Response:
        """200 ``{"weight": g|null, "unit": "g", "stable": bool, "status":
        "stable"|"dynamic"|"overload"|"underload", "run": run|null}`` (run: the live or
        last dispense by weight, as GET /api/dispense/weight/{runId})."""
        reading = await run_in_threadpool(self._scale.read)
        return JSONResponse(scale_json(reading, self._scale.view()))

    async def tare(self, request: Request) -> Response:
        """Tare (the scale waits for a stable weight, up to 2 s) → 200 ``{"tared": true,
        "tareWeight": g}``; 409 ``scale_fault`` (``unstable``) when it did not settle."""
        grams = await run_in_threadpool(self._scale.tare)
        return JSONResponse({"tared": True, "tareWeight": grams, "unit": "g"})

    async def zero(self, request: Request) -> Response:
        """Zero → 200 ``{"zeroed": true}``."""
        await run_in_threadpool(self._scale.zero)
        return JSONResponse({"zeroed": True})

    async def dispense(self, request: Request) -> Response:
        """Body ``{"pump": id, "targetGrams": g, "tolerance": g?, "flowRate": ml/min?}``
        → 202 ``{"runId", "pump", "targetGrams", "tolerance"}``. The run then goes on by
        itself (tare, fast phase, dribble, top-ups) and ends with a
        ``weightDispenseComplete`` event; follow it at GET /api/dispense/weight/{runId}."""
        data = load_object(await read_body(request))
        pump = data.get("pump")
        if not isinstance(pump, str) or not pump:
            raise InvalidDose("pump is required (a pump id)", field="pump")
        target = json_number(data, "targetGrams", "g")
        tolerance = _optional_number(data, "tolerance", "g")
        flow = _optional_number(data, "flowRate", "ml/min")
        run_id = await run_in_threadpool(
            self._dispense.execute, pump, target, tolerance, flow, "http"
        )
        view = await run_in_threadpool(self._dispense.get, run_id)
        return JSONResponse(
            {"runId": run_id, "pump": pump, "targetGrams": target,
             "tolerance": view.tolerance_g},
            status_code=202,
        )

    async def get_run(self, request: Request) -> Response:
        """200 the run (see ``weigh_run_json``); 404 ``unknown_scale_run``."""
        view = await run_in_threadpool(self._dispense.get, request.path_params["run_id"])
        return JSONResponse(weigh_run_json(view))

    async def abort(self, request: Request) -> Response:
        """Abort a live run (its pump halted, what flowed journaled) → 200 the ended run;
        404 ``unknown_scale_run``; 409 ``pump_busy`` when it already ended."""
        view = await run_in_threadpool(self._dispense.abort, request.path_params["run_id"])
        return JSONResponse(weigh_run_json(view))


def scale_routes(endpoints: ScaleEndpoints) -> list[Route]:
    """The routes of the scale and dispensing by weight."""
    return [
        Route("/api/scale", endpoints.read, methods=["GET"]),
        Route("/api/scale/tare", endpoints.tare, methods=["POST"]),
        Route("/api/scale/zero", endpoints.zero, methods=["POST"]),
        Route("/api/dispense/weight", endpoints.dispense, methods=["POST"]),
        Route("/api/dispense/weight/{run_id}", endpoints.get_run, methods=["GET"]),
        Route("/api/dispense/weight/{run_id}/abort", endpoints.abort, methods=["POST"]),
    ]


def _optional_number(data: dict[str, Any], field: str, unit: str) -> float | None:
    return None if data.get(field) is None else json_number(data, field, unit)
