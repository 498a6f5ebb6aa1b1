"""The MQTT connection as a state machine with the user's exponential backoff.

disconnected → connecting → connected; a failed attempt or a lost connection → waiting
(for the backoff delay) → connecting again. The delay starts at ``initial_s``, doubles per
failure, caps at ``max_s``, and resets after a good connection (the user's 30, 60, …, 3600).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from transitions import Machine

if TYPE_CHECKING:
    from transitions.core import TransitionConfigDict


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Exponential backoff: ``initial_s`` (s) * 2^(failures-1), at most ``max_s`` (s);
    ``jitter`` (0..1) spreads each delay uniformly over ±jitter of itself (0: exact).

    Raises ``ValueError`` for non-positive delays, ``max_s < initial_s`` or jitter outside
    0..1.
    """

    initial_s: float = 30.0
    max_s: float = 3600.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial_s) and self.initial_s > 0):
            raise ValueError(f"initial_s must be positive, got {self.initial_s}")
        if not (math.isfinite(self.max_s) and self.max_s >= self.initial_s):
            raise ValueError(f"max_s must be at least initial_s, got {self.max_s}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be within 0..1, got {self.jitter}")

    def delay_s(self, failures: int, random_unit: float = 0.5) -> float:
        """Wait (s) after ``failures`` consecutive failures (≥ 1). ``random_unit`` in [0, 1)
        places the delay within the jitter band (0.5 = its centre)."""
        exponent = min(max(failures, 1) - 1, 64)  # 2**64 * anything is past any cap
        base = min(self.initial_s * 2.0**exponent, self.max_s)
        return base * (1.0 + self.jitter * (2.0 * random_unit - 1.0))


class LinkState(enum.Enum):
    """Where the MQTT connection stands."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"


@dataclass(frozen=True, slots=True)
class Connected:
    """A CONNACK accepted the session."""


@dataclass(frozen=True, slots=True)
class RegistrationDue:
    """The device must (re)announce itself: after every connect, or when its profile
    changed while connected."""


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """An attempt failed or a live session dropped; the next attempt waits ``delay_s``."""

    reason: str
    failures: int
    delay_s: float


LinkEvent = Connected | RegistrationDue | ConnectionLost


@dataclass(frozen=True, slots=True)
class LinkView:
    """The link as status readers see it: state, consecutive failures, the current wait
    before the next attempt (s) and the last error."""

    state: LinkState
    failures: int
    next_delay_s: float
    last_error: str


_DIS, _ING, _ED, _WAIT = LinkState

_TRANSITIONS: list[TransitionConfigDict] = [
    {"trigger": "attempt", "source": [_DIS, _WAIT], "dest": _ING},
    {"trigger": "accepted", "source": _ING, "dest": _ED},
    {"trigger": "failed", "source": [_ING, _ED], "dest": _WAIT},
    {"trigger": "stopped", "source": "*", "dest": _DIS},
]


class MqttLink:
    """The connection's state, failure count and the events the supervisor acts on.

    ``random_unit`` supplies [0, 1) numbers for jitter (a domain with no randomness of its
    own). Raises ``transitions.MachineError`` on a verb that makes no sense in the state.
    """

    state: LinkState
    trigger: Callable[..., bool]

    def __init__(self, policy: BackoffPolicy, random_unit: Callable[[], float]) -> None:
        self.policy = policy
        self.failures = 0
        self.next_delay_s = 0.0
        self.last_error = ""
        self.events: list[LinkEvent] = []
        self._random_unit = random_unit
        self._machine = Machine(
            model=self,
            states=LinkState,
            transitions=_TRANSITIONS,
            initial=LinkState.DISCONNECTED,
            auto_transitions=False,
        )

    @property
    def is_connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    def view(self) -> LinkView:
        """An immutable copy for readers on other threads."""
        return LinkView(self.state, self.failures, self.next_delay_s, self.last_error)

    def connecting(self) -> None:
        """An attempt starts now."""
        self.trigger("attempt")

    def connect_accepted(self) -> None:
        """A good CONNACK: the backoff resets and registration is due."""
        self.trigger("accepted")
        self.failures = 0
        self.next_delay_s = 0.0
        self.last_error = ""
        self.events += [Connected(), RegistrationDue()]

    def connect_failed(self, reason: str) -> float:
        """The attempt failed (refused, unreachable, timed out); returns the wait (s)."""
        return self._fail(reason)

    def connection_lost(self, reason: str) -> float:
        """A live session dropped; returns the wait (s) before the next attempt."""
        return self._fail(reason)

    def profile_changed(self) -> None:
        """Name or location changed: re-register now if connected (else on connect)."""
        if self.is_connected:
            self.events.append(RegistrationDue())

    def stop(self) -> None:
        """Shutdown: the link goes to disconnected and stays there."""
        self.trigger("stopped")

    def pull_events(self) -> list[LinkEvent]:
        """Hand over the events recorded since the last call."""
        events, self.events = self.events, []
        return events

    def _fail(self, reason: str) -> float:
        self.trigger("failed")
        self.failures += 1
        self.last_error = reason
        self.next_delay_s = self.policy.delay_s(self.failures, self._random_unit())
        self.events.append(ConnectionLost(reason, self.failures, self.next_delay_s))
        return self.next_delay_s
