"""Translation between HTTP JSON and the use cases' values: parse requests, render results.

Bodies are camelCase (DESIGN §4). Volumes are in ml, flow rates in ml/min, calibration in
ml/mm, times ISO-8601 UTC with a ``Z`` suffix. Only the *shape* of a request is checked
here; whether a value is allowed (positive, finite, within the pump's limits) is the
domain's rule and is answered by the use case.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from starlette.requests import Request

from adapters.http.scale_json import scale_json
from application.device_config import DeviceConfig
from application.report_status import PumpSafetyView, StatusReport
from domain.errors import DoserError, InvalidDose, InvalidReservoir
from domain.journal import DoseRecord
from domain.mqtt_link import LinkView
from domain.safety import ReservoirLevel
from domain.status import PumpView

_JSON_TYPE_NAMES: dict[type, str] = {
    str: "a string",
    bool: "a boolean",
    type(None): "null",
    list: "an array",
    dict: "an object",
}


class RequestRejected(Exception):
    """A request the adapter cannot read: ``status`` (HTTP), stable ``code``, ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(code: str, message: str, **extra: object) -> dict[str, Any]:
    """The one error shape: ``{"error": {"code": str, "message": str, **extra}}``."""
    return {"error": {"code": code, "message": message, **extra}}


def parse_dose_request(body: bytes) -> tuple[float, float]:
    """Read ``{"volume": ml, "flowRate": ml/min}``; returns ``(volume_ml, flow_rate_ml_min)``.

    Raises ``RequestRejected`` (400 ``bad_request``) when the body is not a JSON object or
    not strict JSON (``NaN``/``Infinity`` literals included: RFC 8259 has no such numbers),
    and ``InvalidDose`` naming the field when ``volume`` or ``flowRate`` is missing or not a
    JSON number (strings and booleans are refused, never coerced). Other keys are ignored.
    """
    data = load_object(body)
    return json_number(data, "volume", "ml"), json_number(data, "flowRate", "ml/min")


def parse_flow_request(body: bytes) -> float:
    """Read ``{"flowRate": ml/min}`` (a continuous run); raises as ``parse_dose_request``."""
    return json_number(load_object(body), "flowRate", "ml/min")


def parse_reservoir_request(body: bytes) -> float | None:
    """Read ``{"level": ml}`` (what the reservoir now holds) or ``{}`` (refilled to
    capacity); raises ``RequestRejected`` (400) for bad JSON, ``InvalidReservoir`` (field
    ``level``) for a level that is not a JSON number."""
    data = load_object(body)
    if data.get("level") is None:
        return None
    return json_number(data, "level", "ml", InvalidReservoir)


def parse_limit(raw: str | None) -> int | None:
    """``?limit=`` as a positive integer (ASCII digits), None when absent; else 400."""
    if raw is None:
        return None
    try:
        limit = int(raw) if raw.isascii() and raw.isdigit() else 0
    except ValueError:  # more digits than int() will parse
        limit = 0
    if limit < 1:
        raise RequestRejected(400, "bad_request", f"limit must be a positive integer: {raw!r}")
    return limit


def parse_since(raw: str | None) -> datetime | None:
    """``?since=`` as ISO-8601 (a naive time is taken as UTC), None when absent; else 400.

    Returns a timezone-aware UTC datetime. A ``+hh:mm`` offset must be percent-encoded
    (``%2B``) in the query string, or it arrives as a space.
    """
    if raw is None:
        return None
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        raise RequestRejected(
            400, "bad_request", f"since must be an ISO-8601 date or time: {raw!r}"
        ) from None
    if since.tzinfo is None:
        return since.replace(tzinfo=UTC)
    return since.astimezone(UTC)


MAX_BODY_BYTES = 16 * 1024  # a request body here is tens of bytes; refuse anything absurd


def status_json(report: StatusReport) -> dict[str, Any]:
    """``GET /api/status`` body; see the handler's docstring for the shape."""
    snapshot = report.snapshot
    return {
        "state": snapshot.state.value,
        "uptimeSec": round(report.uptime_s, 3),
        "controller": {
            "connected": snapshot.controller.connected,
            "state": snapshot.controller.state,
            "detail": snapshot.controller.detail or None,
        },
        "mqtt": _mqtt_json(report),
        "globalMaxVolumePerDay": report.global_max_ml_per_day,
        "pumps": [pump_json(view, report.safety.get(view.pump_id)) for view in snapshot.pumps],
        "scale": scale_json(report.scale.reading, report.scale) if report.scale else None,
    }


def pump_json(view: PumpView, safety: PumpSafetyView | None = None) -> dict[str, Any]:
    """One pump: ml, ml/min and ml/mm; dose fields are null while no dose runs; its
    calibration, limits with usage in their rolling windows, and reservoir."""
    reservoir = view.details.reservoir
    limits = safety.limits if safety else None
    usage = safety.usage if safety else None
    return {
        "id": view.pump_id,
        "name": view.name,
        "state": view.state.value,
        "doseId": view.dose_id,
        "requestedVolume": view.requested_ml,
        "dispensedVolume": view.dispensed_ml,
        "flowRate": view.flow_rate_ml_min,
        "mlPerMm": view.ml_per_mm,
        "maxFlowRate": view.max_flow_ml_min,
        "maxDoseVolume": view.max_dose_ml,
        "fault": view.fault_reason or None,
        "calibration": {
            "source": view.details.calibration_source,
            "valid": view.details.calibrated,
        },
        "limits": {
            "maxDoseVolume": view.max_dose_ml,
            "maxFlowRate": view.max_flow_ml_min,
            "maxVolumePerHour": limits.max_ml_per_hour if limits else None,
            "maxVolumePerDay": limits.max_ml_per_day if limits else None,
            "usedLastHour": round(usage.pump_last_hour_ml, 6) if usage else None,
            "usedLastDay": round(usage.pump_last_day_ml, 6) if usage else None,
        },
        "reservoir": reservoir_json(reservoir) if reservoir else None,
    }


def reservoir_json(level: ReservoirLevel) -> dict[str, Any]:
    """A reservoir: ``{"level": ml, "capacity": ml, "lowMark": ml, "low": bool,
    "empty": bool, "percent": %}``."""
    return {
        "level": round(level.level_ml, 6),
        "capacity": level.capacity_ml,
        "lowMark": level.low_ml,
        "low": level.low,
        "empty": level.empty,
        "percent": round(level.percent, 1),
    }


def record_json(record: DoseRecord) -> dict[str, Any]:
    """One journal row; ``actualVolume``/``endedAt`` are null while the dose runs."""
    return {
        "doseId": record.dose_id,
        "pump": record.pump_id,
        "requestedVolume": record.requested_ml,
        "actualVolume": record.actual_ml,
        "flowRate": record.flow_rate_ml_min,
        "startedAt": iso_utc(record.started_at),
        "endedAt": iso_utc(record.ended_at) if record.ended_at else None,
        "outcome": record.outcome.value,
        "reason": record.reason or None,
        "kind": record.kind.value,
        "uncertain": record.uncertain,
        "actualVolumeUpperBound": record.actual_upper_ml,
        "recipeRunId": record.recipe.run_id if record.recipe else None,
        "recipeStep": record.recipe.step + 1 if record.recipe else None,
    }


def _mqtt_json(report: StatusReport) -> dict[str, Any] | None:
    """The link plus ``outboxDepth``: events and alarms waiting for the broker."""
    link = link_json(report.mqtt)
    return None if link is None else {**link, "outboxDepth": report.outbox_depth}


def link_json(view: LinkView | None) -> dict[str, Any] | None:
    """The MQTT link for status and config bodies (null when MQTT is disabled)."""
    if view is None:
        return None
    return {
        "state": view.state.value,
        "failures": view.failures,
        "nextRetrySec": view.next_delay_s,
        "lastError": view.last_error or None,
    }


def config_json(config: DeviceConfig) -> dict[str, Any]:
    """``GET /api/config`` body."""
    return {
        "deviceId": config.device_id,
        "deviceName": config.profile.name,
        "location": config.profile.location,
        "mqtt": link_json(config.mqtt),
    }


def iso_utc(moment: datetime) -> str:
    """``moment`` as ISO-8601 in UTC with a ``Z`` suffix (``2026-11-21T12:00:00.500000Z``)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _refuse_constant(literal: str) -> NoReturn:
    raise ValueError(f"{literal} is not a JSON number (JSON has no NaN or Infinity)")


def load_object(body: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object; raises ``RequestRejected`` (400)
    for invalid JSON, bad UTF-8, NaN/Infinity literals or another JSON type."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise RequestRejected(400, "bad_request", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        kind = _JSON_TYPE_NAMES.get(type(data), "a number")
        raise RequestRejected(400, "bad_request", f"body must be a JSON object, got {kind}")
    return data


class _FieldError(Protocol):
    def __call__(self, message: str, *, field: str) -> DoserError: ...


def json_number(
    data: dict[str, Any], field: str, unit: str, error: _FieldError = InvalidDose
) -> float:
    """``data[field]`` as a float: a JSON number in ``unit``. Strings and booleans are
    refused, never coerced. Raises ``error(message, field=field)`` (default
    ``InvalidDose``) when it is missing, not a number, or an integer too large for a float;
    infinity (``1e999``) passes, for the domain's own finiteness rule to refuse."""
    if field not in data:
        raise error(f"{field} is required (a number in {unit})", field=field)
    value = data[field]
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
        raise error(f"{field} must be a JSON number in {unit}, got {kind}", field=field)
    try:
        return float(value)
    except OverflowError:  # an integer literal with hundreds of digits
        raise error(f"{field} is out of range", field=field) from None


async def read_body(request: Request) -> bytes:
    """The request body, at most ``MAX_BODY_BYTES``; raises ``RequestRejected`` (413)."""
    # Counted while streaming rather than trusting Content-Length (absent when chunked).
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestRejected(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    return bytes(body)
