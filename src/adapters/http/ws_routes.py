"""WS /ws (DESIGN §4): the live status feed and the command channel of the dashboard.

Server → client::

    {"type": "status", "data": <the GET /api/status body>}    # on connect, then every
        1 s while IDLE, 0.2 s while DISPENSING, 0.1 s while EMERGENCY (1/5/10 Hz)
    {"type": "result", "id": <the command's id>, "ok": true, ...}      # see below
    {"type": "result", "id": ..., "ok": false, "error": {"code", "message", ...}}

Client → server, one JSON object per message (at most 16 KiB)::

    {"type": "command", "token": "<bearer token>", "id": <any; echoed, default null>,
     "action": "emergency-stop"        → {"state": "EMERGENCY", "latched": true}
             | "emergency-stop-reset"  → {"latched": false, "wasLatched": bool}
             | "dispense", "pump": id, "volume": ml, "flowRate": ml/min → {"doseId": str}
             | "stop", "pump": id      → {"stopped": true, "pump": id}}

Every command needs the token: in the message (browsers cannot set headers on a
WebSocket) or as ``Authorization: Bearer`` on the upgrade request; never in the URL,
which ends up in logs. Error codes are the HTTP API's (``DoserError.code``, plus
``unauthorized``, ``bad_request``, ``payload_too_large``, ``internal_error``). A bad
message gets an error result and the socket stays open. Commands run concurrently, so
results may come back out of order (match them by ``id``); an emergency stop's feed hold
goes out the moment its message is read, whatever else is in flight.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup
from starlette.concurrency import run_in_threadpool
from starlette.websockets import (
    WebSocket,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

from adapters.http.auth import bearer_token_matches
from adapters.http.serialize import RequestRejected, load_object, parse_dose_request, status_json
from application.dispense_volume import DispenseVolume
from application.emergency_stop import EmergencyStop, ResetEmergencyStop
from application.report_status import ReportStatus
from application.stop_pump import StopPump
from domain.errors import DoserError
from domain.status import SystemState

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024  # a command is ~150 bytes; refuse anything absurd
MAX_COMMANDS_IN_FLIGHT = 8  # per socket; the emergency stop is never refused
# Seconds between status messages, by system state (DESIGN §4: 1 / 5 / 10 Hz).
STATUS_PERIOD_S = {SystemState.IDLE: 1.0, SystemState.DISPENSING: 0.2, SystemState.EMERGENCY: 0.1}
# Between status messages the system state is looked at this often (s): a dose started
# elsewhere (HTTP, MQTT, a schedule) is reported within it, not at the next idle second.
STATE_CHECK_S = 0.1
_ACTIONS = ("emergency-stop", "emergency-stop-reset", "dispense", "stop")
_GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)  # the client went away


@dataclass(frozen=True, kw_only=True)
class LiveFeed:
    """The WS /ws endpoint (``serve``) over the use cases it needs.

    ``token`` is the bearer token every command must carry; raises ``ValueError`` when it is
    empty (an empty token would let anyone in)."""

    status: ReportStatus
    emergency_stop: EmergencyStop
    reset_emergency_stop: ResetEmergencyStop
    dispense: DispenseVolume
    stop: StopPump
    token: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("the WebSocket command token must not be empty")

    async def serve(self, websocket: WebSocket) -> None:
        """One connection: status and commands run side by side until either side ends;
        commands already read still run to the end (an emergency stop sent just before
        the tab closed must still latch)."""
        await websocket.accept()
        session = _Session(self, websocket)
        try:
            async with (
                anyio.create_task_group() as session.commands,
                anyio.create_task_group() as session.sides,
            ):
                session.sides.start_soon(session.until_done, session.feed_status)
                session.sides.start_soon(session.until_done, session.read_commands)
        finally:
            if WebSocketState.CONNECTED is websocket.client_state is websocket.application_state:
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await websocket.close()  # the client may have left meanwhile


class _Session:
    """One connection: its send lock, wake-up event and commands in flight."""

    sides: TaskGroup  # the status feed and the reader; cancelled together
    commands: TaskGroup  # commands being carried out; never cancelled by a disconnect

    def __init__(self, feed: LiveFeed, websocket: WebSocket) -> None:
        self.feed, self.ws = feed, websocket
        self.header_ok = bearer_token_matches(websocket.headers.get("authorization"), feed.token)
        self.send_lock = anyio.Lock()
        self.wake = anyio.Event()
        self.in_flight = 0

    async def until_done(self, side: Callable[[], Awaitable[None]]) -> None:
        """Run one side; when it ends (disconnect, failure) the other side ends too."""
        try:
            await side()
        except _GONE:
            pass
        except Exception:
            logger.exception("WS /ws: connection dropped on an unexpected error")
        finally:
            self.sides.cancel_scope.cancel()

    async def feed_status(self) -> None:
        while True:
            sent: SystemState | None = None
            try:
                report = await run_in_threadpool(self.feed.status.execute)
            except LookupError:  # no snapshot yet (only before the control plane's first)
                period = STATUS_PERIOD_S[SystemState.IDLE]
            else:
                await self.send({"type": "status", "data": status_json(report)})
                sent = report.snapshot.state
                period = STATUS_PERIOD_S.get(sent, 1.0)
            await self.until_due(period, sent)
            self.wake = anyio.Event()

    async def until_due(self, period_s: float, sent: SystemState | None) -> None:
        """Wait ``period_s`` (s), less when a command of this socket changed something or
        the system state is no longer the one ``sent``."""
        deadline = anyio.current_time() + period_s
        while (left := deadline - anyio.current_time()) > 0:
            with anyio.move_on_after(min(left, STATE_CHECK_S)):
                await self.wake.wait()
            if self.wake.is_set() or self.feed.status.system_state() is not sent:
                return

    async def read_commands(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("bytes") or (message.get("text") or "").encode()
            self.accept(raw)

    def accept(self, raw: bytes) -> None:
        """Check one message and start it; synchronous, so an emergency stop's feed hold
        is written before this task yields to anything else."""
        command: dict[str, Any] = {}
        try:
            if len(raw) > MAX_MESSAGE_BYTES:
                raise RequestRejected(413, "payload_too_large", "message exceeds 16 KiB")
            command = load_object(raw)
            self.authorize(command)
            action = command.get("action")
            if action not in _ACTIONS:
                raise RequestRejected(400, "bad_request", f"unknown action: {action!r}")
            if action == "emergency-stop":
                self.feed.emergency_stop.hold_now()
            elif self.in_flight >= MAX_COMMANDS_IN_FLIGHT:
                raise RequestRejected(429, "too_many_commands", "wait for earlier results")
        except (RequestRejected, DoserError) as exc:
            self.commands.start_soon(self.reply, command.get("id"), _error(exc))
            return
        self.in_flight += 1
        self.commands.start_soon(self.run, command, raw)

    def authorize(self, command: dict[str, Any]) -> None:
        if command.get("type") != "command":
            raise RequestRejected(400, "bad_request", f"unknown type: {command.get('type')!r}")
        token = command.get("token")
        if token is None and self.header_ok:
            return
        if isinstance(token, str) and bearer_token_matches(f"Bearer {token}", self.feed.token):
            return
        logger.warning("WS /ws %.40r -> unauthorized", command.get("action"))
        raise RequestRejected(401, "unauthorized", "this command needs the right token")

    async def run(self, command: dict[str, Any], raw: bytes) -> None:
        feed, action = self.feed, command["action"]
        try:
            if action == "emergency-stop":
                await run_in_threadpool(feed.emergency_stop.execute, "websocket")
                body: dict[str, Any] = {"state": "EMERGENCY", "latched": True}
            elif action == "emergency-stop-reset":
                was_latched = await run_in_threadpool(
                    feed.reset_emergency_stop.execute, "websocket"
                )
                body = {"latched": False, "wasLatched": was_latched}
            elif action == "dispense":
                volume_ml, flow_rate_ml_min = parse_dose_request(raw)
                pump = _pump(command)
                dose_id = await run_in_threadpool(
                    feed.dispense.execute, pump, volume_ml, flow_rate_ml_min
                )
                body = {"doseId": dose_id}
            else:
                pump = _pump(command)
                await run_in_threadpool(feed.stop.execute, pump)
                body = {"stopped": True, "pump": pump}
        except (RequestRejected, DoserError) as exc:
            body = _error(exc)
        except Exception:
            logger.exception("WS /ws %s -> internal_error", action)
            body = _error(RequestRejected(500, "internal_error", "see the daemon log"))
        finally:
            self.in_flight -= 1
        if body.get("ok", True):
            self.wake.set()
        await self.reply(command.get("id"), body)

    async def reply(self, command_id: Any, body: dict[str, Any]) -> None:
        with contextlib.suppress(*_GONE):  # the client left before its result
            await self.send({"type": "result", "id": command_id, "ok": True, **body})

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:  # one frame at a time from the two sides
            await self.ws.send_json(message)


def _pump(command: dict[str, Any]) -> str:
    pump = command.get("pump")
    if not isinstance(pump, str) or not pump:
        raise RequestRejected(400, "bad_request", "pump is required (a pump id string)")
    return pump


def _error(exc: RequestRejected | DoserError) -> dict[str, Any]:
    """``{"ok": false, "error": {"code", "message", "field"?, "rule"?}}``."""
    if isinstance(exc, DoserError):
        logger.warning("WS /ws -> %s", exc.code)
    extra = {key: getattr(exc, key) for key in ("field", "rule") if hasattr(exc, key)}
    return {"ok": False, "error": {"code": exc.code, "message": exc.message, **extra}}
