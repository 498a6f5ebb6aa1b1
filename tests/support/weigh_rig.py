"""The acceptance tests' weighing rig: a daemon on the bench (started on first use), its
bench, and the dispense or calibration under way."""

from __future__ import annotations

from typing import Any

from domain.errors import DoserError
from domain.scale import WeighRunView
from domain.telemetry import MessageKind
from support.daemon_harness import wait_for


class WeighRig:
    """The daemon (started on first use), its bench and the dispense under way."""

    def __init__(self, settings: dict[str, Any], daemon_factory: Any) -> None:
        self.settings = settings
        self._factory = daemon_factory
        self._daemon: Any = None
        self.run_id = ""
        self.refusal: DoserError | None = None
        self.started_at = 0.0
        self.fault_at = 0.0
        self.before: dict[str, float] = {}

    @property
    def daemon(self) -> Any:
        if self._daemon is None:
            daemon = self._factory()
            wait_for(
                lambda: daemon.app.report_status().execute().snapshot.controller.connected,
                10,
                "the controller link",
            )
            wait_for(lambda: daemon.app.weigher().view.connected, 10, "the scale link")
            self._daemon = daemon
            self.before = daemon.axis_positions()
        return self._daemon

    @property
    def app(self) -> Any:
        return self.daemon.app

    @property
    def bench(self) -> Any:
        return self.app.adapters.bench()

    def run(self) -> WeighRunView:
        view: WeighRunView = self.app.dispense_weight().get(self.run_id)
        return view

    def ended(self, timeout_s: float = 40) -> WeighRunView:
        def done() -> WeighRunView | None:
            run = self.run()
            return run if run.result is not None else None

        view: WeighRunView = wait_for(done, timeout_s, "the dispense by weight to end")
        return view

    def outbox(self, kind: MessageKind) -> list[dict[str, Any]]:
        entries = self.app.adapters.outbox().pending(10_000)
        return [dict(e.payload) for e in entries if e.kind is kind]
