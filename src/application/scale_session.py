"""The control plane's hold on the scale: opens it, re-opens it after a loss (at most every
few seconds), and remembers whether it is up and why not."""

from __future__ import annotations

import contextlib
import logging

from application.ports import Clock, Scale
from domain.errors import ScaleFault, ScaleUnavailable
from domain.scale import ScaleReading

log = logging.getLogger(__name__)
_COMMAND_TIMEOUT_S = 2.0  # tare or zero: the scale waits for stability first


class ScaleSession:
    """``scale`` None: no scale configured, every call raises ``ScaleUnavailable``.
    ``reconnect_interval_s`` (s) between background attempts to open a scale that is down.
    Control-plane only."""

    def __init__(
        self, scale: Scale | None, clock: Clock, reconnect_interval_s: float = 5.0
    ) -> None:
        self._scale, self._clock = scale, clock
        self._reconnect_interval_s = reconnect_interval_s
        self._next_open = 0.0
        self.connected = False
        self.detail = "" if scale is not None else "no scale is configured ([scale] driver)"

    @property
    def configured(self) -> bool:
        """A scale is configured (``[scale] driver``, or the bench's in ``--simulate``)."""
        return self._scale is not None

    def keep_open(self) -> None:
        """Open a closed scale when the reconnect interval has passed; never raises."""
        if self._scale is None or self.connected:
            return
        if self._clock.monotonic() >= self._next_open:
            with contextlib.suppress(ScaleUnavailable):  # down: the view says why
                self._open()

    def latest(self) -> ScaleReading:
        """The newest reading, opening the scale first if it is closed. Raises
        ``ScaleUnavailable`` (the scale is then marked down)."""
        scale = self._require()
        if not self.connected:
            self._open()
        try:
            return scale.latest()
        except ScaleUnavailable as exc:
            self.lost(exc.message)
            raise

    def tare(self) -> float:
        """Tare (g). Raises ``ScaleUnavailable``, ``ScaleFault``."""
        self.latest()
        try:
            return self._require().tare(_COMMAND_TIMEOUT_S)
        except ScaleUnavailable as exc:
            self.lost(exc.message)
            raise

    def zero(self) -> None:
        """Zero. Raises ``ScaleUnavailable``, ``ScaleFault``."""
        self.latest()
        try:
            self._require().zero(_COMMAND_TIMEOUT_S)
        except ScaleUnavailable as exc:
            self.lost(exc.message)
            raise

    def lost(self, detail: str) -> None:
        """The scale stopped answering: close it; ``keep_open`` tries again later."""
        if self.connected:
            log.warning("scale link lost: %s", detail)
        if self._scale is not None:
            self._scale.close()
        self.connected, self.detail = False, detail

    def close(self) -> None:
        """Close the scale (at shutdown)."""
        if self._scale is not None:
            self._scale.close()
        self.connected = False

    def _open(self) -> None:
        scale = self._require()
        self._next_open = self._clock.monotonic() + self._reconnect_interval_s
        try:
            scale.open()
        except (ScaleUnavailable, ScaleFault) as exc:
            self.lost(exc.message)
            raise ScaleUnavailable(f"scale not connected: {exc.message}") from None
        self.connected, self.detail = True, ""

    def _require(self) -> Scale:
        if self._scale is None:
            raise ScaleUnavailable(self.detail)
        return self._scale
