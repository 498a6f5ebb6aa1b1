"""Carries MQTT commands off the network thread: a bounded queue and one worker.

paho calls the handler on its network thread; a dose command waits on the control plane
(milliseconds, at worst the use case's timeout), which must not stall keepalives and
acknowledgements. When the queue is full a command is answered "busy" at once, never
dropped silently. An emergency stop waits for nothing (DESIGN §2): its feed hold is
written on the network thread as it arrives, and the rest of it (latch, halt, journal,
alarm) jumps ahead of every queued command; it is never refused for a full queue.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable

from application.handle_command import CommandRequest, HandleCommand

log = logging.getLogger(__name__)

_URGENT, _NORMAL, _LAST = 0, 1, 2


class CommandWorker:
    """``capacity``: commands that may wait (emergency stops are not counted);
    ``hold_now``: the emergency stop's real-time feed hold (never raises); ``run`` on its
    own thread until ``stop``."""

    def __init__(
        self,
        handle: HandleCommand,
        capacity: int = 10_000,
        hold_now: Callable[[], None] | None = None,
    ) -> None:
        self._handle = handle
        self._capacity = capacity
        self._hold_now = hold_now
        self._queue: queue.PriorityQueue[tuple[int, int, CommandRequest | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._waiting = 0

    def submit(self, request: CommandRequest) -> None:
        """Queue ``request`` (any thread); when full, answer it "busy" right away. An
        emergency stop's feed hold is written here, before anything else."""
        if request.action == "emergency-stop":
            if self._hold_now is not None:
                self._hold_now()
            self._queue.put((_URGENT, next(self._order), request))
            return
        with self._lock:
            full = self._waiting >= self._capacity
            if not full:
                self._waiting += 1
        if full:
            self._handle.refuse(request, "busy", "too many commands waiting; try again")
            return
        self._queue.put((_NORMAL, next(self._order), request))

    def run(self) -> None:
        """Carry out queued commands, emergency stops first, else in arrival order, until
        ``stop``."""
        while True:
            priority, _, request = self._queue.get()
            if request is None:
                return
            if priority == _NORMAL:
                with self._lock:
                    self._waiting -= 1
            try:
                self._handle.execute(request)
            except Exception:  # a bug must not end the worker: later commands still count
                log.exception("mqtt command failed: %r", request)

    def stop(self) -> None:
        """End ``run`` after the commands already queued."""
        self._queue.put((_LAST, next(self._order), None))
