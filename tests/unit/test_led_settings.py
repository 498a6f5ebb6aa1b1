"""The [led] section: defaults by driver, one-line errors naming the key, and LEDs that
cannot be opened never stopping the daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.daemon import prepare
from bootstrap.lights import led_layout, open_status_lights
from bootstrap.settings import (
    SIMULATED_PUMPS,
    ConfigError,
    HttpSettings,
    LedSettings,
    load_settings,
)

pytestmark = pytest.mark.usefixtures("clean_env")


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doser.toml"
    path.write_text(text)
    return path


def test_leds_are_off_unless_configured_and_a_chain_defaults_to_four_strips_of_eight() -> None:
    assert load_settings().led.driver == "none"
    led = LedSettings(driver="ws2812-spi")
    assert (led.device, led.count, led.brightness) == ("/dev/spidev0.0", 32, 0.25)


def test_sysfs_leds_are_counted_from_their_names() -> None:
    led = LedSettings(driver="sysfs", device="doser:x, doser:y,doser:z,doser:a")
    assert led.count == 4


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[led]\ndriver = "neopixel"\n', "led.driver"),
        ('[led]\ndriver = "ws2812-spi"\nbrightness = 1.5\n', "led.brightness"),
        ('[led]\ndriver = "ws2812-spi"\nbrightness = 0\n', "led.brightness"),
        ('[led]\ndriver = "ws2812-spi"\ncount = 446\n', "led.count"),
        ('[led]\ndriver = "ws2812-spi"\nmax_current_ma = -1\n', "led.max_current_ma"),
        ('[led]\ndriver = "sysfs"\n', "device"),
        ('[led]\ndriver = "sysfs"\ndevice = "a,b"\ncount = 3\n', "count"),
    ],
)
def test_a_bad_led_section_is_one_clear_error_naming_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(config(tmp_path, text))


def test_a_chain_shorter_than_the_pump_count_stops_start_up(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, '[led]\ndriver = "ws2812-spi"\ncount = 3\n'))
    settings = settings.model_copy(update={"http": HttpSettings(token="t")})
    with pytest.raises(ConfigError, match=r"led\.count: 3 LEDs cannot give each of 4 pumps"):
        prepare(settings, simulate=True)


def test_the_layout_gives_each_pump_a_segment_in_config_order() -> None:
    led = LedSettings(driver="ws2812-spi").model_dump()
    layout = led_layout(led, [p.model_dump() for p in SIMULATED_PUMPS])
    assert layout.pump_ids == ("X", "Y", "Z", "A")
    assert layout.segment("Z") == range(16, 24)


def test_leds_that_cannot_be_opened_leave_the_daemon_running_without_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = LedSettings(driver="ws2812-spi", device=str(tmp_path / "spidev9.9")).model_dump()
    resource = open_status_lights(led)
    assert next(resource) is None
    assert "status LEDs unavailable" in capsys.readouterr().out
    assert not (tmp_path / "spidev9.9").exists()  # never created in /dev's stead


def test_opened_leds_are_darkened_at_shutdown(tmp_path: Path) -> None:
    capture = tmp_path / "spidev0.0"
    capture.touch()
    led = LedSettings(driver="ws2812-spi", device=str(capture), count=4).model_dump()
    resource = open_status_lights(led)
    lights = next(resource)
    assert lights is not None
    with pytest.raises(StopIteration):
        next(resource)
    data = capture.read_bytes()
    assert data.endswith(bytes(90)) and len(data) >= 4 * 9 + 90
