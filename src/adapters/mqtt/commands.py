"""Commands from the monitoring system over MQTT (DESIGN §5): the ``{base}/cmd/...`` topics
and their JSON bodies turned into ``CommandRequest``s for the application's command
handler. A driving adapter: it parses and hands over; what a command means and what to
answer is the handler's."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

from application.handle_command import CommandRequest
from application.ports import ReplyTo

_log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
_SHOWN_CHARS = 80  # of a bad topic, in an error message


class _Session(Protocol):
    """The slice of ``PahoBrokerSession`` used here, so tests can pass a stub."""

    def subscribe(
        self, topic_filter: str, qos: int, handler: Callable[[str, bytes, ReplyTo | None], None]
    ) -> None: ...


class MqttCommands:
    """Subscribes ``{base}/cmd/+/+``, ``cmd/emergency-stop`` and ``cmd/recipe/+/execute``
    (QoS 1, held across reconnects by the session) and hands
    every command to ``handler`` on paho's network thread: ``handler`` should queue the
    work, not do it. ``base`` is ``<base_topic>/<device id>``. ``{base}/cmd/result``, which
    the device publishes itself, is ignored. Nothing here raises into paho: a failing
    ``handler`` is logged."""

    def __init__(
        self, session: _Session, base: str, handler: Callable[[CommandRequest], None]
    ) -> None:
        self._session = session
        self._base = base.rstrip("/")
        self._handler = handler

    def start(self) -> None:
        """Subscribe; call once, before or after the session connects."""
        # Not cmd/#: that would bring every result we publish on cmd/result back to us.
        for suffix in ("cmd/+/+", "cmd/emergency-stop", "cmd/recipe/+/execute"):
            self._session.subscribe(f"{self._base}/{suffix}", 1, self._on_message)

    def _on_message(self, topic: str, payload: bytes, reply_to: ReplyTo | None) -> None:
        try:
            request = parse_command(self._base, topic, payload, reply_to)
            if request is not None:
                self._handler(request)
        except Exception:
            _log.exception("MQTT command on %.80s failed", topic)


def parse_command(
    base: str, topic: str, payload: bytes, reply_to: ReplyTo | None = None
) -> CommandRequest | None:
    """The request a message on ``topic`` makes, or None when it is none of ours (outside
    ``{base}/cmd/``, or our own ``{base}/cmd/result``). Topics (DESIGN §5):
    ``cmd/<pump>/dose``, ``cmd/<pump>/stop``, ``cmd/<pump>/dose_volume`` (a bare number
    of ml, as Home Assistant's number entity sends it), ``cmd/emergency-stop`` and
    ``cmd/emergency-stop/reset``,
    ``cmd/recipe/<id>/execute``; anything else under ``cmd/`` is action "unknown" with an
    ``error``. The body is read as ``parse_body`` says, also for an unknown topic (its
    ``correlationId`` still names the answer). Never raises."""
    prefix = f"{base.rstrip('/')}/cmd/"
    if not topic.startswith(prefix):
        return None
    rest = topic[len(prefix) :]
    if rest == "result":
        return None
    action, target = _route(rest.split("/"))
    if action == "dose_volume":  # Home Assistant's number entity sends a bare number
        body, error = _bare_number(payload)
        return CommandRequest(action, target, body, error, reply_to)
    body, error = parse_body(payload)
    if action == "unknown":
        error = f"unknown command topic 'cmd/{rest[:_SHOWN_CHARS]}'"
    return CommandRequest(action, target, body, error, reply_to)


def parse_body(payload: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """``(body, None)`` for a UTF-8 JSON object of at most ``MAX_BODY_BYTES`` (16 KiB);
    an empty or blank payload is ``{}``, so a bare ``mosquitto_pub -n`` can stop a pump.
    Else ``(None, why)``: too large, not UTF-8, not JSON, not an object, or holding NaN,
    Infinity or a number too large for a float (JSON has none of them: RFC 8259 §6)."""
    if len(payload) > MAX_BODY_BYTES:
        return None, f"body larger than {MAX_BODY_BYTES} bytes"
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None, "body is not UTF-8"
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NotFinite:
        return None, "body holds NaN, Infinity or an out-of-range number"
    except json.JSONDecodeError as exc:
        return None, f"body is not JSON: {exc.msg} at character {exc.pos}"
    except (ValueError, RecursionError):  # an int of > 4300 digits; nesting too deep
        return None, "body is not JSON this device can read"
    if not isinstance(value, dict):
        return None, f"body must be a JSON object, not {_json_type(value)}"
    return value, None


def _bare_number(payload: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """``12.5`` → ``{"volume_ml": 12.5}`` (a JSON object body is read as usual)."""
    try:
        value = float(payload.decode("utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        return parse_body(payload)
    if not math.isfinite(value):
        return None, "the dose volume must be a finite number of ml"
    return {"volume_ml": value}, None


def _route(parts: list[str]) -> tuple[str, str | None]:
    match parts:
        case ["emergency-stop"]:
            return "emergency-stop", None
        case ["emergency-stop", "reset"]:
            return "emergency-reset", None
        case ["recipe", recipe_id, "execute"] if recipe_id:
            return "recipe", recipe_id
        case [pump_id, ("dose" | "stop" | "dose_volume" | "dose-weight") as verb] if pump_id:
            return verb, pump_id
    return "unknown", None


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
