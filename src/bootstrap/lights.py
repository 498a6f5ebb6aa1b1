"""Wiring of the status LEDs: the configured device, the layout, the render loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import structlog

from adapters.led.sysfs_leds import open_sysfs_lights
from adapters.led.ws2812_spi import open_ws2812_spi
from application.lateness_meter import LatenessMeter
from application.ports import Clock, StatusBoard, StatusLights
from application.show_status_lights import ShowStatusLights
from bootstrap.settings import sysfs_led_names
from domain.led import LedLayout
from domain.mqtt_link import LinkView

log = structlog.get_logger("doser.leds")


def open_status_lights(led: dict[str, Any]) -> Iterator[StatusLights | None]:
    """Resource: the LEDs of ``[led]`` (None for driver ``none``), darkened and released
    at shutdown.

    LEDs that cannot be opened (no such device, SPI not enabled, not a spidev or LED class
    device) are logged as an error and the daemon runs without them: status lights are
    never a reason to stop dosing.
    """
    driver = led["driver"]
    lights: StatusLights
    if driver == "none":
        yield None
        return
    try:
        if driver == "ws2812-spi":
            lights = open_ws2812_spi(led["device"], led["count"])
        else:
            lights = open_sysfs_lights(sysfs_led_names(led["device"]))
    except (OSError, ValueError) as exc:
        log.error("status LEDs unavailable; running without them", driver=driver,
                  device=led["device"], error=str(exc))
        yield None
        return
    try:
        yield lights
    finally:
        lights.close()


def led_layout(led: dict[str, Any], pumps: list[dict[str, Any]]) -> LedLayout:
    """The chain of ``[led]`` cut into one segment per configured pump, in config order.
    Raises ``ValueError`` when the chain has fewer LEDs than there are pumps."""
    return LedLayout(
        count=led["count"],
        pump_ids=tuple(pump["id"] for pump in pumps),
        brightness=led["brightness"],
        max_current_ma=led["max_current_ma"],
    )


def status_lights_loop(
    lights: StatusLights | None,
    *,
    board: StatusBoard,
    clock: Clock,
    layout: Callable[[], LedLayout],
    link: Callable[[], LinkView] | None,
    timing: LatenessMeter,
) -> ShowStatusLights | None:
    """The render loop on ``lights``; None when no LEDs are configured."""
    if lights is None:
        return None
    return ShowStatusLights(lights, board, clock, layout(), link=link, timing=timing)
