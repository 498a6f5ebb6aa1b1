"""Use case: tell the daemon what a pump's reservoir holds after a refill."""

from __future__ import annotations

from application.commands import RefreshStatus
from application.control_plane import ControlPlane
from application.reservoirs import Reservoirs
from domain.safety import ReservoirLevel


class RefillReservoir:
    """Set a tracked reservoir's level (ml) and publish it at once."""

    def __init__(self, reservoirs: Reservoirs, control: ControlPlane) -> None:
        self._reservoirs = reservoirs
        self._control = control

    def execute(self, pump_id: str, level_ml: float | None = None) -> ReservoirLevel:
        """``level_ml`` None: refilled to capacity. Raises ``InvalidReservoir`` (untracked
        pump, level not finite, negative or over capacity)."""
        level = self._reservoirs.refill(pump_id, level_ml)
        self._control.request(RefreshStatus(), 5.0)
        return level
