"""The sysfs LED class adapter on a fake /sys/class/leds tree: what it writes, in which
order, to which LEDs, for steady, blinking, dark and multicolour cues, and at close."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.led.sysfs_leds import SysfsLights, open_sysfs_lights, write_attribute
from domain.led import AMBER, BLUE, GREEN, OFF, RED, Blink, LedCue, Rgb

FLASH = Blink(250, 250)
Write = tuple[str, str, str]  # (LED, attribute, value)


def make_led(
    root: Path,
    name: str,
    max_brightness: int | None = 255,
    multi_index: str | None = None,
) -> Path:
    """An LED class directory as the kernel shows it, the timer's files made up front
    (the kernel adds them when ``timer`` is selected; plain files cannot)."""
    path = root / name
    path.mkdir(parents=True)
    for attribute, value in [
        ("brightness", "0"),
        ("trigger", "none"),
        ("delay_on", "500"),
        ("delay_off", "500"),
    ]:
        (path / attribute).write_text(value)
    if max_brightness is not None:
        (path / "max_brightness").write_text(f"{max_brightness}\n")
    if multi_index is not None:
        (path / "multi_index").write_text(f"{multi_index}\n")
        (path / "multi_intensity").write_text(" ".join("0" for _ in multi_index.split()))
    return path


class Recorder:
    """An attribute writer that records (LED, attribute, value), then really writes."""

    def __init__(self) -> None:
        self.writes: list[Write] = []
        self.fail_on: str | None = None

    def __call__(self, path: Path, value: str) -> None:
        if self.fail_on == path.name:
            self.fail_on = None
            raise OSError(5, "Input/output error")
        self.writes.append((path.parent.name, path.name, value))
        write_attribute(path, value)

    def take(self) -> list[Write]:
        writes, self.writes = self.writes, []
        return writes


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "leds"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def lights_on(root: Path, recorder: Recorder, *names: str) -> SysfsLights:
    return SysfsLights(names, root, write=recorder)


def show(lights: SysfsLights, *cues: LedCue) -> None:
    lights.show(cues, tuple(cue.color for cue in cues))


def test_a_steady_cue_stops_any_trigger_then_sets_the_brightness(
    root: Path, recorder: Recorder
) -> None:
    make_led(root, "pump-x")
    lights = lights_on(root, recorder, "pump-x")

    show(lights, LedCue(AMBER))

    assert recorder.take() == [("pump-x", "trigger", "none"), ("pump-x", "brightness", "255")]
    assert (root / "pump-x" / "brightness").read_text() == "255"


def test_a_blinking_cue_sets_brightness_before_the_timer_and_delays_after_it(
    root: Path, recorder: Recorder
) -> None:
    make_led(root, "pump-x")
    lights = lights_on(root, recorder, "pump-x")

    show(lights, LedCue(RED, Blink(250, 750)))

    assert recorder.take() == [
        ("pump-x", "trigger", "none"),
        ("pump-x", "brightness", "255"),
        ("pump-x", "trigger", "timer"),
        ("pump-x", "delay_on", "250"),
        ("pump-x", "delay_off", "750"),
    ]


def test_brightness_is_the_largest_channel_scaled_to_max_brightness(
    root: Path, recorder: Recorder
) -> None:
    make_led(root, "pump-x", max_brightness=100)
    lights = lights_on(root, recorder, "pump-x")

    show(lights, LedCue(Rgb(10, 64, 30)))

    assert recorder.take()[-1] == ("pump-x", "brightness", "25")  # round(64 * 100 / 255)


def test_an_on_off_led_lights_for_a_dim_colour(root: Path, recorder: Recorder) -> None:
    make_led(root, "gpio-led", max_brightness=1)
    lights = lights_on(root, recorder, "gpio-led")

    show(lights, LedCue(Rgb(0, 0, 38)))

    assert recorder.take()[-1] == ("gpio-led", "brightness", "1")


def test_an_led_without_max_brightness_is_taken_as_0_to_255(root: Path, recorder: Recorder) -> None:
    make_led(root, "pump-x", max_brightness=None)
    lights = lights_on(root, recorder, "pump-x")

    show(lights, LedCue(Rgb(0, 128, 0)))

    assert recorder.take()[-1] == ("pump-x", "brightness", "128")


@pytest.mark.parametrize("cue", [LedCue(OFF), LedCue(OFF, FLASH), LedCue(RED, Blink(0, 500))])
def test_a_dark_cue_turns_the_led_off(root: Path, recorder: Recorder, cue: LedCue) -> None:
    make_led(root, "pump-x")
    lights = lights_on(root, recorder, "pump-x")

    show(lights, cue)

    assert recorder.take() == [("pump-x", "trigger", "none"), ("pump-x", "brightness", "0")]


def test_a_blink_that_is_never_off_is_steady(root: Path, recorder: Recorder) -> None:
    make_led(root, "pump-x")
    lights = lights_on(root, recorder, "pump-x")

    show(lights, LedCue(GREEN, Blink(500, 0)))

    assert ("pump-x", "trigger", "timer") not in recorder.take()


def test_only_leds_whose_cue_changed_are_written(root: Path, recorder: Recorder) -> None:
    for name in ("pump-x", "pump-y", "pump-z"):
        make_led(root, name)
    lights = lights_on(root, recorder, "pump-x", "pump-y", "pump-z")
    show(lights, LedCue(GREEN), LedCue(GREEN), LedCue(GREEN))
    recorder.take()

    show(lights, LedCue(GREEN), LedCue(BLUE), LedCue(GREEN))

    assert {led for led, _, _ in recorder.take()} == {"pump-y"}


def test_the_same_frame_again_writes_nothing(root: Path, recorder: Recorder) -> None:
    make_led(root, "pump-x")
    lights = lights_on(root, recorder, "pump-x")
    show(lights, LedCue(RED, FLASH))
    recorder.take()

    show(lights, LedCue(RED, FLASH))

    assert recorder.take() == []


def test_an_led_whose_write_failed_is_written_again_next_time(
    root: Path, recorder: Recorder
) -> None:
    make_led(root, "pump-x")
    lights = lights_on(root, recorder, "pump-x")
    recorder.fail_on = "brightness"

    with pytest.raises(OSError):
        show(lights, LedCue(BLUE))
    recorder.take()
    show(lights, LedCue(BLUE))

    assert recorder.take() == [("pump-x", "trigger", "none"), ("pump-x", "brightness", "255")]


def test_a_multicolour_led_gets_intensities_in_multi_index_order_then_full_brightness(
    root: Path, recorder: Recorder
) -> None:
    make_led(root, "rgb:status", max_brightness=255, multi_index="green red blue")
    lights = lights_on(root, recorder, "rgb:status")

    show(lights, LedCue(AMBER, FLASH))

    assert recorder.take() == [
        ("rgb:status", "trigger", "none"),
        ("rgb:status", "multi_intensity", "110 255 0"),
        ("rgb:status", "brightness", "255"),
        ("rgb:status", "trigger", "timer"),
        ("rgb:status", "delay_on", "250"),
        ("rgb:status", "delay_off", "250"),
    ]


def test_multicolour_intensities_scale_to_max_brightness_and_other_colours_stay_off(
    root: Path, recorder: Recorder
) -> None:
    make_led(root, "rgbw:status", max_brightness=100, multi_index="red green blue white")
    lights = lights_on(root, recorder, "rgbw:status")

    show(lights, LedCue(Rgb(255, 51, 1)))

    assert recorder.take()[1:] == [
        ("rgbw:status", "multi_intensity", "100 20 1 0"),
        ("rgbw:status", "brightness", "100"),
    ]


def test_close_turns_every_led_off_once(root: Path, recorder: Recorder) -> None:
    make_led(root, "pump-x")
    make_led(root, "pump-y")
    lights = lights_on(root, recorder, "pump-x", "pump-y")
    show(lights, LedCue(RED, FLASH), LedCue(GREEN))
    recorder.take()

    lights.close()
    lights.close()

    assert recorder.take() == [
        ("pump-x", "trigger", "none"),
        ("pump-x", "brightness", "0"),
        ("pump-y", "trigger", "none"),
        ("pump-y", "brightness", "0"),
    ]


def test_close_tries_every_led_then_reports_the_failure(root: Path, recorder: Recorder) -> None:
    make_led(root, "pump-x")
    make_led(root, "pump-y")
    lights = lights_on(root, recorder, "pump-x", "pump-y")
    recorder.fail_on = "trigger"

    with pytest.raises(OSError):
        lights.close()

    assert recorder.take() == [("pump-y", "trigger", "none"), ("pump-y", "brightness", "0")]


def test_show_after_close_is_an_os_error(root: Path, recorder: Recorder) -> None:
    make_led(root, "pump-x")
    lights = lights_on(root, recorder, "pump-x")
    lights.close()

    with pytest.raises(OSError):
        show(lights, LedCue(GREEN))


def test_a_frame_for_another_number_of_leds_is_refused(root: Path, recorder: Recorder) -> None:
    make_led(root, "pump-x")
    lights = lights_on(root, recorder, "pump-x")

    with pytest.raises(ValueError, match="1 sysfs LEDs"):
        show(lights, LedCue(GREEN), LedCue(GREEN))


def test_the_lights_blink_by_themselves(root: Path) -> None:
    make_led(root, "pump-x")

    assert open_sysfs_lights(["pump-x"], root).blinks_by_itself is True


def test_leds_may_be_given_as_directories(tmp_path: Path, recorder: Recorder) -> None:
    path = make_led(tmp_path / "elsewhere", "pump-x")
    lights = SysfsLights([path], write=recorder)

    show(lights, LedCue(GREEN))

    assert lights.names == ("pump-x",)
    assert (path / "brightness").read_text() == "255"


def test_a_missing_led_is_named(root: Path) -> None:
    root.mkdir()

    with pytest.raises(FileNotFoundError, match="'pump-q'"):
        open_sysfs_lights(["pump-q"], root)


@pytest.mark.parametrize("attribute", ["brightness", "trigger"])
def test_a_directory_without_led_attributes_is_refused(root: Path, attribute: str) -> None:
    (make_led(root, "pump-x") / attribute).unlink()

    with pytest.raises(FileNotFoundError, match=f"'pump-x': no {attribute}"):
        open_sysfs_lights(["pump-x"], root)


def test_a_max_brightness_that_is_not_a_positive_number_is_refused(root: Path) -> None:
    make_led(root, "pump-x", max_brightness=0)

    with pytest.raises(ValueError, match="'pump-x': max_brightness"):
        open_sysfs_lights(["pump-x"], root)


def test_no_leds_at_all_is_refused(root: Path) -> None:
    with pytest.raises(ValueError, match="no sysfs LEDs"):
        open_sysfs_lights([], root)


def test_an_attribute_is_replaced_in_one_write_and_never_created(tmp_path: Path) -> None:
    (tmp_path / "brightness").write_text("255")

    write_attribute(tmp_path / "brightness", "7")

    assert (tmp_path / "brightness").read_text() == "7"
    with pytest.raises(FileNotFoundError):
        write_attribute(tmp_path / "delay_on", "250")
    assert not (tmp_path / "delay_on").exists()
