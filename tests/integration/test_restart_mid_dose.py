"""A daemon that restarts while the controller is still moving (it crashed mid-dose): its
soft reset on open stops the motor (Grbl: ALARM:3), and it unlocks so the pumps can dose."""

from __future__ import annotations

import time

import pytest

from adapters.clock import SystemClock
from adapters.fakes import InMemoryJournal
from adapters.memory import InMemoryStatusBoard
from adapters.serial.grbl import GrblController
from adapters.sim.pty_host import PtyGrblSimulator
from application.dose_runner import DoseRunner
from domain.calibration import Calibration
from domain.dose import PumpLimits
from domain.motion import ControllerState
from domain.pump import PumpSpec, PumpState

pytestmark = pytest.mark.slow
PUMPS = [PumpSpec("X", "DMDEE", Calibration(0.05), PumpLimits(15.0, 100.0))]


def test_a_restarted_daemon_stops_the_orphaned_move_and_recovers_the_pumps() -> None:
    with PtyGrblSimulator() as simulator:
        crashed = GrblController(simulator.port)
        crashed.open()
        crashed.start_move({"X": 100.0}, 600.0)
        deadline = time.monotonic() + 5
        while simulator.positions_mm()["X"] < 0.5:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        crashed.close()  # the old process is gone; the controller keeps moving

        board = InMemoryStatusBoard()
        runner = DoseRunner(
            GrblController(simulator.port), PUMPS, InMemoryJournal(), SystemClock(), board
        )
        assert runner.connect()
        runner.tick()
        stopped_at = simulator.positions_mm()["X"]
        assert stopped_at < 100.0
        [pump] = board.latest().pumps
        assert pump.state is PumpState.IDLE
        assert board.latest().controller.state == ControllerState.IDLE.value
        time.sleep(0.2)  # an axis still moving would show it by now
        assert simulator.positions_mm()["X"] == stopped_at
        assert runner.start("X", 0.1, 10.0)
        runner.close()
