"""Per-pump routes beyond a dose: the continuous run (dead man) and the reservoir."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.http import serialize
from adapters.http.serialize import read_body
from application.refill_reservoir import RefillReservoir
from application.run_pump import RunPump


class PumpEndpoints:
    """Continuous runs and reservoirs over the given use cases."""

    def __init__(self, run: RunPump, refill: RefillReservoir) -> None:
        self._run = run
        self._refill = refill

    async def start(self, request: Request) -> Response:
        """Run the pump until stopped: body ``{"flowRate": ml/min}`` → 202
        ``{"doseId", "pump", "flowRate"}``. Sent as bounded moves renewed while the daemon is
        healthy (``safety.dead_man_s``); stop with POST /api/pump/{id}/stop."""
        flow_rate = serialize.parse_flow_request(await read_body(request))
        pump_id = request.path_params["pump_id"]
        dose_id = await run_in_threadpool(self._run.execute, pump_id, flow_rate)
        return JSONResponse(
            {"doseId": dose_id, "pump": pump_id, "flowRate": flow_rate}, status_code=202
        )

    async def reservoir(self, request: Request) -> Response:
        """After a refill: body ``{"level": ml}`` or ``{}`` (full) → 200 the reservoir as
        in GET /api/pumps (``{"level", "capacity", "lowMark", "low", "empty",
        "percent"}``); 422 ``invalid_reservoir`` for an untracked pump or a bad level."""
        level_ml = serialize.parse_reservoir_request(await read_body(request) or b"{}")
        pump_id = request.path_params["pump_id"]
        level = await run_in_threadpool(self._refill.execute, pump_id, level_ml)
        return JSONResponse(serialize.reservoir_json(level))


def pump_routes(endpoints: PumpEndpoints) -> list[Route]:
    """POST /api/pump/{id}/start and POST /api/pump/{id}/reservoir."""
    return [
        Route("/api/pump/{pump_id}/start", endpoints.start, methods=["POST"]),
        Route("/api/pump/{pump_id}/reservoir", endpoints.reservoir, methods=["POST"]),
    ]
