"""Bearer-token check for the HTTP API: every mutating request must carry the token.

Reads (GET, HEAD, OPTIONS) stay open so a LAN dashboard can show status without a secret;
POST, PUT, PATCH and DELETE need ``Authorization: Bearer <token>`` (RFC 6750 §2.1).
WebSocket commands are authorised by the WebSocket adapter, not here.
"""

from __future__ import annotations

import hmac
import logging

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.http.serialize import error_body

logger = logging.getLogger(__name__)

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def bearer_token_matches(authorization: str | None, token: str) -> bool:
    """True when an ``Authorization`` header value carries exactly ``token``.

    The scheme is case-insensitive (RFC 7235 §2.1). The comparison is constant-time
    (``hmac.compare_digest``) on UTF-8 bytes, so a non-ASCII header cannot raise.
    """
    if not authorization:
        return False
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


class BearerAuthMiddleware:
    """ASGI middleware: answers 401 ``unauthorized`` (JSON, ``WWW-Authenticate: Bearer``)
    to a mutating HTTP request without the right bearer token; passes everything else on.

    Raises ``ValueError`` when ``token`` is empty: an empty token would let anyone in.
    """

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        if not token:
            raise ValueError("the HTTP API token must not be empty")
        self._app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING_METHODS:
            await self._app(scope, receive, send)
            return
        authorization = Headers(scope=scope).get("authorization")
        if bearer_token_matches(authorization, self._token):
            await self._app(scope, receive, send)
            return
        if authorization:
            message = "the bearer token is wrong"
            challenge = 'Bearer error="invalid_token"'
        else:
            message = "this request needs an 'Authorization: Bearer <token>' header"
            challenge = "Bearer"
        logger.warning("%s %s -> 401 unauthorized", scope["method"], scope["path"])
        response = JSONResponse(
            error_body("unauthorized", message),
            status_code=401,
            headers={"WWW-Authenticate": challenge},
        )
        await response(scope, receive, send)
