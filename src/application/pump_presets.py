"""Per-pump dose presets in NVS: the volume (ml) a one-touch dose gives (the Home
Assistant button), and its flow rate (ml/min). Changed from Home Assistant's number
entity; survives restarts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from application.ports import NonVolatileStore
from domain.errors import InvalidDose, UnknownPump


@dataclass(frozen=True, slots=True)
class Preset:
    """A pump's one-touch dose: ``volume_ml`` (ml) at ``flow_rate_ml_min`` (ml/min)."""

    volume_ml: float
    flow_rate_ml_min: float


class PumpPresets:
    """``defaults``: pump id → the preset to use until one is stored; ``max_dose_ml``:
    pump id → the largest volume a preset may hold (the pump's single-dose limit)."""

    def __init__(
        self,
        nvs: NonVolatileStore,
        defaults: Mapping[str, Preset],
        max_dose_ml: Mapping[str, float],
    ) -> None:
        self._nvs = nvs
        self._defaults = dict(defaults)
        self._max_dose_ml = dict(max_dose_ml)

    def preset(self, pump_id: str) -> Preset:
        """The stored preset, or the default; raises ``UnknownPump``."""
        default = self._default(pump_id)
        stored = self._nvs.get(_namespace(pump_id), "dose_volume_ml")
        volume = float(stored) if isinstance(stored, int | float) else default.volume_ml
        return Preset(volume, default.flow_rate_ml_min)

    def set_volume(self, pump_id: str, volume_ml: float) -> Preset:
        """Store a new one-touch volume (ml); raises ``UnknownPump`` or ``InvalidDose``."""
        self._default(pump_id)
        limit = self._max_dose_ml[pump_id]
        if not (math.isfinite(volume_ml) and 0 < volume_ml <= limit):
            raise InvalidDose(
                f"the dose volume must be above 0 and at most {limit:g} ml", field="volume_ml"
            )
        self._nvs.set_many(_namespace(pump_id), {"dose_volume_ml": float(volume_ml)})
        return self.preset(pump_id)

    def _default(self, pump_id: str) -> Preset:
        try:
            return self._defaults[pump_id]
        except KeyError:
            raise UnknownPump(f"no pump {pump_id!r}") from None


def _namespace(pump_id: str) -> str:
    return f"pump.{pump_id}"
