"""Carries MQTT commands off the network thread: a bounded queue and one worker.

paho calls the handler on its network thread; a dose command waits on the control plane
(milliseconds, at worst the use case's timeout), which must not stall keepalives and
acknowledgements. When the queue is full a command is answered "busy" at once, never
dropped silently.
"""

from __future__ import annotations

import logging
import queue

from application.handle_command import CommandRequest, HandleCommand

log = logging.getLogger(__name__)


class CommandWorker:
    """``capacity``: commands that may wait; ``run`` on its own thread until ``stop``."""

    def __init__(self, handle: HandleCommand, capacity: int = 10_000) -> None:
        self._handle = handle
        self._queue: queue.Queue[CommandRequest | None] = queue.Queue(maxsize=capacity)

    def submit(self, request: CommandRequest) -> None:
        """Queue ``request`` (any thread); when full, answer it "busy" right away."""
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            self._handle.refuse(request, "busy", "too many commands waiting; try again")

    def run(self) -> None:
        """Carry out queued commands in arrival order until ``stop``."""
        while (request := self._queue.get()) is not None:
            try:
                self._handle.execute(request)
            except Exception:  # a bug must not end the worker: later commands still count
                log.exception("mqtt command failed: %r", request)

    def stop(self) -> None:
        """End ``run`` after the commands already queued."""
        self._queue.put(None)
