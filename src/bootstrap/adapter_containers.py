"""The adapter containers: real hardware, the built-in simulator, or in-memory fakes.

All three expose the same provider names; that list is the port list.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.clock import EventSleeper, SystemClock
from adapters.cron import CronsimCalendar
from adapters.fakes import (
    FakeAnnouncer,
    FakeBrokerSession,
    FakeCommandSource,
    FakeMotionController,
    FakeNetworkIdentity,
    FakeTelemetryLink,
    InMemoryJournal,
    InMemoryNvs,
    InMemoryOutbox,
)
from adapters.fakes.recipes import InMemoryRecipeStore
from adapters.fakes.scale import FakeScale
from adapters.fakes.schedules import InMemoryScheduleBook
from adapters.host import ProcessMetrics
from adapters.memory import InMemoryStatusBoard
from adapters.mqtt.commands import MqttCommands
from adapters.mqtt.ha_announcer import HomeAssistantAnnouncer
from adapters.mqtt.session import PahoBrokerSession
from adapters.mqtt.telemetry import MqttTelemetry
from adapters.network import OsNetworkIdentity
from adapters.serial.grbl import GrblController
from bootstrap.lights import open_status_lights
from bootstrap.resources import (
    fake_bench,
    mqtt_names,
    open_journal,
    open_mt_sics,
    open_nvs,
    open_outbox,
    open_recipes,
    open_scale,
    open_schedules,
    run_bench,
    run_grbl_simulator,
    run_scale_simulator,
)


class RealAdapters(containers.DeclarativeContainer):
    """A Grbl/FluidNC controller on the configured serial port; SQLite under data_dir."""

    config = providers.Configuration(strict=True)
    clock = providers.Singleton(SystemClock)
    board = providers.Singleton(InMemoryStatusBoard)
    journal = providers.Resource(open_journal, data_dir=config.data_dir)
    controller = providers.Singleton(
        GrblController, port=config.controller.port, baudrate=config.controller.baudrate
    )
    scale = providers.Resource(open_scale, scale=config.scale)
    leds = providers.Resource(open_status_lights, led=config.led)
    nvs = providers.Resource(open_nvs, data_dir=config.data_dir)
    identity = providers.Singleton(OsNetworkIdentity)
    sleeper = providers.Singleton(EventSleeper)
    mqtt_names = providers.Singleton(
        mqtt_names, mqtt=config.mqtt, device=config.device, identity=identity
    )
    broker = providers.Singleton(
        PahoBrokerSession,
        url=config.mqtt.url,
        client_id=mqtt_names.provided.client_id,
        username=config.mqtt.username,
        password=config.mqtt.password,
        ca_file=config.mqtt.ca_file,
        keepalive_s=config.mqtt.keepalive_s,
        availability_topic=mqtt_names.provided.availability_topic,
        registration_topic=config.mqtt.registration_topic,
        protocol=config.mqtt.protocol,
    )
    outbox = providers.Resource(open_outbox, data_dir=config.data_dir)
    recipe_store = providers.Resource(open_recipes, data_dir=config.data_dir)
    recipe_book = recipe_store.provided.book
    recipe_runs = recipe_store.provided.run_log
    schedule_book = providers.Resource(open_schedules, data_dir=config.data_dir)
    calendar = providers.Singleton(CronsimCalendar)
    # the schedules' wall clock, apart so that tests can move it by hand
    schedule_clock = providers.Singleton(SystemClock)
    host = providers.Singleton(ProcessMetrics)
    telemetry = providers.Singleton(MqttTelemetry, session=broker, base=mqtt_names.provided.base)
    # a driving adapter: the use cases container gives it the handler
    command_source = providers.Factory(MqttCommands, session=broker, base=mqtt_names.provided.base)
    # the use cases container gives it the discovery configs (they need the profile)
    ha_announcer = providers.Factory(
        HomeAssistantAnnouncer, session=broker, discovery_prefix=config.mqtt.discovery_prefix
    )


class SimulatedAdapters(RealAdapters):
    """As real, but the controller is the Grbl simulator and the scale the MT-SICS
    simulator, each on an in-process pty; the bench pours the pumps into the beaker on
    that scale."""

    simulator = providers.Resource(run_grbl_simulator)
    controller = providers.Singleton(
        GrblController,
        port=simulator.provided.port,
        baudrate=RealAdapters.config.controller.baudrate,
    )
    bench = providers.Singleton(run_bench, simulator=simulator)
    scale_simulator = providers.Resource(run_scale_simulator, bench=bench)
    scale = providers.Resource(open_mt_sics, port=scale_simulator.provided.port)


class FakeAdapters(containers.DeclarativeContainer):
    """Everything in memory: fast acceptance and unit runs."""

    config = providers.Configuration(strict=True)
    clock = providers.Singleton(SystemClock)
    board = providers.Singleton(InMemoryStatusBoard)
    journal = providers.Singleton(InMemoryJournal)
    controller = providers.Singleton(FakeMotionController)
    bench = providers.Singleton(fake_bench, controller=controller)
    scale = providers.Singleton(FakeScale, load=bench.provided.load_g)
    leds = providers.Resource(open_status_lights, led=config.led)
    nvs = providers.Singleton(InMemoryNvs)
    identity = providers.Singleton(FakeNetworkIdentity)
    sleeper = providers.Singleton(EventSleeper)
    mqtt_names = providers.Singleton(
        mqtt_names, mqtt=config.mqtt, device=config.device, identity=identity
    )
    broker = providers.Singleton(
        FakeBrokerSession,
        registration_topic=config.mqtt.registration_topic,
        availability_topic=mqtt_names.provided.availability_topic,
    )
    outbox = providers.Singleton(InMemoryOutbox)
    recipe_store = providers.Singleton(InMemoryRecipeStore)
    recipe_book = recipe_store.provided.book
    recipe_runs = recipe_store.provided.run_log
    schedule_book = providers.Singleton(InMemoryScheduleBook)
    calendar = providers.Singleton(CronsimCalendar)
    schedule_clock = providers.Singleton(SystemClock)
    host = providers.Singleton(ProcessMetrics)
    telemetry = providers.Singleton(FakeTelemetryLink)
    command_source = providers.Factory(FakeCommandSource)
    ha_announcer = providers.Factory(FakeAnnouncer)
