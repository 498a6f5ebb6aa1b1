"""The daemon: start order, threads and signals (DESIGN §2).

Start order: settings → token → resources (journal, simulator) → control-plane thread
(owns the serial port and connects to the controller) → HTTP server. SIGTERM/SIGINT make
uvicorn finish, then the control plane feed-holds any running dose, flushes and closes the
port, and the process exits 0.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import structlog
import uvicorn

from adapters.storage.token_file import load_or_create_token
from bootstrap.containers import Wiring, bootstrap
from bootstrap.settings import SIMULATED_PUMPS, ConfigError, Settings

log = structlog.get_logger("doser.daemon")


def prepare(settings: Settings, *, simulate: bool) -> Settings:
    """Fill what start-up derives: the simulated pumps and the HTTP token.

    Raises ``ConfigError`` when no pumps are configured outside ``--simulate``.
    """
    if not settings.pumps:
        if not simulate:
            raise ConfigError("invalid config: pumps: at least one [[pumps]] table is required")
        settings = settings.model_copy(update={"pumps": SIMULATED_PUMPS})
    if not settings.http.token:
        token_path = settings.data_dir / "http_token"
        token, created = load_or_create_token(token_path)
        if created:
            # Printed once, on the first start, so the user can copy it; kept 0600 on disk.
            print(
                f"doser: generated HTTP API token (kept in {token_path}): {token}", file=sys.stderr
            )
        http = settings.http.model_copy(update={"token": token})
        settings = settings.model_copy(update={"http": http})
    return settings


def run_daemon(settings: Settings, *, simulate: bool) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (0 on a clean stop)."""
    settings = prepare(settings, simulate=simulate)
    wiring: Wiring = "simulated" if simulate else "real"
    app = bootstrap(settings.model_dump(mode="json"), wiring=wiring)
    stop = threading.Event()
    server = uvicorn.Server(
        uvicorn.Config(
            app.http_app(),
            host=settings.http.host,
            port=settings.http.port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # uvicorn installs its own handlers while serving and re-raises the signal to this
        # one when it returns; here it only has to make everything wind down.
        log.info("signal", signal=signal.Signals(signum).name)
        stop.set()
        server.should_exit = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app.init_resources()
    plane = threading.Thread(
        target=app.control_plane().run, args=(stop,), name="control-plane", daemon=True
    )
    try:
        plane.start()
        log.info(
            "started",
            http=f"http://{settings.http.host}:{settings.http.port}",
            controller="simulator" if simulate else settings.controller.port,
            pumps=[p.id for p in settings.pumps],
        )
        if not stop.is_set():
            server.run()
    finally:
        stop.set()
        plane.join(timeout=30)
        app.shutdown_resources()
        log.info("stopped")
    return 0
