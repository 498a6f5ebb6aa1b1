"""The learned in-flight time of each pump (s), kept in NVS so it survives restarts: what
still lands on the scale after the pump stops, per g/s of flow (see ``domain.weighing``)."""

from __future__ import annotations

import logging

from application.ports import NonVolatileStore
from domain.weighing import DEFAULT_INFLIGHT_S, learn_inflight

log = logging.getLogger(__name__)
NAMESPACE = "weighing"


class InflightBook:
    """Per pump in-flight time (s) in the ``weighing`` NVS namespace (``<pump>.inflight_s``)."""

    def __init__(self, nvs: NonVolatileStore) -> None:
        self._nvs = nvs

    def get(self, pump_id: str) -> float:
        """The pump's learned in-flight time (s), or the default before its first dose by
        weight (or when the stored value is unreadable)."""
        try:
            value = self._nvs.get(NAMESPACE, f"{pump_id}.inflight_s")
        except Exception:  # a storage fault must not stop dosing: fall back, say so
            log.exception("could not read the in-flight time of pump %s", pump_id)
            return DEFAULT_INFLIGHT_S
        if isinstance(value, bool) or not isinstance(value, int | float):
            return DEFAULT_INFLIGHT_S
        return float(value)

    def learn(self, pump_id: str, observed_s: float) -> float:
        """Fold one observation (s) into the pump's estimate and store it; returns it."""
        learned = learn_inflight(self.get(pump_id), observed_s)
        try:
            self._nvs.set_many(NAMESPACE, {f"{pump_id}.inflight_s": learned})
        except Exception:
            log.exception("could not store the in-flight time of pump %s", pump_id)
        return learned
