"""Use case: carry out a command that arrived over MQTT and publish its result.

Home Assistant's one-touch button (``{"source": "homeassistant"}``, no volume, no
correlationId) doses the pump's preset; its number entity sets that preset.

The same validation and use cases as HTTP; every command gets ``{"correlationId", "ok",
"error"}`` (plus ``code``; for a dose, ``doseId``; for a recipe, ``runId``). A command
redelivered by QoS 1 with the same correlationId is answered again, never executed twice.
Malformed input is an error result and one log line, never an alarm, never motion.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from application.dispense_volume import DispenseVolume
from application.dispense_weight import DispenseWeight
from application.emergency_stop import EmergencyStop, ResetEmergencyStop
from application.execute_recipe import ExecuteRecipe
from application.ports import ReplyTo, TelemetryLink
from application.pump_presets import PumpPresets
from application.stop_pump import StopPump
from domain.errors import DoserError, InvalidDose

log = logging.getLogger(__name__)
MAX_CORRELATION_ID = 128
HOME_ASSISTANT = "homeassistant"


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A command as the MQTT adapter parsed it: ``action`` ("dose", "dose-weight", "stop",
    "emergency-stop", "recipe" or "unknown"), ``target`` (pump or recipe id), ``body`` (the
    JSON object, None if it could not be read, then ``error`` says why), ``reply_to``."""

    action: str
    target: str | None
    body: dict[str, Any] | None
    error: str | None = None
    reply_to: ReplyTo | None = None


class HandleCommand:
    """``remember``: how many correlationIds are kept to recognise redeliveries;
    ``execute_recipe`` / ``dispense_weight`` None: recipe / weight commands are refused
    (``unsupported``)."""

    def __init__(
        self,
        *,
        dispense: DispenseVolume,
        stop: StopPump,
        link: TelemetryLink,
        presets: PumpPresets,
        emergency_stop: EmergencyStop,
        reset_emergency_stop: ResetEmergencyStop,
        execute_recipe: ExecuteRecipe | None = None,
        dispense_weight: DispenseWeight | None = None,
        remember: int = 4096,
    ) -> None:
        self._dispense, self._stop, self._link = dispense, stop, link
        self._presets = presets
        self._emergency_stop = emergency_stop
        self._reset_emergency_stop = reset_emergency_stop
        self._execute_recipe = execute_recipe
        self._dispense_weight = dispense_weight
        self._remember = remember
        self._results: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def execute(self, request: CommandRequest) -> dict[str, Any]:
        """Carry out ``request`` (unless already done) and publish its result; returns it."""
        correlation_id = _correlation_id(request.body)
        with self._lock:
            done = self._results.get(correlation_id) if correlation_id else None
        if done is not None:
            log.info("mqtt command %s redelivered: answered again, not run", correlation_id)
            result = done
        else:
            result = self._run(request, correlation_id)
            if correlation_id:
                with self._lock:
                    self._results[correlation_id] = result
                    while len(self._results) > self._remember:
                        self._results.popitem(last=False)
        self._link.publish_command_result(result, request.reply_to)
        return result

    def refuse(self, request: CommandRequest, code: str, message: str) -> dict[str, Any]:
        """Answer ``request`` with an error without running it (e.g. the queue is full)."""
        result = _refuse(_correlation_id(request.body), code, message)
        self._link.publish_command_result(result, request.reply_to)
        return result

    def _run(self, request: CommandRequest, correlation_id: str | None) -> dict[str, Any]:
        body = request.body
        if request.error is not None or body is None:
            return _refuse(correlation_id, "bad_request", request.error or "no body")
        raw_id = body.get("correlationId")
        if raw_id is not None and correlation_id is None:
            return _refuse(None, "bad_request", "correlationId must be a string of 1-128 chars")
        try:
            match request.action:
                case "dose" if body.get("source") == HOME_ASSISTANT and "volume_ml" not in body:
                    # the one-touch button: it can send neither a volume nor a correlationId
                    preset = self._presets.preset(request.target or "")
                    dose_id = self._dispense.execute(
                        request.target or "", preset.volume_ml, preset.flow_rate_ml_min
                    )
                    return _ok(correlation_id, doseId=dose_id)
                case "dose_volume":
                    volume = _number(body, "volume_ml", "ml")
                    self._presets.set_volume(request.target or "", volume)
                    return _ok(correlation_id)
                case "dose" if correlation_id is None:
                    # without it a QoS 1 redelivery could not be told from a second dose
                    return _refuse(None, "bad_request", "a dose command needs a correlationId")
                case "dose":
                    dose_id = self._dispense.execute(
                        request.target or "",
                        _number(body, "volume_ml", "ml"),
                        _number(body, "flowRate_ml_min", "ml/min"),
                    )
                    return _ok(correlation_id, doseId=dose_id)
                case "stop":
                    self._stop.execute(request.target or "")
                    return _ok(correlation_id)
                case "emergency-stop":
                    self._emergency_stop.execute("mqtt")
                    return _ok(correlation_id, latched=True)
                case "emergency-reset":
                    released = self._reset_emergency_stop.execute("mqtt")
                    return _ok(correlation_id, released=released)
                case "dose-weight" if correlation_id is None:
                    return _refuse(
                        None, "bad_request", "a dose-weight command needs a correlationId"
                    )
                case "dose-weight":
                    return self._run_weight(request.target or "", body, correlation_id)
                case "recipe" if correlation_id is None:
                    # without one a QoS 1 redelivery could not be told apart: it would run twice
                    return _refuse(None, "bad_request", "a recipe command needs a correlationId")
                case "recipe":
                    return self._run_recipe(request.target or "", correlation_id)
                case _:
                    return _refuse(
                        correlation_id, "bad_request", f"unknown command {request.action!r}"
                    )
        except DoserError as exc:
            return _refuse(correlation_id, exc.code, exc.message)

    def _run_recipe(self, recipe_id: str, correlation_id: str | None) -> dict[str, Any]:
        """Start the stored recipe ``recipe_id``; raises as ``ExecuteRecipe.execute``."""
        if self._execute_recipe is None:
            return _refuse(correlation_id, "unsupported", "recipes are not available")
        run_id = self._execute_recipe.execute(recipe_id, origin="mqtt")
        return _ok(correlation_id, runId=run_id)


    def _run_weight(
        self, pump_id: str, body: dict[str, Any], correlation_id: str | None
    ) -> dict[str, Any]:
        """Start a dispense by weight from ``{"targetGrams", "tolerance"?,
        "flowRate_ml_min"?}``; raises as ``DispenseWeight.execute``."""
        if self._dispense_weight is None:
            return _refuse(correlation_id, "unsupported", "dispensing by weight is not available")
        tolerance = None if body.get("tolerance") is None else _number(body, "tolerance", "g")
        flow = body.get("flowRate_ml_min")
        run_id = self._dispense_weight.execute(
            pump_id,
            _number(body, "targetGrams", "g"),
            tolerance,
            None if flow is None else _number(body, "flowRate_ml_min", "ml/min"),
            origin="mqtt",
        )
        return _ok(correlation_id, runId=run_id)


def _correlation_id(body: dict[str, Any] | None) -> str | None:
    value = body.get("correlationId") if body else None
    if isinstance(value, str) and 0 < len(value) <= MAX_CORRELATION_ID:
        return value
    return None


def _number(body: dict[str, Any], field: str, unit: str) -> float:
    """A JSON number (not a bool, not a string); the domain then checks its range."""
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidDose(f"{field} must be a number in {unit}, got {value!r}", field=field)
    try:
        return float(value)
    except OverflowError:
        raise InvalidDose(f"{field} is out of range", field=field) from None


def _ok(correlation_id: str | None, **extra: Any) -> dict[str, Any]:
    return {"correlationId": correlation_id, "ok": True, "error": None, **extra}


def _refuse(correlation_id: str | None, code: str, message: str) -> dict[str, Any]:
    log.warning("mqtt command refused (%s): %s", code, message)
    return {"correlationId": correlation_id, "ok": False, "error": message, "code": code}
