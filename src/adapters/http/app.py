"""The HTTP API (DESIGN §4): routes that call the use cases and render their results.

A driving adapter: it translates HTTP to use-case calls and back, nothing more. The use
cases block (the control plane answers in ~50 ms, at worst their timeout), so every call
goes through ``run_in_threadpool`` and the event loop never waits on the control plane.
How errors become responses is in ``adapters.http.errors``.
"""

from __future__ import annotations

from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from adapters.http import serialize
from adapters.http.auth import BearerAuthMiddleware
from adapters.http.calibration_routes import CalibrationEndpoints, calibration_routes
from adapters.http.config_routes import ConfigEndpoints
from adapters.http.diagnostics_routes import DiagnosticsEndpoints, diagnostics_routes
from adapters.http.emergency_routes import EmergencyEndpoints
from adapters.http.errors import UnexpectedErrorMiddleware, exception_handlers
from adapters.http.pump_routes import PumpEndpoints, pump_routes
from adapters.http.recipe_routes import RecipeEndpoints, recipe_routes
from adapters.http.scale_calibration_routes import (
    ScaleCalibrationEndpoints,
    scale_calibration_routes,
)
from adapters.http.scale_routes import ScaleEndpoints, scale_routes
from adapters.http.schedule_routes import ScheduleEndpoints, schedule_routes
from adapters.http.serialize import RequestRejected, read_body
from adapters.http.ws_routes import LiveFeed
from application.device_config import ReadDeviceConfig, UpdateDeviceConfig
from application.dispense_volume import DispenseVolume
from application.emergency_stop import EmergencyStop, ResetEmergencyStop
from application.list_history import ListHistory
from application.report_status import ReportStatus, StatusReport
from application.stop_pump import StopPump


def create_http_app(
    *,
    dispense: DispenseVolume,
    stop: StopPump,
    status: ReportStatus,
    history: ListHistory,
    read_config: ReadDeviceConfig,
    update_config: UpdateDeviceConfig,
    emergency_stop: EmergencyStop,
    reset_emergency_stop: ResetEmergencyStop,
    pumps: PumpEndpoints,
    calibration: CalibrationEndpoints,
    recipes: RecipeEndpoints,
    schedules: ScheduleEndpoints,
    live: LiveFeed,
    scale: ScaleEndpoints | None = None,
    scale_calibration: ScaleCalibrationEndpoints | None = None,
    diagnostics: DiagnosticsEndpoints | None = None,
    token: str,
) -> Starlette:
    """Build the Starlette app serving the dosing API over the given use cases.

    ``token`` is the bearer token every POST/PUT/PATCH/DELETE must carry; GETs are open
    (a LAN dashboard reads status without a secret). ``live`` serves WS /ws (status feed and
    token-checked commands; see ``adapters.http.ws_routes``). Errors are
    ``{"error": {"code", "message", ...}}`` with 400/401/404/405/409/413/422/500/503.
    Raises ``ValueError`` when ``token`` is empty.
    """
    if not token:
        raise ValueError("the HTTP API token must not be empty")
    api = _Endpoints(dispense, stop, status, history)
    config = ConfigEndpoints(read_config, update_config)
    safety = EmergencyEndpoints(emergency_stop, reset_emergency_stop)
    routes = [
        Route("/", _dashboard, methods=["GET"]),
        Mount("/static", StaticFiles(packages=[("adapters.http", "static")]), name="static"),
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/api/auth/check", _token_accepted, methods=["POST"]),
        Route("/api/status", api.status, methods=["GET"]),
        Route("/api/pumps", api.pumps, methods=["GET"]),
        Route("/api/pump/{pump_id}/dispense", api.dispense, methods=["POST"]),
        Route("/api/pump/{pump_id}/stop", api.stop, methods=["POST"]),
        Route("/api/history", api.history, methods=["GET"]),
        Route("/api/config", config.get, methods=["GET"]),
        Route("/api/config", config.post, methods=["POST"]),
        Route("/api/emergency-stop", safety.stop, methods=["POST"]),
        Route("/api/emergency-stop/reset", safety.reset, methods=["POST"]),
        *pump_routes(pumps),
        *calibration_routes(calibration),
        *recipe_routes(recipes),
        *schedule_routes(schedules),
        *(scale_routes(scale) if scale is not None else []),
        *(scale_calibration_routes(scale_calibration) if scale_calibration else []),
        *(diagnostics_routes(diagnostics) if diagnostics is not None else []),
        WebSocketRoute("/ws", live.serve),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(UnexpectedErrorMiddleware),
            Middleware(GZipMiddleware, minimum_size=512),
            Middleware(BearerAuthMiddleware, token=token),
        ],
        exception_handlers=exception_handlers(),
    )


_DASHBOARD = resources.files("adapters.http") / "static" / "index.html"


async def _dashboard(request: Request) -> Response:
    """The web dashboard (``static/index.html``; its script and style under /static/).
    Revalidated on every load so an upgraded daemon is seen at once."""
    return HTMLResponse(_DASHBOARD.read_text("utf-8"), headers={"Cache-Control": "no-cache"})


async def _token_accepted(request: Request) -> Response:
    """204 when the bearer token is right (401 from the middleware otherwise), changing
    nothing: how the dashboard checks a token when it is entered, not at the first command
    (an EMERGENCY STOP pressed with a mistyped token would be refused)."""
    return Response(status_code=204)


class _Endpoints:
    def __init__(
        self,
        dispense: DispenseVolume,
        stop: StopPump,
        status: ReportStatus,
        history: ListHistory,
    ) -> None:
        self._dispense = dispense
        self._stop = stop
        self._status = status
        self._history = history

    async def healthz(self, request: Request) -> Response:
        """Liveness: 200 ``{"status": "ok", "controller": bool}`` (the controller link is
        information, not health); 503 ``not_ready`` before the first snapshot."""
        report = await self._report()
        return JSONResponse({"status": "ok", "controller": report.snapshot.controller.connected})

    async def status(self, request: Request) -> Response:
        """System status::

        {"state": "IDLE" | "DISPENSING" | "EMERGENCY", "uptimeSec": s,
         "controller": {"connected": bool, "state": "Idle"|"Run"|..., "detail": str|null},
         "mqtt": {"state", "failures", "nextRetrySec": s, "lastError", "outboxDepth": int}
                 | null,          # null: MQTT disabled
         "globalMaxVolumePerDay": ml | null,
         "pumps": [pump, ...],   # pump objects as in GET /api/pumps
         "scale": scale | null}  # as in GET /api/scale; null: no scale configured
        """
        return JSONResponse(serialize.status_json(await self._report()))

    async def pumps(self, request: Request) -> Response:
        """Every pump::

        [{"id": "X", "name": str, "state": "idle"|"dosing"|"holding"|"fault",
          "doseId": str|null, "requestedVolume": ml|null, "dispensedVolume": ml|null,
          "flowRate": ml/min|null, "mlPerMm": ml/mm, "maxFlowRate": ml/min,
          "maxDoseVolume": ml, "fault": str|null,
          "calibration": {"source": "nvs"|"config"|"none", "valid": bool},
          "limits": {"maxDoseVolume": ml, "maxFlowRate": ml/min,
                     "maxVolumePerHour": ml|null, "maxVolumePerDay": ml|null,
                     "usedLastHour": ml, "usedLastDay": ml},   # rolling 60 min / 24 h
          "reservoir": {"level": ml, "capacity": ml, "lowMark": ml, "low": bool,
                        "empty": bool, "percent": %} | null}, ...]
        """
        report = await self._report()
        return JSONResponse(
            [serialize.pump_json(v, report.safety.get(v.pump_id)) for v in report.snapshot.pumps]
        )

    async def dispense(self, request: Request) -> Response:
        """Start a dose: body ``{"volume": ml, "flowRate": ml/min}`` → 202 ``{"doseId"}``.

        The dose then runs on its own; follow it in /api/pumps and /api/history.
        """
        volume_ml, flow_rate_ml_min = serialize.parse_dose_request(await read_body(request))
        pump_id = request.path_params["pump_id"]
        dose_id = await run_in_threadpool(
            self._dispense.execute, pump_id, volume_ml, flow_rate_ml_min
        )
        return JSONResponse({"doseId": dose_id}, status_code=202)

    async def stop(self, request: Request) -> Response:
        """Halt the pump's dose (idempotent; any body is ignored) → 200
        ``{"stopped": true, "pump": id}`` once the pump is at rest and the dose journaled."""
        pump_id = request.path_params["pump_id"]
        await run_in_threadpool(self._stop.execute, pump_id)
        return JSONResponse({"stopped": True, "pump": pump_id})

    async def history(self, request: Request) -> Response:
        """Dose journal, newest first: ``?limit=`` (positive integer, default 100, at most
        1000) and ``?since=`` (ISO-8601, naive = UTC) →
        ``{"doses": [{"doseId", "pump", "requestedVolume": ml, "actualVolume": ml|null,
        "flowRate": ml/min, "startedAt": iso, "endedAt": iso|null,
        "outcome": "running"|"completed"|"stopped"|"failed"|"refused"|"interrupted",
        "reason": str|null, "kind": "volume"|"continuous"|"calibration", "uncertain": bool,
        "actualVolumeUpperBound": ml|null, "recipeRunId": str|null, "recipeStep": int|null}]}``
        (the recipe fields set on a recipe's doses).
        """
        limit = serialize.parse_limit(request.query_params.get("limit"))
        since = serialize.parse_since(request.query_params.get("since"))
        if limit is None:
            records = await run_in_threadpool(self._history.execute, since=since)
        else:
            records = await run_in_threadpool(self._history.execute, limit, since)
        return JSONResponse({"doses": [serialize.record_json(r) for r in records]})

    async def _report(self) -> StatusReport:
        try:
            return await run_in_threadpool(self._status.execute)
        except LookupError:  # the control plane has not published its first snapshot
            raise RequestRejected(503, "not_ready", "no status snapshot yet") from None
