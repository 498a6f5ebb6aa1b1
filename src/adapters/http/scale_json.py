"""JSON of the scale and of a dispense by weight, for the HTTP API and the status body.
Weights in g, volumes in ml, times in s."""

from __future__ import annotations

from typing import Any

from domain.scale import ScaleReading, ScaleView, WeighRunView
from domain.telemetry import iso_utc


def scale_json(reading: ScaleReading | None, view: ScaleView) -> dict[str, Any]:
    """The scale: its reading (weight null when out of range or unknown) and last run."""
    return {
        "configured": view.configured,
        "connected": view.connected,
        "weight": round(reading.grams, 4) if reading and reading.in_range else None,
        "unit": "g",
        "stable": bool(reading and reading.stable),
        "status": reading.status.value if reading else None,
        "detail": view.detail or None,
        "run": weigh_run_json(view.run) if view.run else None,
    }


def weigh_run_json(view: WeighRunView) -> dict[str, Any]:
    """A dispense by weight: ``{"runId", "pump", "origin", "targetGrams", "tolerance",
    "phase", "netGrams", "startedAt", "result": null | {"actualWeight_g", "error_g",
    "accuracy_percent", "duration_sec", "outcome", "reason", "dispensed_ml", "topups"}}``."""
    result = view.result
    return {
        "runId": view.run_id,
        "pump": view.pump_id,
        "origin": view.origin,
        "targetGrams": view.target_g,
        "tolerance": view.tolerance_g,
        "phase": view.phase,
        "netGrams": round(view.net_g, 4),
        "startedAt": iso_utc(view.started_at),
        "result": None if result is None else {
            "actualWeight_g": round(result.actual_g, 4),
            "error_g": round(result.error_g, 4),
            "accuracy_percent": round(result.accuracy_percent, 3),
            "duration_sec": round(result.duration_s, 3),
            "outcome": result.outcome.value,
            "reason": result.reason or None,
            "dispensed_ml": round(result.dispensed_ml, 4),
            "topups": result.topups,
        },
    }
