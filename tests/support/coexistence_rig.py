"""The rig of the coexistence benchmark (issue 8, the user's Test 21): four pumps X, Y, Z, A
on the 4-axis Grbl simulator hosted in the test process (wrapped so it timestamps every feed
hold ``!``), the daemon's config for them with its WS2812B status LEDs writing frames to a
plain file and its MQTT link on a local mosquitto, and the dosing that keeps all four pumps
busy: a one-step recipe dosing the four together, run back to back, with the simulator's
axis travel taken before and after every run as the truth of what flowed.

The daemon runs one coordinated move at a time (DESIGN §6; a second single-pump dispense is
refused with 409 ``pump_busy``), so four pumps dose at once only as one recipe step.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.sim.grbl import GrblConfig, GrblEngine
from adapters.sim.pty_host import PtyHost
from support.bench_daemon import TOKEN, Client, TimestampingEngine
from support.mosquitto import Mosquitto, free_port

PUMPS = ("X", "Y", "Z", "A")
ML_PER_MM = 0.05
LED_COUNT = 32  # the user's 4 strips x 8 LEDs
ENDED = frozenset({"completed", "aborted", "failed", "interrupted"})


@dataclass(frozen=True)
class CoexistenceRig:
    """The simulator (``engine`` timestamps ``!``; ``positions_mm`` reads the axes under
    the pty host's lock), the daemon's config file, HTTP port, token and LED device file."""

    engine: TimestampingEngine
    host: PtyHost[TimestampingEngine]
    grbl: GrblEngine
    config: Path
    port: int
    led_device: Path
    token: str = TOKEN

    def positions_mm(self) -> dict[str, float]:
        """Machine position (mm) of each axis now."""
        return self.host.with_engine(lambda _: self.grbl.positions_mm())


@contextmanager
def coexistence_rig(tmp_path: Path, broker: Mosquitto) -> Iterator[CoexistenceRig]:
    """The 4-axis simulator (fast axes: 60 ml/min is 1200 mm/min per axis) on a pty, and a
    config for pumps X, Y, Z, A (0.05 ml/mm, up to 150 ml/min), 32 WS2812B LEDs at 25 %
    brightness written to ``tmp_path/leds.spi``, MQTT over WebSockets to ``broker`` with a
    fast reconnect; the pty closes on exit."""
    grbl = GrblEngine(GrblConfig(max_rate_mm_min=6000.0, acceleration_mm_s2=2000.0))
    engine, port = TimestampingEngine(grbl), free_port()
    led_device = tmp_path / "leds.spi"
    led_device.touch()
    pumps = "".join(
        f'[[pumps]]\nid = "{p}"\nname = "pump {p}"\nml_per_mm = {ML_PER_MM}\n'
        "max_flow_ml_min = 150\n"
        for p in PUMPS
    )
    with PtyHost(engine) as host:
        config = tmp_path / "doser.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "var"}"\nlog_level = "warning"\n'
            f'[http]\nport = {port}\ntoken = "{TOKEN}"\n'
            f'[mqtt]\nurl = "{broker.ws_url}"\nbackoff_initial_s = 0.1\nbackoff_max_s = 0.5\n'
            f'[controller]\nport = "{host.port}"\n'
            f'[led]\ndriver = "ws2812-spi"\ndevice = "{led_device}"\ncount = {LED_COUNT}\n'
            f"brightness = 0.25\n{pumps}"
        )
        yield CoexistenceRig(engine, host, grbl, config, port, led_device)


@dataclass
class RunTruth:
    """One recipe run: its id, the simulator's truth of what each pump poured (ml, axis
    travel x 0.05 ml/mm) and whether the bench e-stopped it."""

    run_id: str
    poured_ml: dict[str, float]
    estopped: bool


@dataclass
class PhaseDosing:
    """What the dosing saw in one phase: its runs, how each ended, the e-stop latencies
    (s, POST /api/emergency-stop sent → ``!`` at the pty) and the round trips (s) of the
    bench's own run polls (GET /api/recipe-runs/{id})."""

    runs: list[RunTruth] = field(default_factory=list)
    endings: dict[str, str] = field(default_factory=dict)  # run id -> final state
    estop_s: list[float] = field(default_factory=list)
    poll_s: list[float] = field(default_factory=list)


class Dosing:
    """Keeps the four pumps dosing ``recipe_id`` back to back, and e-stops runs."""

    def __init__(self, rig: CoexistenceRig, http: Client, recipe_id: str) -> None:
        self._rig, self._http, self._recipe_id = rig, http, recipe_id
        self._jitter = random.Random(21)  # the stop lands at any phase of the 20 Hz polling

    def dose_for(self, seconds: float, phase: PhaseDosing) -> None:
        """Start run after run for ``seconds`` (s); the last one is followed to its end."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._run(phase, estop_after_s=None)

    def estop_runs(self, count: int, phase: PhaseDosing) -> None:
        """``count`` runs, each e-stopped 0.1-1 s after it started moving, then reset."""
        for _ in range(count):
            self._run(phase, estop_after_s=self._jitter.uniform(0.1, 1.0))

    def _run(self, phase: PhaseDosing, estop_after_s: float | None) -> None:
        before, run_id = self._rig.positions_mm(), self._execute()  # 202: the step moves
        if estop_after_s is not None:
            time.sleep(estop_after_s)
            phase.estop_s.append(self._estop())
        while (state := self._poll(run_id, phase)) not in ENDED:
            time.sleep(0.1)
        phase.endings[run_id] = state
        if estop_after_s is not None:
            self._reset()
        after = self._rig.positions_mm()
        poured = {p: (after[p] - before[p]) * ML_PER_MM for p in PUMPS}
        phase.runs.append(RunTruth(run_id, poured, estop_after_s is not None))

    def _call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        try:
            return self._http.call(method, path, body, self._rig.token)
        except (ConnectionError, OSError):  # the server closed an idle keep-alive: once more
            return self._http.call(method, path, body, self._rig.token)

    def _execute(self) -> str:
        status, body = self._call("POST", f"/api/recipe/{self._recipe_id}/execute")
        assert status == 202, body
        return str(body["runId"])

    def _poll(self, run_id: str, phase: PhaseDosing) -> str:
        t0 = time.monotonic()
        status, body = self._call("GET", f"/api/recipe-runs/{run_id}")
        phase.poll_s.append(time.monotonic() - t0)
        assert status == 200, body
        return str(body["state"])

    def _estop(self) -> float:
        t0 = time.monotonic()
        status, body = self._call("POST", "/api/emergency-stop")
        assert status == 200, body
        hold = self._rig.engine.wait_hold_after(t0)
        assert hold is not None, "the e-stop put no feed hold '!' on the serial line"
        return hold - t0

    def _reset(self) -> None:
        """Release the latch and wait until every pump is idle again."""
        status, body = self._call("POST", "/api/emergency-stop/reset")
        assert status == 200, body
        deadline = time.monotonic() + 5.0
        while any(p["state"] != "idle" for p in self._call("GET", "/api/pumps")[1]):
            assert time.monotonic() < deadline, "pumps not idle 5 s after the e-stop reset"
            time.sleep(0.01)
