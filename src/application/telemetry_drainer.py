"""Use case: drain the outbox to the broker, in order, at the pace the system state allows.

IDLE sends batches of 10 every 10 ms, DISPENSING one message per 100 ms, EMERGENCY alarms
first (``DrainPolicy``). An entry leaves the outbox only when the broker acknowledged it;
after a reconnect everything not yet acknowledged is sent again from the oldest, so a
subscriber may see a duplicate (same ``seq``) but never a gap.
"""

from __future__ import annotations

import functools
import logging
import threading

from application.ports import Outbox, StatusBoard, TelemetryLink
from domain.status import SystemState
from domain.telemetry import DrainPolicy, OutboxEntry

log = logging.getLogger(__name__)

# Waiting for work or a connection, the drainer still looks up this often (s).
_IDLE_WAIT_S = 0.5


class TelemetryDrainer:
    """``window``: at most this many entries in flight (sent, not yet acknowledged).

    ``run`` blocks until ``stop``; ``wake`` (any thread) cuts a wait short when there is
    new work: an append, an acknowledgement, a connection.
    """

    def __init__(
        self,
        outbox: Outbox,
        link: TelemetryLink,
        board: StatusBoard,
        policy: DrainPolicy,
        window: int = 20,
    ) -> None:
        self._outbox = outbox
        self._link = link
        self._board = board
        self._policy = policy
        self._window = window
        self._in_flight: set[int] = set()
        self._alarms_in_flight: set[int] = set()
        self._acknowledged: list[tuple[int, int]] = []
        self._generation = -1
        self._lock = threading.Lock()
        self._work = threading.Event()
        self._stopping = threading.Event()

    def wake(self) -> None:
        """There is new work (an append, an acknowledgement): end the current pause."""
        self._work.set()

    def stop(self) -> None:
        """Make ``run`` return after the current step."""
        self._stopping.set()
        self._work.set()

    def run(self) -> None:
        """Step and pause (s, as the policy says) until ``stop``; never raises."""
        while not self._stopping.is_set():
            try:
                pause_s = self.step()
            except Exception:  # a storage or adapter bug must not end the drainer
                log.exception("telemetry: drain step failed")
                pause_s = _IDLE_WAIT_S
            self._work.wait(pause_s)
            self._work.clear()

    def step(self) -> float:
        """Send what the policy allows now; returns how long to pause (s)."""
        self._settle_acknowledged()
        if not self._link.connected:
            return _IDLE_WAIT_S
        generation = self._link.generation
        with self._lock:
            if generation != self._generation:  # a new session: resend what was in flight
                self._generation = generation
                self._in_flight.clear()
                self._alarms_in_flight.clear()
            room = self._window - len(self._in_flight)
            exclude = frozenset(self._in_flight)
        step = self._policy.step(self._state())
        if room <= 0:
            return _IDLE_WAIT_S  # an acknowledgement wakes us
        entries = self._outbox.pending(
            min(step.batch, room), alarms_first=step.alarms_first, exclude=exclude
        )
        if step.alarms_first:
            entries = self._alarms_before_events(entries)
        for entry in entries:
            with self._lock:
                self._in_flight.add(entry.seq)
                if entry.kind.is_alarm:
                    self._alarms_in_flight.add(entry.seq)
            if not self._link.send(entry, functools.partial(self._acked, entry.seq, generation)):
                with self._lock:
                    self._in_flight.discard(entry.seq)
                break
        return step.pause_s if entries else _IDLE_WAIT_S

    def _alarms_before_events(self, entries: list[OutboxEntry]) -> list[OutboxEntry]:
        """In an emergency, events wait until every alarm is acknowledged: QoS 2 alarms
        complete later than QoS 1 events sent after them, so sending both would let the
        events overtake the alarms on their way to a subscriber (MQTT orders per QoS)."""
        alarms = [e for e in entries if e.kind.is_alarm]
        with self._lock:
            alarms_pending = bool(alarms) or bool(self._alarms_in_flight)
        return alarms if alarms_pending else entries

    @property
    def in_flight(self) -> int:
        """Entries sent on this session and not yet acknowledged."""
        with self._lock:
            return len(self._in_flight)

    def _acked(self, seq: int, generation: int) -> None:
        # Called on the network thread, possibly under paho's lock: only note it here; the
        # drainer's own thread removes it from the outbox (a disk write) on its next step.
        with self._lock:
            self._acknowledged.append((seq, generation))
        self._work.set()

    def _settle_acknowledged(self) -> None:
        with self._lock:
            done, self._acknowledged = self._acknowledged, []
        for seq, _ in done:
            self._outbox.acknowledge(seq)
        with self._lock:
            for seq, generation in done:
                if generation == self._generation:
                    self._in_flight.discard(seq)
                    self._alarms_in_flight.discard(seq)

    def _state(self) -> SystemState:
        try:
            return self._board.latest().state
        except LookupError:
            return SystemState.IDLE
