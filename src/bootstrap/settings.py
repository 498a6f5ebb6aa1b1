"""Configuration: built-in defaults < TOML file < ``DOSER_*`` environment (DESIGN §3).

Validated with pydantic-settings; :func:`load_settings` turns any problem into one
``ConfigError`` line that names the offending key.
"""

from __future__ import annotations

import contextvars
import os
import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from adapters.led.ws2812_spi import MAX_LEDS
from adapters.mqtt.broker_url import check_ca_file, parse_broker_url

_TOML_PATH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("toml", default=None)


class ConfigError(Exception):
    """Invalid configuration; the message is one line naming the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceSettings(_Section):
    id: str = ""
    name: str = "doser"
    location: str = ""


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    token: str = ""


class MqttSettings(_Section):
    """The monitoring broker (DESIGN §3, §5). An empty ``url`` disables MQTT."""

    url: str = "ws://127.0.0.1:9001/mqtt"
    username: str = ""
    password: str = ""
    ca_file: str = ""
    client_id_prefix: str = Field(default="doser", pattern=r"^[A-Za-z0-9_-]{1,16}$")
    base_topic: str = Field(default="doser", min_length=1)
    registration_topic: str = Field(default="doser/device/registration", min_length=1)
    keepalive_s: int = Field(default=30, ge=5, le=65535)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300)
    backoff_initial_s: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    backoff_max_s: float = Field(default=3600.0, gt=0, allow_inf_nan=False)
    backoff_jitter: float = Field(default=0.0, ge=0, le=1)
    discovery_prefix: str = "homeassistant"
    outbox_capacity: int = Field(default=10_000, ge=10, le=10_000_000)
    protocol: Literal["3.1.1", "5"] = "3.1.1"

    @field_validator("url")
    @classmethod
    def _broker_url(cls, url: str) -> str:
        if url:
            parse_broker_url(url)  # ValueError names what is wrong
        return url

    @field_validator("ca_file")
    @classmethod
    def _readable_ca(cls, path: str) -> str:
        check_ca_file(path)  # ValueError names the file and why
        return path

    @field_validator("base_topic", "registration_topic")
    @classmethod
    def _publishable_topic(cls, topic: str) -> str:
        if "+" in topic or "#" in topic or "\x00" in topic:
            raise ValueError("a topic to publish on may not contain +, # or NUL")
        return topic

    @model_validator(mode="after")
    def _backoff_cap(self) -> MqttSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be at least backoff_initial_s")
        return self


class ControllerSettings(_Section):
    """The motion controller: Grbl 1.1 / FluidNC on a serial device path or pyserial URL."""

    driver: Literal["grbl"] = "grbl"
    port: str = "/dev/ttyUSB0"
    baudrate: int = Field(default=115200, gt=0)
    poll_interval_s: float = Field(default=0.05, gt=0, le=1.0)


class PumpSettings(_Section):
    """One pump: ``id`` is its controller axis (X Y Z A); its single-point calibration
    (ml per mm of travel; omitted: the pump doses only once calibrated through the API,
    whose multi-point calibration in NVS wins anyway); safety limits (ml, ml/min; None =
    no such limit); its reservoir (ml; None = not tracked) and the low-level alarm mark."""

    id: str = Field(pattern=r"^[XYZABC]$")
    name: str
    ml_per_mm: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_flow_ml_min: float = Field(default=15.0, gt=0, allow_inf_nan=False)
    max_dose_ml: float = Field(default=500.0, gt=0, allow_inf_nan=False)
    max_ml_per_hour: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_ml_per_day: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    reservoir_ml: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    reservoir_low_ml: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    density_g_ml: float = Field(default=1.0, gt=0, le=25.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _low_mark_inside(self) -> PumpSettings:
        if self.reservoir_low_ml is not None:
            if self.reservoir_ml is None:
                raise ValueError("reservoir_low_ml needs reservoir_ml")
            if self.reservoir_low_ml >= self.reservoir_ml:
                raise ValueError("reservoir_low_ml must be below reservoir_ml")
        return self


class SafetySettings(_Section):
    """Device-wide safety: a daily cap over all pumps (ml per rolling 24 h; None = none);
    the dead man (s) bounding how long a continuous run goes on without the daemon; how
    often a running dose's progress is journaled (s); whether a shutdown (SIGTERM) latches
    the emergency stop: ``if_dosing`` (only when it cut a dose short), ``always``,
    ``never``."""

    max_ml_per_day: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    dead_man_s: float = Field(default=5.0, ge=0.5, le=60.0, allow_inf_nan=False)
    progress_interval_s: float = Field(default=1.0, gt=0, le=60.0, allow_inf_nan=False)
    latch_on_shutdown: Literal["if_dosing", "always", "never"] = "if_dosing"


class ScaleSettings(_Section):
    """The scale for dispensing by weight: ``driver`` ``mt-sics`` (Mettler Toledo MT-SICS
    on a serial ``port``) or ``none``; ``--simulate`` brings the bench's simulated one.
    ``tolerance_g`` (g): the default accepted error of a dispense by weight;
    ``resolution_g`` (g): the scale's readability; ``slow_flow_ml_min`` (ml/min): the
    dribble phase; ``settle_timeout_s`` (s): how long a stable weight may take;
    ``max_target_g`` (g): the largest target accepted (the scale's capacity less the
    beaker)."""

    driver: Literal["none", "mt-sics"] = "none"
    port: str = "/dev/ttyUSB1"
    baudrate: int = Field(default=9600, gt=0)
    tolerance_g: float = Field(default=0.05, gt=0, allow_inf_nan=False)
    resolution_g: float = Field(default=0.01, gt=0, allow_inf_nan=False)
    slow_flow_ml_min: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    settle_timeout_s: float = Field(default=10.0, gt=0, le=120.0, allow_inf_nan=False)
    max_target_g: float = Field(default=150.0, gt=0, allow_inf_nan=False)


class LedSettings(_Section):
    """Status LEDs: ``driver`` ``ws2812-spi`` (a WS2812B chain on the SPI bus ``device``,
    e.g. ``/dev/spidev0.0``), ``sysfs`` (Linux LED class devices: ``device`` lists their
    names under /sys/class/leds, or paths, comma-separated, one LED each) or ``none``.
    ``count``: LEDs on the chain (default: 32, the user's 4 strips x 8, for ws2812-spi; the
    number of names for sysfs); they are shared out in equal segments, one per pump.
    ``brightness`` (0-1] scales every colour; ``max_current_ma`` (mA) caps a frame's
    estimated supply current (20 mA per colour channel at full)."""

    driver: Literal["none", "ws2812-spi", "sysfs"] = "none"
    device: str = "/dev/spidev0.0"
    count: int | None = Field(default=None, ge=1, le=MAX_LEDS)  # one SPI transfer
    brightness: float = Field(default=0.25, gt=0, le=1, allow_inf_nan=False)
    max_current_ma: float = Field(default=1000.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _count_fits_driver(self) -> LedSettings:
        if self.count is None:  # the default depends on the driver
            self.count = len(self.sysfs_names) if self.driver == "sysfs" else 32
        if self.driver == "sysfs":
            names = self.sysfs_names
            if not names or self.device.startswith("/dev/"):
                raise ValueError("device: name the sysfs LEDs, comma-separated")
            if self.count != len(names):
                raise ValueError(f"count: {self.count}, but device names {len(names)} LEDs")
        return self

    @property
    def sysfs_names(self) -> list[str]:
        """The LED class names (or paths) ``device`` lists, for the sysfs driver."""
        return sysfs_led_names(self.device)


def sysfs_led_names(device: str) -> list[str]:
    """The LED class names (or paths) in ``[led] device``: comma-separated, blanks dropped."""
    return [name.strip() for name in device.split(",") if name.strip()]


class ScheduleSettings(_Section):
    """Schedules: the time zone a new schedule gets when it names none (IANA name, e.g.
    ``Europe/Berlin``; empty: the system's own zone, as the device clock shows it)."""

    timezone: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if name:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {name!r}") from None
        return name


class Settings(BaseSettings):
    """The whole configuration tree; key names as in DESIGN §3."""

    model_config = SettingsConfigDict(
        env_prefix="DOSER_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    data_dir: Path = Path("./var")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    device: DeviceSettings = DeviceSettings()
    http: HttpSettings = HttpSettings()
    mqtt: MqttSettings = MqttSettings()
    controller: ControllerSettings = ControllerSettings()
    safety: SafetySettings = SafetySettings()
    schedules: ScheduleSettings = ScheduleSettings()
    scale: ScaleSettings = ScaleSettings()
    led: LedSettings = LedSettings()
    pumps: list[PumpSettings] = []

    @field_validator("pumps")
    @classmethod
    def _unique_pump_ids(cls, pumps: list[PumpSettings]) -> list[PumpSettings]:
        ids = [p.id for p in pumps]
        if len(ids) != len(set(ids)):
            raise ValueError(f"pump ids must be unique, got {ids}")
        return pumps

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _TOML_PATH.get()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


# The user's four pumps (DMDEE, T-12, T-9, L25B) on X Y Z A, used by --simulate when no
# pumps are configured: 0.05 ml per mm of travel, up to 150 ml/min, each with a 1 l
# reservoir that alarms at 100 ml.
SIMULATED_PUMPS = [
    PumpSettings(
        id=axis,
        name=name,
        ml_per_mm=0.05,
        max_flow_ml_min=150.0,
        reservoir_ml=1000.0,
        reservoir_low_ml=100.0,
    )
    for axis, name in (("X", "DMDEE"), ("Y", "T-12"), ("Z", "T-9"), ("A", "L25B"))
]


def load_settings(config_path: Path | None = None) -> Settings:
    """Load and validate settings from ``config_path`` (or ``$DOSER_CONFIG``) and the
    ``DOSER_<SECTION>__<KEY>`` environment variables.

    Raises ``ConfigError`` (one line, naming the key) on a missing or unreadable file,
    bad TOML, an unknown key or an invalid value.
    """
    from_env = os.environ.get("DOSER_CONFIG")
    path = config_path or (Path(from_env) if from_env else None)
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    token = _TOML_PATH.set(path)
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, path)) from None
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"config file {path}: {exc}") from None
    finally:
        _TOML_PATH.reset(token)


def _one_line(exc: ValidationError, path: Path | None) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(root)"
    where = f" in {path}" if path else ""
    given = first.get("input")
    shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid config{where}: {key}: {first['msg']}{shown}{more}"
