"""Timing diagnostics over HTTP: how late the control plane's polls and the LED frames
ran behind their schedules (DESIGN §2), the figures the coexistence benchmark reads."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from application.lateness_meter import TimingDiagnostics
from domain.timing import LatenessSummary


class DiagnosticsEndpoints:
    """GET the figures (open, like every GET); POST resets them (bearer token)."""

    def __init__(self, timing: TimingDiagnostics) -> None:
        self._timing = timing

    async def timing(self, request: Request) -> Response:
        """200 ``{"controlTick": {"samples", "p50Ms", "p99Ms", "maxMs"}, "ledFrame": {…}}``
        (``ledFrame`` only with LEDs configured): lateness (ms) of each loop's wake-ups
        behind their schedule, over the samples since start or the last reset (at most
        the latest 20 000)."""
        return JSONResponse(
            {name: _summary_json(s) for name, s in self._timing.summaries().items()}
        )

    async def reset(self, request: Request) -> Response:
        """204: every loop's samples forgotten (a measurement starts afresh)."""
        self._timing.reset()
        return Response(status_code=204)


def _summary_json(summary: LatenessSummary) -> dict[str, float | int]:
    return {
        "samples": summary.samples,
        "p50Ms": round(summary.p50_s * 1000, 3),
        "p99Ms": round(summary.p99_s * 1000, 3),
        "maxMs": round(summary.max_s * 1000, 3),
    }


def diagnostics_routes(endpoints: DiagnosticsEndpoints) -> list[Route]:
    """``/api/diagnostics/timing`` (GET) and ``/api/diagnostics/timing/reset`` (POST)."""
    return [
        Route("/api/diagnostics/timing", endpoints.timing, methods=["GET"]),
        Route("/api/diagnostics/timing/reset", endpoints.reset, methods=["POST"]),
    ]
