"""HTTP endpoints of the latched emergency stop: POST /api/emergency-stop and
POST /api/emergency-stop/reset (both need the bearer token)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from application.emergency_stop import EmergencyStop, ResetEmergencyStop


class EmergencyEndpoints:
    """Both answer once the control plane has acted; any body is ignored."""

    def __init__(self, stop: EmergencyStop, reset: ResetEmergencyStop) -> None:
        self._stop = stop
        self._reset = reset

    async def stop(self, request: Request) -> Response:
        """Feed hold now, latch, halt and journal every dose → 200
        ``{"state": "EMERGENCY", "latched": true}``; every dose is refused (409
        ``emergency_stop_latched``) until the reset."""
        # The feed hold goes out from the event loop itself: one byte under the port's
        # write lock, no thread-pool hop in front of it (the rest may wait for a thread).
        self._stop.hold_now()
        await run_in_threadpool(self._stop.execute, "http")
        return JSONResponse({"state": "EMERGENCY", "latched": True})

    async def reset(self, request: Request) -> Response:
        """Release the latch → 200 ``{"latched": false, "wasLatched": bool}``."""
        was_latched = await run_in_threadpool(self._reset.execute, "http")
        return JSONResponse({"latched": False, "wasLatched": was_latched})
