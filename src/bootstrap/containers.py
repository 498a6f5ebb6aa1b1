"""Composition root: the use cases and the control plane on whichever adapters are given,
and :func:`bootstrap`, which picks the adapters (real, simulated, fake)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Literal

from dependency_injector import containers, providers

from adapters.http.app import create_http_app
from adapters.http.calibration_routes import CalibrationEndpoints
from adapters.http.diagnostics_routes import DiagnosticsEndpoints
from adapters.http.pump_routes import PumpEndpoints
from adapters.http.recipe_routes import RecipeEndpoints
from adapters.http.scale_calibration_routes import ScaleCalibrationEndpoints
from adapters.http.scale_routes import ScaleEndpoints
from adapters.http.schedule_routes import ScheduleEndpoints
from adapters.http.ws_routes import LiveFeed
from adapters.storage.recipe_examples import load_examples
from application.calibrate_pump import (
    AddCalibrationPoint,
    DeleteCalibration,
    ReadCalibration,
    RecordCalibrationRun,
    ReplaceCalibration,
    RunCalibration,
)
from application.calibration_book import CalibrationBook
from application.command_worker import CommandWorker
from application.connection_supervisor import ConnectionSupervisor
from application.control_plane import ControlPlane
from application.device_config import ReadDeviceConfig, UpdateDeviceConfig
from application.device_profile import DeviceProfiles
from application.dispense_volume import DispenseVolume
from application.dispense_weight import CalibrateFromScale, DispenseWeight, OperateScale
from application.dose_runner import DoseRunner
from application.emergency_latch import EmergencyLatch
from application.emergency_stop import EmergencyStop, ResetEmergencyStop
from application.execute_recipe import ExecuteRecipe
from application.handle_command import HandleCommand
from application.inflight_book import InflightBook
from application.lateness_meter import LatenessMeter, TimingDiagnostics
from application.list_history import ListHistory
from application.manage_schedules import ScheduleAdmin
from application.publish_status import PublishStatus
from application.pump_presets import PumpPresets
from application.recipe_conductor import RecipeConductor
from application.recipe_library import RecipeLibrary
from application.record_telemetry import RecordTelemetry
from application.refill_reservoir import RefillReservoir
from application.register_device import RegisterDevice
from application.report_status import ReportStatus
from application.reservoirs import Reservoirs
from application.run_pump import RunPump
from application.safety_gate import SafetyGate
from application.scale_calibrator import ScaleCalibrator
from application.scale_session import ScaleSession
from application.schedule_executor import ScheduleExecutor
from application.steer_recipe_run import SteerRecipeRun
from application.stop_pump import StopPump
from application.telemetry_drainer import TelemetryDrainer
from application.weigh_conductor import WeighConductor
from bootstrap.adapter_containers import FakeAdapters, RealAdapters, SimulatedAdapters
from bootstrap.lights import led_layout, status_lights_loop
from bootstrap.resources import (
    calibration_defaults,
    default_timezone,
    ha_discovery_configs,
    pump_dose_limits,
    pump_ids,
    pump_presets,
    pump_safety,
    pump_specs,
    reservoir_specs,
    weigh_settings,
)
from domain.mqtt_link import BackoffPolicy, LinkView, MqttLink
from domain.registration import DeviceProfile
from domain.scale import ScaleView
from domain.telemetry import DrainPolicy, OutboxPolicy
from domain.telemetry_status import StatusCadence

Wiring = Literal["real", "simulated", "fake"]


def _dropped_counter(record: RecordTelemetry | None) -> Callable[[], int]:
    return record.dropped_count if record is not None else (lambda: 0)


def _scale_view_of(weigher: WeighConductor) -> Callable[[], ScaleView]:
    return lambda: weigher.view


def _led_meter(driver: str, meter: LatenessMeter) -> LatenessMeter | None:
    return None if driver == "none" else meter


def _link_view_of(supervisor: ConnectionSupervisor | None) -> Callable[[], LinkView] | None:
    return supervisor.view if supervisor is not None else None


class UseCases(containers.DeclarativeContainer):
    """The use cases and the control plane, on whichever adapters are given."""

    config = providers.Configuration(strict=True)
    adapters = providers.DependenciesContainer()

    outbox_policy = providers.Factory(OutboxPolicy, capacity=config.mqtt.outbox_capacity)
    drainer = providers.Singleton(
        TelemetryDrainer,
        outbox=adapters.outbox,
        link=adapters.telemetry,
        board=adapters.board,
        policy=providers.Factory(DrainPolicy),
    )
    # None when MQTT is disabled: nothing is queued that could never be sent.
    record_telemetry = providers.Selector(
        config.mqtt.mode,
        on=providers.Singleton(
            RecordTelemetry,
            outbox=adapters.outbox,
            policy=outbox_policy,
            clock=adapters.clock,
            notify=drainer.provided.wake,
        ),
        off=providers.Object(None),
    )
    latch = providers.Singleton(EmergencyLatch, nvs=adapters.nvs, clock=adapters.clock)
    calibrations = providers.Singleton(
        CalibrationBook,
        nvs=adapters.nvs,
        clock=adapters.clock,
        defaults=providers.Callable(calibration_defaults, config.pumps),
    )
    reservoirs = providers.Singleton(
        Reservoirs, nvs=adapters.nvs, specs=providers.Callable(reservoir_specs, config.pumps)
    )
    safety_gate = providers.Singleton(
        SafetyGate,
        journal=adapters.journal,
        clock=adapters.clock,
        reservoirs=reservoirs,
        limits=providers.Callable(pump_safety, config.pumps),
        global_max_ml_per_day=config.safety.max_ml_per_day,
    )
    runner = providers.Singleton(
        DoseRunner,
        controller=adapters.controller,
        pumps=providers.Callable(pump_specs, config.pumps),
        journal=adapters.journal,
        clock=adapters.clock,
        board=adapters.board,
        poll_interval_s=config.controller.poll_interval_s,
        events=record_telemetry,
        latch=latch,
        calibrations=calibrations,
        gate=safety_gate,
        reservoirs=reservoirs,
        alarms=record_telemetry,
        dead_man_s=config.safety.dead_man_s,
        progress_interval_s=config.safety.progress_interval_s,
    )
    conductor = providers.Singleton(
        RecipeConductor,
        runner=runner,
        runs=adapters.recipe_runs,
        journal=adapters.journal,
        clock=adapters.clock,
        events=record_telemetry,
        alarms=record_telemetry,
    )
    scale_session = providers.Singleton(ScaleSession, scale=adapters.scale, clock=adapters.clock)
    weighing_defaults = providers.Callable(weigh_settings, config.scale, config.pumps)
    weigher = providers.Singleton(
        WeighConductor,
        runner=runner,
        session=scale_session,
        clock=adapters.clock,
        inflight=providers.Singleton(InflightBook, nvs=adapters.nvs),
        settings=weighing_defaults,
        events=record_telemetry,
        alarms=record_telemetry,
    )
    calibrator = providers.Singleton(
        ScaleCalibrator,
        runner=runner,
        session=scale_session,
        book=calibrations,
        clock=adapters.clock,
        densities=weighing_defaults.provided.densities,
        resolution_g=config.scale.resolution_g,
        settle_timeout_s=config.scale.settle_timeout_s,
        alarms=record_telemetry,
    )
    control_timing = providers.Singleton(LatenessMeter)
    control_plane = providers.Singleton(
        ControlPlane,
        runner=runner,
        clock=adapters.clock,
        conductor=conductor,
        weigher=weigher,
        calibrator=calibrator,
        poll_interval_s=config.controller.poll_interval_s,
        timing=control_timing,
    )
    dispense_weight = providers.Factory(DispenseWeight, control=control_plane, weigher=weigher)
    operate_scale = providers.Factory(OperateScale, control=control_plane, weigher=weigher)
    calibrate_from_scale = providers.Factory(
        CalibrateFromScale, control=control_plane, calibrator=calibrator
    )
    recipes = providers.Singleton(
        RecipeLibrary,
        book=adapters.recipe_book,
        pump_ids=providers.Callable(pump_ids, config.pumps),
        examples=providers.Callable(load_examples),
    )
    execute_recipe = providers.Factory(
        ExecuteRecipe, book=adapters.recipe_book, control=control_plane
    )
    steer_recipe_run = providers.Factory(
        SteerRecipeRun, control=control_plane, conductor=conductor, runs=adapters.recipe_runs
    )
    dispense = providers.Factory(DispenseVolume, control=control_plane)
    schedule_admin = providers.Singleton(
        ScheduleAdmin,
        book=adapters.schedule_book,
        calendar=adapters.calendar,
        clock=adapters.schedule_clock,
        pump_ids=providers.Callable(pump_ids, config.pumps),
        recipe_exists=recipes.provided.exists,
        default_timezone=providers.Callable(default_timezone, config.schedules.timezone),
    )
    schedule_executor = providers.Singleton(
        ScheduleExecutor,
        book=adapters.schedule_book,
        calendar=adapters.calendar,
        clock=adapters.schedule_clock,
        latch=latch,
        dispense=dispense.provided.execute,
        run_recipe=execute_recipe.provided.execute,
        alarms=record_telemetry,
    )
    emergency_stop = providers.Factory(
        EmergencyStop,
        controller=adapters.controller,
        latch=latch,
        control=control_plane,
        alarms=record_telemetry,
    )
    reset_emergency_stop = providers.Factory(
        ResetEmergencyStop, latch=latch, control=control_plane, alarms=record_telemetry
    )
    stop_pump = providers.Factory(StopPump, control=control_plane)
    run_pump = providers.Factory(RunPump, control=control_plane)
    read_calibration = providers.Factory(ReadCalibration, book=calibrations)
    replace_calibration = providers.Factory(ReplaceCalibration, book=calibrations)
    add_calibration_point = providers.Factory(AddCalibrationPoint, book=calibrations)
    delete_calibration = providers.Factory(DeleteCalibration, book=calibrations)
    run_calibration = providers.Factory(RunCalibration, book=calibrations, control=control_plane)
    record_calibration = providers.Factory(
        RecordCalibrationRun, book=calibrations, journal=adapters.journal
    )
    refill_reservoir = providers.Factory(
        RefillReservoir, reservoirs=reservoirs, control=control_plane
    )
    list_history = providers.Factory(ListHistory, journal=adapters.journal)

    profiles = providers.Singleton(
        DeviceProfiles,
        nvs=adapters.nvs,
        defaults=providers.Factory(
            DeviceProfile.create, config.device.name, config.device.location
        ),
    )
    register_device = providers.Factory(
        RegisterDevice, session=adapters.broker, profiles=profiles, identity=adapters.identity
    )
    mqtt_link = providers.Singleton(
        MqttLink,
        policy=providers.Factory(
            BackoffPolicy,
            initial_s=config.mqtt.backoff_initial_s,
            max_s=config.mqtt.backoff_max_s,
            jitter=config.mqtt.backoff_jitter,
        ),
        random_unit=providers.Object(random.random),
    )
    # None when mqtt.url is empty: MQTT disabled, nothing connects.
    ha_announcer = providers.Singleton(
        adapters.ha_announcer,
        messages=providers.Callable(
            ha_discovery_configs,
            profiles=profiles,
            identity=adapters.identity,
            names=adapters.mqtt_names,
            pumps=config.pumps,
            discovery_prefix=config.mqtt.discovery_prefix,
        ),
    )
    supervisor = providers.Selector(
        config.mqtt.mode,
        on=providers.Singleton(
            ConnectionSupervisor,
            session=adapters.broker,
            link=mqtt_link,
            register=register_device,
            sleeper=adapters.sleeper,
            connect_timeout_s=config.mqtt.connect_timeout_s,
            on_connected=ha_announcer.provided.announce,
        ),
        off=providers.Object(None),
    )
    read_config = providers.Factory(
        ReadDeviceConfig,
        device_id=adapters.mqtt_names.provided.device_id,
        profiles=profiles,
        supervisor=supervisor,
    )
    update_config = providers.Factory(UpdateDeviceConfig, profiles=profiles, supervisor=supervisor)
    report_status = providers.Singleton(
        ReportStatus,
        board=adapters.board,
        clock=adapters.clock,
        mqtt_link=providers.Callable(_link_view_of, supervisor),
        gate=safety_gate,
        global_max_ml_per_day=config.safety.max_ml_per_day,
        scale=providers.Callable(_scale_view_of, weigher),
        outbox=adapters.outbox,
    )
    led_timing = providers.Singleton(LatenessMeter)
    # None when [led] driver is "none": no render thread.
    status_lights = providers.Singleton(
        status_lights_loop,
        lights=adapters.leds,
        board=adapters.board,
        clock=adapters.clock,
        layout=providers.Callable(led_layout, config.led, config.pumps).provider,
        link=providers.Callable(_link_view_of, supervisor),
        timing=led_timing,
    )
    timing = providers.Singleton(
        TimingDiagnostics,
        control_tick=control_timing,
        led_frame=providers.Callable(_led_meter, config.led.driver, led_timing),
    )
    presets = providers.Singleton(
        PumpPresets,
        nvs=adapters.nvs,
        defaults=providers.Callable(pump_presets, config.pumps),
        max_dose_ml=providers.Callable(pump_dose_limits, config.pumps),
    )
    publish_status = providers.Singleton(
        PublishStatus,
        link=adapters.telemetry,
        board=adapters.board,
        outbox=adapters.outbox,
        journal=adapters.journal,
        host=adapters.host,
        clock=adapters.clock,
        sleeper=adapters.sleeper,
        cadence=providers.Factory(StatusCadence),
        outbox_policy=outbox_policy,
        dropped=providers.Callable(_dropped_counter, record_telemetry),
        presets=presets,
        scale=providers.Callable(_scale_view_of, weigher),
    )
    handle_command = providers.Singleton(
        HandleCommand,
        dispense=dispense,
        stop=stop_pump,
        link=adapters.telemetry,
        presets=presets,
        emergency_stop=emergency_stop,
        reset_emergency_stop=reset_emergency_stop,
        execute_recipe=execute_recipe,
        dispense_weight=dispense_weight,
    )
    command_worker = providers.Singleton(
        CommandWorker, handle=handle_command, hold_now=emergency_stop.provided.hold_now
    )
    command_source = providers.Singleton(
        adapters.command_source, handler=command_worker.provided.submit
    )
    http_app = providers.Singleton(
        create_http_app,
        dispense=dispense,
        stop=stop_pump,
        status=report_status,
        history=list_history,
        read_config=read_config,
        update_config=update_config,
        emergency_stop=emergency_stop,
        reset_emergency_stop=reset_emergency_stop,
        pumps=providers.Factory(PumpEndpoints, run=run_pump, refill=refill_reservoir),
        calibration=providers.Factory(
            CalibrationEndpoints,
            read=read_calibration,
            replace=replace_calibration,
            add_point=add_calibration_point,
            delete=delete_calibration,
            run=run_calibration,
            record=record_calibration,
        ),
        schedules=providers.Factory(
            ScheduleEndpoints, admin=schedule_admin, executor=schedule_executor
        ),
        recipes=providers.Factory(
            RecipeEndpoints, library=recipes, execute=execute_recipe, steer=steer_recipe_run
        ),
        scale=providers.Factory(ScaleEndpoints, dispense=dispense_weight, scale=operate_scale),
        scale_calibration=providers.Factory(
            ScaleCalibrationEndpoints, calibrate=calibrate_from_scale
        ),
        diagnostics=providers.Factory(DiagnosticsEndpoints, timing=timing),
        live=providers.Factory(
            LiveFeed,
            status=report_status,
            emergency_stop=emergency_stop,
            reset_emergency_stop=reset_emergency_stop,
            dispense=dispense,
            stop=stop_pump,
            token=config.http.token,
        ),
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
    mqtt = dict(settings["mqtt"], mode="on" if settings["mqtt"]["url"] else "off")
    settings = dict(settings, mqtt=mqtt)
    adapters = _ADAPTERS[wiring](config=settings)
    app = UseCases(adapters=adapters, config=settings)
    app.check_dependencies()
    return app
