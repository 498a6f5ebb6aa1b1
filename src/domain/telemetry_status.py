"""Latest-value telemetry (never queued): system status, pump status, outbox health, and
how often the system status goes out in each state (the user's 30 s / 5 s / 1 s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.status import PumpView, SystemSnapshot, SystemState


@dataclass(frozen=True, slots=True)
class StatusCadence:
    """Seconds between system status messages: idle, dispensing, emergency."""

    idle_s: float = 30.0
    dispensing_s: float = 5.0
    emergency_s: float = 1.0

    def interval_s(self, state: SystemState) -> float:
        """Seconds until the next system status in ``state``."""
        if state is SystemState.EMERGENCY:
            return self.emergency_s
        if state is SystemState.DISPENSING:
            return self.dispensing_s
        return self.idle_s


def pump_status(
    view: PumpView, last_dose_ml: float | None, dosed_today_ml: float, dose_volume_ml: float
) -> dict[str, Any]:
    """``{b}/pump/{id}/status``: state, the running dose, last dose and today's total (ml),
    and the one-touch dose volume (ml) Home Assistant shows and sets."""
    return {
        "pump": view.pump_id,
        "name": view.name,
        "state": view.state.value,
        "doseId": view.dose_id,
        "dispensed_ml": view.dispensed_ml,
        "flowRate_ml_min": view.flow_rate_ml_min,
        "lastDose_ml": last_dose_ml,
        "dosedToday_ml": round(dosed_today_ml, 4),
        "doseVolume_ml": dose_volume_ml,
        "fault": view.fault_reason or None,
    }


def system_status(
    snapshot: SystemSnapshot, uptime_s: float, memory_kib: int, outbox_depth: int
) -> dict[str, Any]:
    """``{b}/status``: state, pumps, controller link, uptime (s), memory (KiB), outbox depth."""
    return {
        "state": snapshot.state.value,
        "pumps": {
            p.pump_id: {"state": p.state.value, "dispensed_ml": p.dispensed_ml}
            for p in snapshot.pumps
        },
        "controller": {
            "connected": snapshot.controller.connected,
            "state": snapshot.controller.state,
        },
        "scale": None,
        "uptime_sec": round(uptime_s, 1),
        "memory_kib": memory_kib,
        "outboxDepth": outbox_depth,
    }


def queue_status(depth: int, capacity: int, warning: bool, dropped: int) -> dict[str, Any]:
    """``{b}/queue/status``: outbox depth and capacity, the 80 % warning, events dropped."""
    return {
        "depth": depth,
        "capacity": capacity,
        "fill": round(depth / capacity, 4),
        "warning": warning,
        "dropped": dropped,
    }
