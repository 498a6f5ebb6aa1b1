"""HTTP endpoints for the device configuration kept in NVS: GET/POST /api/config."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.http.serialize import RequestRejected, config_json, load_object, read_body
from application.device_config import ReadDeviceConfig, UpdateDeviceConfig

_WRITABLE = ("deviceName", "location")


class ConfigEndpoints:
    """``GET /api/config`` and ``POST /api/config`` (name and location, persisted in NVS)."""

    def __init__(self, read: ReadDeviceConfig, update: UpdateDeviceConfig) -> None:
        self._read = read
        self._update = update

    async def get(self, request: Request) -> Response:
        """``{"deviceId", "deviceName", "location", "mqtt": link|null}``; ``mqtt`` is
        ``{"state": "disconnected"|"connecting"|"connected"|"waiting", "failures": n,
        "nextRetrySec": s, "lastError": str|null}`` or null when MQTT is disabled."""
        return JSONResponse(config_json(await run_in_threadpool(self._read.execute)))

    async def post(self, request: Request) -> Response:
        """Body ``{"deviceName"?: str, "location"?: str}`` (1..64 and 0..128 characters,
        printable UTF-8). Stores both in one NVS commit and re-registers the device when
        the broker is connected → 200 with the GET shape. 400 for a body that is not a
        JSON object or has other keys; 422 ``invalid_config`` naming the field."""
        data = load_object(await read_body(request))
        unknown = sorted(set(data) - set(_WRITABLE))
        if unknown:
            raise RequestRejected(
                400, "bad_request", f"unknown keys {unknown}; writable: {list(_WRITABLE)}"
            )
        await run_in_threadpool(self._update.execute, data.get("deviceName"), data.get("location"))
        return JSONResponse(config_json(await run_in_threadpool(self._read.execute)))
