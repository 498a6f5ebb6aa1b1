"""Where one MQTT session stands, kept thread-safe between the three threads that touch it:
the supervisor's (connect, wait_lost), paho's network thread (the connection callbacks,
which land here) and whoever calls disconnect. Bookkeeping only: no paho calls, no I/O."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from paho.mqtt.reasoncodes import ReasonCode

from adapters.mqtt.local_address import disable_nagle

_log = logging.getLogger(__name__)

# How often wait_lost re-checks paho's own state, for losses that skip on_disconnect (s).
_POLL_S = 0.5


class Phase(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"
    CLOSING = "closing"


class SessionState:
    """The phase of the session, the outcome of the connect attempt under way and why the
    session was lost. Every method is thread-safe and returns at once except the waits."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._phase = Phase.IDLE
        self._outcome: ReasonCode | str | None = None
        self._cancels = 0  # disconnect requests so far: an attempt under way gives up
        self._settled = threading.Event()  # the attempt under way has an outcome
        self._lost = threading.Event()
        self._lost_reason = ""
        self.socket_closed = threading.Event()  # paho holds no open socket
        self.socket_closed.set()

    @property
    def phase(self) -> Phase:
        return self._phase

    def cancels(self) -> int:
        """A token for ``begin``: disconnect requests made after it cancel the attempt."""
        with self._mutex:
            return self._cancels

    def begin(self, cancels: int) -> None:
        """A connect attempt starts; any earlier loss is forgotten."""
        with self._mutex:
            self._phase, self._outcome = Phase.CONNECTING, None
            self._settled.clear()
            self._lost.clear()
            if self._cancels != cancels:  # disconnect() came while the attempt queued
                self._settle("disconnect requested")

    def wait_settled(self, timeout_s: float) -> tuple[bool, ReasonCode | str | None]:
        """Wait up to ``timeout_s`` (s) for the attempt's outcome: ``(connected, outcome)``;
        outcome None when nothing came (no CONNACK)."""
        self._settled.wait(max(timeout_s, 0.0))
        with self._mutex:
            return self._phase is Phase.CONNECTED, self._outcome

    def cancel(self) -> None:
        """disconnect() was called: an attempt waiting for its CONNACK gives up now."""
        with self._mutex:
            self._cancels += 1
            if self._phase is Phase.CONNECTING:
                self._settle("disconnect requested")

    def closing(self) -> None:
        with self._mutex:
            self._phase = Phase.CLOSING

    def closed(self) -> None:
        with self._mutex:
            self._phase = Phase.IDLE

    def connack(self, reason: ReasonCode) -> None:
        """paho's on_connect: the CONNACK arrived with ``reason``."""
        with self._mutex:
            if self._phase is Phase.CONNECTING and not self._settled.is_set():
                if not reason.is_failure:
                    # From now on a drop is a loss, even before connect() returns.
                    self._phase = Phase.CONNECTED
                self._settle(reason)

    def dropped(self, reason: str) -> None:
        """The connection closed without our asking (paho's on_disconnect, or paho's state
        found disconnected)."""
        with self._mutex:
            if self._phase is Phase.CONNECTING:
                self._settle(f"connection closed before CONNACK ({reason})")
            elif self._phase is Phase.CONNECTED:
                self._phase = Phase.LOST
                self._lost_reason = f"connection lost ({reason})"
                self._lost.set()
                _log.warning("MQTT session lost: %s", reason)

    def wait_lost(self, timeout_s: float, paho_connected: Callable[[], bool]) -> str | None:
        """Wait up to ``timeout_s`` (s): the loss reason, or None. ``paho_connected`` is
        paho's own view, asked every ``_POLL_S`` for losses paho never reported."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if self._lost.wait(max(min(remaining, _POLL_S), 0.0)):
                return self._lost_reason
            if self._phase is Phase.CONNECTED and not paho_connected():
                # A socket closed under paho's select() makes paho stop without calling
                # on_disconnect; its state still shows the connection is gone.
                self.dropped("socket closed")
            elif remaining <= 0:
                return None

    # paho callbacks, on paho's network thread (signatures: paho 2.x CallbackAPIVersion 2).

    def on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self.connack(reason)

    def on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        # MQTT 3.1.1 has no server DISCONNECT: paho names the local cause ("Keep alive
        # timeout", "Unspecified error" for a closed or failed socket). An MQTT 5 broker
        # may send one with its reason (e.g. "Session taken over"). Ignored while closing.
        self.dropped(str(reason))

    def on_socket_open(self, _c: Any, _u: Any, sock: Any) -> None:
        self.socket_closed.clear()
        disable_nagle(sock)

    def on_socket_close(self, _c: Any, _u: Any, _sock: Any) -> None:
        self.socket_closed.set()

    def _settle(self, outcome: ReasonCode | str) -> None:
        if not self._settled.is_set():
            self._outcome = outcome
            self._settled.set()


def explain(outcome: ReasonCode | str | None, timeout_s: float) -> str:
    """Why a connect attempt failed, from ``SessionState.wait_settled``'s outcome."""
    if outcome is None:
        return f"no CONNACK within {timeout_s:g} s"
    if isinstance(outcome, ReasonCode):
        if not outcome.is_failure:
            return "connection closed right after CONNACK"
        return f"connection refused: {outcome}"
    return outcome
