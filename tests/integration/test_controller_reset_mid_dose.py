"""The controller resets on its own mid-dose (power blip, USB re-enumeration): the real
Grbl adapter sees a banner it did not ask for, the runner fails the dose, faults the
pumps, raises one alarm and refuses dosing until the link is back and the state known."""

from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.clock import SystemClock
from adapters.fakes import InMemoryJournal
from adapters.memory import InMemoryStatusBoard
from adapters.serial.grbl import GrblController
from adapters.sim.pty_host import PtyGrblSimulator
from application.dose_runner import DoseRunner
from domain.calibration import Calibration
from domain.dose import PumpLimits
from domain.errors import ControllerUnavailable, DoserError
from domain.events import DoseOutcome
from domain.pump import PumpSpec, PumpState
from domain.telemetry import Severity

pytestmark = pytest.mark.slow
PUMPS = [PumpSpec("X", "DMDEE", Calibration(0.05), PumpLimits(30.0, 100.0))]


class Alarms:
    def __init__(self) -> None:
        self.types: list[str] = []

    def raise_alarm(self, alarm_type: str, message: str, severity: Severity, **_: Any) -> None:
        self.types.append(alarm_type)


def test_a_controller_that_resets_mid_dose_faults_the_pumps_until_it_is_back() -> None:
    with PtyGrblSimulator() as simulator:
        journal, board, alarms = InMemoryJournal(), InMemoryStatusBoard(), Alarms()
        runner = DoseRunner(
            GrblController(simulator.port), PUMPS, journal, SystemClock(), board, alarms=alarms
        )
        assert runner.connect()
        dose_id = runner.start("X", 2.0, 30.0)  # 40 mm at 600 mm/min: 4 s
        deadline = time.monotonic() + 5
        while simulator.positions_mm()["X"] < 1.0:
            assert time.monotonic() < deadline
            runner.tick()
            time.sleep(0.02)
        runner.tick()  # the runner has seen at least 1 mm (0.05 ml) flow
        simulator.power_cycle()
        with pytest.raises(DoserError):
            for _ in range(100):  # the unsolicited banner reaches the adapter
                runner.tick()
                time.sleep(0.02)
        record = journal.records[dose_id]
        assert record.outcome is DoseOutcome.FAILED
        assert record.actual_ml is not None and 0.0499 <= record.actual_ml < 2.0  # last poll
        assert "controller reset unexpectedly" in record.reason
        assert [p.state for p in board.latest().pumps] == [PumpState.FAULT]
        assert alarms.types == ["controllerLinkLost"]
        with pytest.raises(ControllerUnavailable):
            runner.start("X", 0.1, 10.0)

        assert runner.connect()  # the control plane's next reconnect
        assert [p.state for p in board.latest().pumps] == [PumpState.IDLE]
        assert alarms.types == ["controllerLinkLost", "controllerLinkRestored"]
        assert runner.start("X", 0.1, 10.0)
        runner.close()
