"""Errors of the HTTP API as JSON responses: which status each failure gets, and the 500 net.

Every error body is ``{"error": {"code", "message", ...}}``. Domain errors map to statuses
through ``_STATUS_OF``, requests the adapter itself refuses carry their own status, and
Starlette's 404/405 keep theirs. ``UnexpectedErrorMiddleware`` turns anything unmapped into
a generic 500 and logs the traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http.serialize import RequestRejected, error_body
from domain.errors import (
    BrokerUnavailable,
    ControllerFault,
    ControllerRejected,
    ControllerUnavailable,
    DoserError,
    InvalidCalibration,
    InvalidDose,
    InvalidRecipe,
    InvalidReservoir,
    InvalidSchedule,
    LimitExceeded,
    LimitReached,
    NotCalibrated,
    PumpBusy,
    PumpFaulted,
    RecipeExists,
    RecipeRunConflict,
    ScaleFault,
    ScaleUnavailable,
    UnknownPump,
    UnknownRecipe,
    UnknownScaleRun,
    UnknownSchedule,
)
from domain.registration import InvalidProfile

logger = logging.getLogger(__name__)

# Looked up along the exception's MRO; a DoserError not listed here is a 409 refusal.
_STATUS_OF: dict[type[DoserError], int] = {
    UnknownPump: 404,
    InvalidDose: 422,
    InvalidCalibration: 422,
    InvalidReservoir: 422,
    NotCalibrated: 409,
    LimitReached: 409,
    PumpBusy: 409,
    PumpFaulted: 409,
    ControllerRejected: 409,
    ControllerFault: 409,
    ControllerUnavailable: 503,
    InvalidProfile: 422,
    BrokerUnavailable: 503,
    InvalidRecipe: 422,
    UnknownRecipe: 404,
    RecipeExists: 409,
    RecipeRunConflict: 409,
    InvalidSchedule: 422,
    UnknownSchedule: 404,
    ScaleUnavailable: 503,
    ScaleFault: 409,
    UnknownScaleRun: 404,
}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def exception_handlers() -> Mapping[type[Exception], Callable[[Request, Exception], Response]]:
    """The handlers to give Starlette: domain errors, adapter refusals, routing errors."""
    return {
        DoserError: _doser_error,
        RequestRejected: _request_rejected,
        HTTPException: _http_error,
    }


def _error(request: Request, status: int, code: str, message: str, **extra: object) -> Response:
    logger.warning("%s %s -> %d %s", request.method, request.url.path, status, code)
    return JSONResponse(error_body(code, message, **extra), status_code=status)


def _doser_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DoserError)
    status = next((_STATUS_OF[c] for c in type(exc).__mro__ if c in _STATUS_OF), 409)
    extra: dict[str, object] = {}
    if isinstance(
        exc,
        InvalidDose
        | InvalidProfile
        | InvalidCalibration
        | InvalidReservoir
        | InvalidRecipe
        | InvalidSchedule,
    ):
        extra["field"] = exc.field
    if isinstance(exc, LimitExceeded | LimitReached):
        extra["rule"] = exc.rule
    if isinstance(exc, ScaleFault):
        extra["reason"] = exc.reason
    if isinstance(exc, ControllerRejected):
        extra["controllerError"] = exc.number
    if isinstance(exc, ControllerFault):
        extra["controllerAlarm"] = exc.number
    return _error(request, status, exc.code, exc.message, **extra)


def _request_rejected(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestRejected)
    return _error(request, exc.status, exc.code, exc.message)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = f"{exc.detail}: {request.method} {request.url.path}"
    response = _error(request, exc.status_code, code, message)
    response.headers.update(exc.headers or {})  # keeps 405's Allow
    return response


class UnexpectedErrorMiddleware:
    """Any exception no handler mapped becomes a generic JSON 500, logged with its traceback.

    Inside Starlette's own 500 middleware, which would answer in plain text and re-raise.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, tracking_send)
        except Exception:
            logger.exception("%s %s -> 500 internal_error", scope["method"], scope["path"])
            if started:  # too late to answer; let the server drop the connection
                raise
            body = error_body("internal_error", "internal error; see the daemon log")
            await JSONResponse(body, status_code=500)(scope, receive, send)
