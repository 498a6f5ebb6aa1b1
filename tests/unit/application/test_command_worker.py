"""The MQTT command worker: an emergency stop waits for no queued command."""

from __future__ import annotations

import threading
from typing import Any

from application.command_worker import CommandWorker
from application.handle_command import CommandRequest


class Handler:
    def __init__(self) -> None:
        self.executed: list[str] = []
        self.refused: list[tuple[str, str]] = []
        self.gate = threading.Event()

    def execute(self, request: CommandRequest) -> None:
        self.gate.wait(5)
        self.executed.append(request.action if request.target is None else request.target)

    def refuse(self, request: CommandRequest, code: str, message: str) -> None:
        self.refused.append((str(request.target), code))


def dose(target: str) -> CommandRequest:
    return CommandRequest("dose", target, {"volume_ml": 1})


def run_worker(worker: CommandWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.run)
    thread.start()
    return thread


def test_an_emergency_stop_holds_at_once_and_runs_before_queued_commands() -> None:
    handler, holds = Handler(), []
    worker = CommandWorker(handler, capacity=10, hold_now=lambda: holds.append("!"))  # type: ignore[arg-type]
    for pump in ("X", "Y", "Z"):
        worker.submit(dose(pump))
    worker.submit(CommandRequest("emergency-stop", None, {}))
    assert holds == ["!"]  # on the submitting (network) thread, before any worker ran
    worker.stop()
    handler.gate.set()
    run_worker(worker).join(5)
    assert handler.executed == ["emergency-stop", "X", "Y", "Z"]


def test_a_full_queue_answers_busy_but_never_refuses_an_emergency_stop() -> None:
    handler: Any = Handler()
    worker = CommandWorker(handler, capacity=2, hold_now=lambda: None)
    for pump in ("X", "Y", "Z"):
        worker.submit(dose(pump))
    worker.submit(CommandRequest("emergency-stop", None, {}))
    assert handler.refused == [("Z", "busy")]
    worker.stop()
    handler.gate.set()
    run_worker(worker).join(5)
    assert handler.executed == ["emergency-stop", "X", "Y"]
