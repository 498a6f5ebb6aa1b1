"""Composition root: which adapters back the ports (real, simulated, fake) and the use cases.

The three adapter containers expose the same provider names; that list is the port list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.fakes import FakeMotionController, InMemoryJournal
from adapters.http.app import create_http_app
from adapters.memory import InMemoryStatusBoard
from adapters.serial.grbl import GrblController
from adapters.sim.grbl import GrblConfig
from adapters.sim.pty_host import PtyGrblSimulator
from adapters.storage.journal import SqliteDoseJournal
from application.control_plane import ControlPlane
from application.dispense_volume import DispenseVolume
from application.dose_runner import DoseRunner
from application.list_history import ListHistory
from application.report_status import ReportStatus
from application.stop_pump import StopPump
from domain.calibration import Calibration
from domain.dose import PumpLimits
from domain.pump import PumpSpec

Wiring = Literal["real", "simulated", "fake"]


def open_journal(data_dir: str) -> Iterator[SqliteDoseJournal]:
    """Resource: the SQLite dose journal at ``<data_dir>/journal.sqlite3``."""
    journal = SqliteDoseJournal(Path(data_dir) / "journal.sqlite3")
    try:
        yield journal
    finally:
        journal.close()


# The simulated controller runs the simulated pumps (0.05 ml/mm, up to 150 ml/min) at full
# flow: 150 ml/min needs 3000 mm/min, above stock Grbl's 1000 mm/min max rate.
SIMULATED_GRBL = GrblConfig(max_rate_mm_min=3000.0)


def run_grbl_simulator() -> Iterator[PtyGrblSimulator]:
    """Resource: the Grbl simulator behind a real pty, for ``--simulate``."""
    simulator = PtyGrblSimulator(config=SIMULATED_GRBL)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def pump_specs(pumps: list[dict[str, Any]]) -> list[PumpSpec]:
    """Domain pump specs from the ``[[pumps]]`` config tables."""
    return [
        PumpSpec(
            pump_id=p["id"],
            name=p["name"],
            calibration=Calibration(p["ml_per_mm"]),
            limits=PumpLimits(p["max_flow_ml_min"], p["max_dose_ml"]),
        )
        for p in pumps
    ]


class RealAdapters(containers.DeclarativeContainer):
    """A Grbl/FluidNC controller on the configured serial port; SQLite under data_dir."""

    config = providers.Configuration(strict=True)
    clock = providers.Singleton(SystemClock)
    board = providers.Singleton(InMemoryStatusBoard)
    journal = providers.Resource(open_journal, data_dir=config.data_dir)
    controller = providers.Singleton(
        GrblController, port=config.controller.port, baudrate=config.controller.baudrate
    )


class SimulatedAdapters(RealAdapters):
    """As real, but the controller is the Grbl simulator on an in-process pty."""

    simulator = providers.Resource(run_grbl_simulator)
    controller = providers.Singleton(
        GrblController,
        port=simulator.provided.port,
        baudrate=RealAdapters.config.controller.baudrate,
    )


class FakeAdapters(containers.DeclarativeContainer):
    """Everything in memory: fast acceptance and unit runs."""

    config = providers.Configuration(strict=True)
    clock = providers.Singleton(SystemClock)
    board = providers.Singleton(InMemoryStatusBoard)
    journal = providers.Singleton(InMemoryJournal)
    controller = providers.Singleton(FakeMotionController)


class UseCases(containers.DeclarativeContainer):
    """The use cases and the control plane, on whichever adapters are given."""

    config = providers.Configuration(strict=True)
    adapters = providers.DependenciesContainer()

    runner = providers.Singleton(
        DoseRunner,
        controller=adapters.controller,
        pumps=providers.Callable(pump_specs, config.pumps),
        journal=adapters.journal,
        clock=adapters.clock,
        board=adapters.board,
        poll_interval_s=config.controller.poll_interval_s,
    )
    control_plane = providers.Singleton(
        ControlPlane,
        runner=runner,
        clock=adapters.clock,
        poll_interval_s=config.controller.poll_interval_s,
    )
    dispense = providers.Factory(DispenseVolume, control=control_plane)
    stop_pump = providers.Factory(StopPump, control=control_plane)
    report_status = providers.Singleton(ReportStatus, board=adapters.board, clock=adapters.clock)
    list_history = providers.Factory(ListHistory, journal=adapters.journal)
    http_app = providers.Singleton(
        create_http_app,
        dispense=dispense,
        stop=stop_pump,
        status=report_status,
        history=list_history,
        token=config.http.token,
    )


_ADAPTERS: dict[Wiring, type[containers.DeclarativeContainer]] = {
    "real": RealAdapters,
    "simulated": SimulatedAdapters,
    "fake": FakeAdapters,
}


def bootstrap(settings: dict[str, Any], *, wiring: Wiring = "real") -> UseCases:
    """Wire the use cases on the chosen adapters. ``settings`` is ``Settings.model_dump()``.

    Nothing is opened here; ``init_resources()`` opens, ``shutdown_resources()`` closes.
    """
    adapters = _ADAPTERS[wiring](config=settings)
    app = UseCases(adapters=adapters, config=settings)
    app.check_dependencies()
    return app
