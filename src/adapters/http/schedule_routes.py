"""Schedule routes: CRUD at /api/schedules, "run now", and each schedule's recorded runs.

A schedule's body is the plain shape of ``domain.schedule`` (camelCase: ``name``, ``cron``,
``timezone``, ``target`` = ``{"pump","volume","flowRate"}`` or ``{"recipe"}``,
``enabled``, ``missedRunPolicy`` = ``skip`` | ``run_if_within``, ``graceSeconds``); the
answer adds ``nextRun`` (ISO-8601 UTC, null while disabled).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.http import serialize
from adapters.http.serialize import read_body
from application.manage_schedules import ScheduleAdmin
from application.schedule_executor import ScheduleExecutor
from domain.schedule import Schedule, ScheduleRunRecord

_RUNS_SHOWN = 50


class ScheduleEndpoints:
    """The schedules over ``admin`` (storage, validation) and ``executor`` (run now)."""

    def __init__(self, admin: ScheduleAdmin, executor: ScheduleExecutor) -> None:
        self._admin = admin
        self._executor = executor

    async def list(self, request: Request) -> Response:
        """GET → ``{"schedules": [schedule...]}``, oldest first."""
        schedules = await run_in_threadpool(self._admin.all)
        return JSONResponse({"schedules": [self._json(s) for s in schedules]})

    async def create(self, request: Request) -> Response:
        """POST a schedule (``id`` optional) → 201 the schedule; 422 ``invalid_schedule``
        naming the field, 404 for a pump or recipe that does not exist."""
        body = serialize.load_object(await read_body(request))
        schedule = await run_in_threadpool(self._admin.create, body)
        return JSONResponse(self._json(schedule), status_code=201)

    async def get(self, request: Request) -> Response:
        """GET one schedule; 404 ``unknown_schedule``."""
        schedule = await run_in_threadpool(self._admin.get, _id(request))
        return JSONResponse(self._json(schedule))

    async def replace(self, request: Request) -> Response:
        """PUT a whole schedule (the path's id wins); slots before the change are never
        caught up."""
        body = serialize.load_object(await read_body(request))
        schedule = await run_in_threadpool(self._admin.replace, _id(request), body)
        return JSONResponse(self._json(schedule))

    async def delete(self, request: Request) -> Response:
        """DELETE → 204; the schedule and its recorded runs are gone."""
        await run_in_threadpool(self._admin.delete, _id(request))
        return Response(status_code=204)

    async def run_now(self, request: Request) -> Response:
        """POST → 202 the run record (``status`` started, refused or failed; ``reference``
        the dose or recipe run id); 409 while the emergency stop is latched."""
        record = await run_in_threadpool(self._executor.run_now, _id(request))
        return JSONResponse(run_json(record), status_code=202)

    async def runs(self, request: Request) -> Response:
        """GET → ``{"runs": [run...]}``, newest slot first (``?limit=``, default 50)."""
        limit = serialize.parse_limit(request.query_params.get("limit")) or _RUNS_SHOWN
        records = await run_in_threadpool(self._admin.runs, _id(request), limit=limit)
        return JSONResponse({"runs": [run_json(r) for r in records]})

    def _json(self, schedule: Schedule) -> dict[str, Any]:
        next_run = self._admin.next_run(schedule.schedule_id) if schedule.enabled else None
        return schedule.to_plain() | {"nextRun": serialize.iso_utc(next_run) if next_run else None}


def run_json(record: ScheduleRunRecord) -> dict[str, Any]:
    """One decided slot: ``slot`` and ``firedAt`` ISO-8601 UTC, ``kind`` (on_time,
    catch_up, missed, manual), ``status``, ``reference`` (dose or recipe run id), ``detail``."""
    return {
        "scheduleId": record.schedule_id,
        "slot": serialize.iso_utc(record.slot),
        "kind": record.kind.value,
        "firedAt": serialize.iso_utc(record.fired_at),
        "status": record.status,
        "reference": record.reference or None,
        "detail": record.detail or None,
    }


def _id(request: Request) -> str:
    return str(request.path_params["schedule_id"])


def schedule_routes(endpoints: ScheduleEndpoints) -> list[Route]:
    """/api/schedules, /api/schedules/{id}, /api/schedules/{id}/run, …/runs."""
    return [
        Route("/api/schedules", endpoints.list, methods=["GET"]),
        Route("/api/schedules", endpoints.create, methods=["POST"]),
        Route("/api/schedules/{schedule_id}", endpoints.get, methods=["GET"]),
        Route("/api/schedules/{schedule_id}", endpoints.replace, methods=["PUT"]),
        Route("/api/schedules/{schedule_id}", endpoints.delete, methods=["DELETE"]),
        Route("/api/schedules/{schedule_id}/run", endpoints.run_now, methods=["POST"]),
        Route("/api/schedules/{schedule_id}/runs", endpoints.runs, methods=["GET"]),
    ]
