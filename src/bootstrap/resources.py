"""Resources and derived values the adapter containers build: files under data_dir, the
pty simulator, the MQTT names, the pump specs from config."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import tzlocal

from adapters.fakes.motion import FakeMotionController
from adapters.mqtt.ha_discovery import HaDevice, HaPump, discovery_messages
from adapters.scale.mt_sics import MtSicsScale
from adapters.sim.bench import DosingBench
from adapters.sim.grbl import GrblConfig
from adapters.sim.pty_host import PtyGrblSimulator
from adapters.sim.scale_pty import PtyScaleSimulator
from adapters.storage.journal import SqliteDoseJournal
from adapters.storage.nvs import SqliteNvs
from adapters.storage.outbox import SqliteOutbox
from adapters.storage.recipes import SqliteRecipeStore
from adapters.storage.schedules import SqliteScheduleBook
from application.device_profile import DeviceProfiles
from application.ports import NetworkIdentity
from application.pump_presets import Preset
from application.weigh_conductor import WeighSettings
from domain.calibration import Calibration
from domain.dose import PumpLimits
from domain.pump import PumpSpec
from domain.registration import client_id_for
from domain.safety import PumpSafety, ReservoirSpec


def open_journal(data_dir: str) -> Iterator[SqliteDoseJournal]:
    """Resource: the SQLite dose journal at ``<data_dir>/journal.sqlite3``."""
    journal = SqliteDoseJournal(Path(data_dir) / "journal.sqlite3")
    try:
        yield journal
    finally:
        journal.close()


def open_recipes(data_dir: str) -> Iterator[SqliteRecipeStore]:
    """Resource: the recipes and their run log at ``<data_dir>/recipes.sqlite3``."""
    store = SqliteRecipeStore(Path(data_dir) / "recipes.sqlite3")
    try:
        yield store
    finally:
        store.close()


def open_schedules(data_dir: str) -> Iterator[SqliteScheduleBook]:
    """Resource: the schedules and the slots they fired at ``<data_dir>/schedules.sqlite3``."""
    book = SqliteScheduleBook(Path(data_dir) / "schedules.sqlite3")
    try:
        yield book
    finally:
        book.close()


def default_timezone(configured: str) -> str:
    """The zone a schedule gets when it names none: ``schedules.timezone``, else the
    system's own (tzlocal reads /etc/localtime, TZ), else UTC."""
    if configured:
        return configured
    try:
        return str(tzlocal.get_localzone_name() or "UTC")
    except Exception:  # an unreadable or odd /etc/localtime must not stop the daemon
        return "UTC"


def weigh_settings(scale: dict[str, Any], pumps: list[dict[str, Any]]) -> WeighSettings:
    """Defaults of a dispense by weight from ``[scale]`` and each pump's ``density_g_ml``."""
    return WeighSettings(
        tolerance_g=scale["tolerance_g"],
        resolution_g=scale["resolution_g"],
        slow_flow_ml_min=scale["slow_flow_ml_min"],
        settle_timeout_s=scale["settle_timeout_s"],
        max_target_g=scale["max_target_g"],
        densities={p["id"]: p.get("density_g_ml", 1.0) for p in pumps},
    )


def pump_ids(pumps: list[dict[str, Any]]) -> list[str]:
    """The configured pump ids."""
    return [p["id"] for p in pumps]


def open_outbox(data_dir: str) -> Iterator[SqliteOutbox]:
    """Resource: the telemetry outbox at ``<data_dir>/outbox.sqlite3``."""
    outbox = SqliteOutbox(Path(data_dir) / "outbox.sqlite3")
    try:
        yield outbox
    finally:
        outbox.close()


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


def run_bench(simulator: PtyGrblSimulator) -> DosingBench:
    """The ``--simulate`` bench: the simulated pumps pour into a beaker on the simulated
    scale (true delivery near 0.05 ml/mm, a drip delay, liquid in flight)."""
    return DosingBench(simulator.positions_mm, time.monotonic)


def fake_bench(controller: FakeMotionController) -> DosingBench:
    """The bench over the fake controller's positions (the fake wiring)."""
    return DosingBench(lambda: controller.status().positions_mm, controller.monotonic)


def run_scale_simulator(bench: DosingBench) -> Iterator[PtyScaleSimulator]:
    """Resource: the MT-SICS balance simulator on a real pty, weighing ``bench``'s beaker."""
    simulator = PtyScaleSimulator(load=bench.load_g)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def open_scale(scale: dict[str, Any]) -> Iterator[MtSicsScale | None]:
    """Resource: the configured scale (``[scale] driver``), None for ``none``. Opened by
    the control plane, closed here at shutdown."""
    if scale["driver"] == "none":
        yield None
        return
    yield from open_mt_sics(scale["port"], scale["baudrate"])


def open_mt_sics(port: str, baudrate: int = 9600) -> Iterator[MtSicsScale]:
    """Resource: an MT-SICS balance on ``port``, closed at shutdown."""
    adapter = MtSicsScale(port, baudrate)
    try:
        yield adapter
    finally:
        adapter.close()


def open_nvs(data_dir: str) -> Iterator[SqliteNvs]:
    """Resource: the NVS store at ``<data_dir>/nvs.sqlite3``."""
    nvs = SqliteNvs(Path(data_dir) / "nvs.sqlite3")
    try:
        yield nvs
    finally:
        nvs.close()


@dataclass(frozen=True, slots=True)
class MqttNames:
    """Client id ``<prefix>_<last 3 MAC bytes>``, device id (``device.id`` or the client
    id), the topic root ``{b}`` = ``<base_topic>/<device id>`` and the availability topic
    ``{b}/availability`` (DESIGN §5)."""

    client_id: str
    device_id: str
    base: str

    @property
    def availability_topic(self) -> str:
        return f"{self.base}/availability"


def mqtt_names(
    mqtt: dict[str, Any], device: dict[str, Any], identity: NetworkIdentity
) -> MqttNames:
    """Derive the MQTT names from config and the device's MAC."""
    client_id = client_id_for(mqtt["client_id_prefix"], identity.device_mac())
    device_id = device["id"] or client_id
    return MqttNames(client_id, device_id, f"{mqtt['base_topic']}/{device_id}")


def pump_specs(pumps: list[dict[str, Any]]) -> list[PumpSpec]:
    """Domain pump specs from the ``[[pumps]]`` config tables."""
    return [
        PumpSpec(
            pump_id=p["id"],
            name=p["name"],
            calibration=Calibration(p["ml_per_mm"]) if p.get("ml_per_mm") else None,
            limits=PumpLimits(p["max_flow_ml_min"], p["max_dose_ml"]),
        )
        for p in pumps
    ]


def calibration_defaults(pumps: list[dict[str, Any]]) -> dict[str, float | None]:
    """Pump id → its configured single-point calibration (ml/mm), None when not set."""
    return {p["id"]: p.get("ml_per_mm") for p in pumps}


def pump_safety(pumps: list[dict[str, Any]]) -> dict[str, PumpSafety]:
    """Pump id → its safety limits from config (ml, ml/min)."""
    return {
        p["id"]: PumpSafety(
            p["max_dose_ml"],
            p["max_flow_ml_min"],
            p.get("max_ml_per_hour"),
            p.get("max_ml_per_day"),
        )
        for p in pumps
    }


def reservoir_specs(pumps: list[dict[str, Any]]) -> dict[str, ReservoirSpec]:
    """Pump id → its reservoir (ml) for the pumps that have ``reservoir_ml`` set."""
    return {
        p["id"]: ReservoirSpec.of(p["reservoir_ml"], p.get("reservoir_low_ml"))
        for p in pumps
        if p.get("reservoir_ml")
    }


def pump_presets(pumps: list[dict[str, Any]]) -> dict[str, Preset]:
    """One-touch dose presets until the user sets one: 1 ml (or the pump's maximum single
    dose if smaller) at the pump's maximum flow rate."""
    return {p["id"]: Preset(min(1.0, p["max_dose_ml"]), p["max_flow_ml_min"]) for p in pumps}


def pump_dose_limits(pumps: list[dict[str, Any]]) -> dict[str, float]:
    """Pump id → its maximum single dose (ml)."""
    return {p["id"]: p["max_dose_ml"] for p in pumps}


def ha_discovery_configs(
    profiles: DeviceProfiles,
    identity: NetworkIdentity,
    names: MqttNames,
    pumps: list[dict[str, Any]],
    discovery_prefix: str,
) -> Callable[[], list[tuple[str, str]]]:
    """A builder of the Home Assistant discovery configs with the current device name."""

    def build() -> list[tuple[str, str]]:
        device = HaDevice(
            identifier_mac=identity.device_mac(),
            name=profiles.current().name,
            model="doser peristaltic dosing controller",
            sw_version=package_version("doser"),
        )
        ha_pumps = [
            HaPump(p["id"], p["name"], p["max_dose_ml"], p["max_flow_ml_min"]) for p in pumps
        ]
        return discovery_messages(
            device,
            ha_pumps,
            discovery_prefix=discovery_prefix,
            base=names.base,
            availability_topic=names.availability_topic,
        )

    return build
