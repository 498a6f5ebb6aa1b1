"""The ``doser`` command line: run the daemon, or run a device simulator on its own."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from adapters.sim.pty_host import PtyGrblSimulator
from bootstrap.daemon import run_daemon
from bootstrap.logs import configure_logging
from bootstrap.resources import SIMULATED_GRBL
from bootstrap.settings import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doser",
        description="Edge daemon for stepper peristaltic dosing pumps (Grbl 1.1 / FluidNC).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run the daemon",
        description="Run the daemon: HTTP API on http.host:http.port, the controller on "
        "controller.port. Settings: defaults < TOML file < DOSER_<SECTION>__<KEY> environment.",
    )
    run.add_argument(
        "--config", type=Path, metavar="PATH", help="TOML config file (default: $DOSER_CONFIG)"
    )
    run.add_argument(
        "--simulate",
        action="store_true",
        help="drive the built-in Grbl simulator on a pty instead of controller.port; four "
        "calibrated pumps X Y Z A unless [[pumps]] are configured",
    )
    simulate = commands.add_parser(
        "simulate",
        help="run a device simulator alone",
        description="Run a protocol-faithful device simulator behind a pseudo-terminal.",
    )
    devices = simulate.add_subparsers(dest="device", required=True, metavar="DEVICE")
    grbl = devices.add_parser(
        "grbl",
        help="Grbl 1.1h motion controller (axes X Y Z A)",
        description="Grbl 1.1h simulator on a pty; point a terminal or `doser run` "
        "(controller.port) at the symlink.",
    )
    grbl.add_argument(
        "--link", type=Path, required=True, metavar="PATH", help="symlink to create to the pty"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``doser`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "simulate":
        return _simulate_grbl(args.link)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"doser: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        return run_daemon(settings, simulate=args.simulate)
    except ConfigError as exc:
        print(f"doser: {exc}", file=sys.stderr)
        return 2


def _simulate_grbl(link: Path) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with PtyGrblSimulator(link=link, config=SIMULATED_GRBL) as simulator:
        print(f"doser: Grbl simulator on {simulator.port}, linked at {link}", file=sys.stderr)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
