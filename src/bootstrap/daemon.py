"""The daemon: start order, threads and signals (DESIGN §2).

Start order (the user's): settings → token → resources (NVS, journal, simulator, LEDs) →
control-plane thread (owns the serial port, connects to the controller) → the status LED
render thread (20 Hz, from the control plane's snapshots) → the scheduler
thread, which decides schedule slots only once the controller is connected and the doses a
crash left are settled (slots missed until then follow their missed-run policy) → HTTP
server listening → only then the MQTT supervisor thread. SIGTERM/SIGINT take the emergency stop's
path: the feed hold is written to the serial line from the signal handler itself, then,
once uvicorn finished, every running dose is brought to rest and journaled as stopped and
the latch is engaged per ``safety.latch_on_shutdown``; the supervisor publishes
``offline`` and disconnects; the control plane closes the port; the process exits 0.
"""

from __future__ import annotations

import gc
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType

import structlog
import uvicorn

from adapters.storage.token_file import load_or_create_token
from bootstrap.containers import UseCases, Wiring, bootstrap
from bootstrap.settings import SIMULATED_PUMPS, ConfigError, Settings

log = structlog.get_logger("doser.daemon")


def prepare(settings: Settings, *, simulate: bool) -> Settings:
    """Fill what start-up derives: the simulated pumps and the HTTP token.

    Raises ``ConfigError`` when no pumps are configured outside ``--simulate``, or when the
    LED chain is too short to give each pump a segment.
    """
    if not settings.pumps:
        if not simulate:
            raise ConfigError("invalid config: pumps: at least one [[pumps]] table is required")
        settings = settings.model_copy(update={"pumps": SIMULATED_PUMPS})
    led_count = settings.led.count or 0
    if settings.led.driver != "none" and led_count < len(settings.pumps):
        raise ConfigError(
            f"invalid config: led.count: {led_count} LEDs cannot give each of"
            f" {len(settings.pumps)} pumps a segment"
        )
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
    daemon = Daemon(bootstrap(settings.model_dump(mode="json"), wiring=wiring), settings, wiring)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # uvicorn installs its own handlers while serving (see _ListeningServer.handle_exit)
        # and re-raises the signal to this one when it returns.
        log.info("signal", signal=signal.Signals(signum).name)
        daemon.on_exit_signal(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon.run()
    return 0


class Daemon:
    """The running daemon on a wired container: threads in the user's start order.

    ``run`` blocks until ``request_stop`` (from a signal handler or another thread).
    """

    def __init__(self, app: UseCases, settings: Settings, wiring: Wiring = "real") -> None:
        self.app = app
        self._settings = settings
        self._wiring = wiring
        self._stop = threading.Event()
        self._exit_signal: str | None = None
        self._network = _network_plane(app)
        self.server = _ListeningServer(
            uvicorn.Config(
                app.http_app(),
                host=settings.http.host,
                port=settings.http.port,
                log_config=None,
                access_log=False,
                lifespan="off",
                ws_max_size=64 * 1024,  # a /ws command is tens of bytes; refuse huge frames
            ),
            on_listening=self._start_network_plane,
            on_exit_signal=self.on_exit_signal,
        )

    def on_exit_signal(self, signum: int) -> None:
        """SIGTERM/SIGINT: the feed hold goes out now, from the signal handler (a real-time
        byte, no queue); the rest of the stop runs when ``run`` winds down."""
        if self._exit_signal is None:
            self._exit_signal = signal.Signals(signum).name
            self.app.emergency_stop().hold_now()
        # Only the HTTP server stops here: the control plane must stay up until ``run``
        # has brought the doses to rest through the emergency stop's path.
        self.server.should_exit = True

    def request_stop(self) -> None:
        """Make ``run`` wind down and return; callable from any thread."""
        self._stop.set()
        self.server.should_exit = True

    def run(self) -> None:
        """Open resources, start the control plane, serve HTTP (then MQTT) until stopped."""
        settings = self._settings
        self.app.init_resources()
        plane = threading.Thread(
            target=self.app.control_plane().run,
            args=(self._stop,),
            name="control-plane",
            daemon=True,
        )
        scheduler = threading.Thread(target=self._schedules, name="scheduler", daemon=True)
        lights = self.app.status_lights()
        leds = (
            threading.Thread(
                target=lights.run, args=(self._stop,), name="status-leds", daemon=True
            )
            if lights is not None
            else None
        )
        _tune_runtime()
        try:
            plane.start()
            if leds is not None:
                leds.start()
            scheduler.start()
            log.info(
                "started",
                http=f"http://{settings.http.host}:{settings.http.port}",
                controller=settings.controller.port if self._wiring == "real" else self._wiring,
                mqtt=settings.mqtt.url or "disabled",
                pumps=[p.id for p in settings.pumps],
            )
            if not self._stop.is_set():
                self.server.run()
        finally:
            if self._exit_signal is not None and plane.is_alive():
                # before the network plane stops, so the alarm and EMERGENCY state can go
                self.app.emergency_stop().shutdown(
                    self._exit_signal, settings.safety.latch_on_shutdown
                )
            self._stop.set()
            self._stop_network_plane()  # the shared sleeper's stop also ends the scheduler
            scheduler.join(timeout=10)
            plane.join(timeout=30)
            if leds is not None and leds.is_alive():
                leds.join(timeout=5)
            self.app.shutdown_resources()
            gc.unfreeze()  # the start-up objects are collectable again (tests run many daemons)
            log.info("stopped")

    def _schedules(self) -> None:
        """The scheduler thread: wait for a connected, settled controller, then decide
        schedule slots every second until shutdown."""
        sleeper, runner = self.app.adapters.sleeper(), self.app.runner()
        while not (runner.connected and runner.settled):
            if sleeper.wait(0.5):
                return
        self.app.schedule_executor().run(sleeper)

    def _start_network_plane(self) -> None:
        """After HTTP listens: the MQTT supervisor, the telemetry drainer, the status
        publisher and the command worker (the user's start order)."""
        if self._network:
            # subscribed on every connect from now on
            self.app.command_source().start()
            self.app.ha_announcer().start()
        for thread in self._network:
            thread.start()

    def _stop_network_plane(self) -> None:
        self.app.adapters.sleeper().stop()  # supervisor (publishes offline), status
        if self._network:
            self.app.drainer().stop()
            self.app.command_worker().stop()
        for thread in self._network:
            if thread.is_alive():
                thread.join(timeout=self._settings.mqtt.connect_timeout_s + 5)


SWITCH_INTERVAL_S = 0.001
"""How long a thread may hold the GIL while another waits for it (CPython's default is
5 ms). A control-plane or LED thread whose timer fired waits at most about this long for a
busy network-plane thread to let go."""


def _tune_runtime() -> None:
    """Keep the interpreter from stalling the timing-critical threads (DESIGN §2), once
    everything start-up builds exists and before the threads start.

    - ``gc.freeze()``: the start-up objects (modules, classes, the wired container, tens of
      thousands) move to the permanent generation, so a full collection no longer walks
      them. Measured in the coexistence benchmark: full collections under load took
      30-45 ms before (an LED frame 32 ms late), under 5 ms after.
    - the GIL switch interval drops to ``SWITCH_INTERVAL_S``.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def _network_plane(app: UseCases) -> list[threading.Thread]:
    """The MQTT threads, none when MQTT is disabled (``mqtt.url`` empty)."""
    supervisor = app.supervisor()
    if supervisor is None:
        return []
    runs = {
        "mqtt-supervisor": supervisor.run,
        "telemetry-drainer": app.drainer().run,
        "status-publisher": app.publish_status().run,
        "mqtt-commands": app.command_worker().run,
    }
    return [threading.Thread(target=run, name=name, daemon=True) for name, run in runs.items()]


class _ListeningServer(uvicorn.Server):
    """uvicorn's server that calls ``on_listening`` once its sockets accept connections
        (lifespan startup runs before the bind, so it cannot serve this purpose), and hands the
    exit signals it catches to ``on_exit_signal`` at once."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_listening: Callable[[], None],
        on_exit_signal: Callable[[int], None],
    ) -> None:
        super().__init__(config)
        self._on_listening = on_listening
        self._on_exit_signal = on_exit_signal

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit_signal(sig)
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_listening()

