"""The fake status lights: what they record, and the failures they can stage."""

from __future__ import annotations

import errno
import threading

import pytest

from adapters.fakes.leds import FakeLights
from domain.led import GREEN, OFF, RED, Blink, LedCue

FLASH = Blink(250, 250)


def test_every_show_is_recorded_in_order() -> None:
    lights = FakeLights()

    lights.show((LedCue(RED, FLASH),), (RED,))
    lights.show((LedCue(RED, FLASH),), (OFF,))

    assert lights.frames == [((LedCue(RED, FLASH),), (RED,)), ((LedCue(RED, FLASH),), (OFF,))]
    assert lights.shows == 2
    assert lights.last_pixels == (OFF,)
    assert lights.last_frame == (LedCue(RED, FLASH),)


def test_frames_is_a_copy() -> None:
    lights = FakeLights()
    lights.show((LedCue(GREEN),), (GREEN,))

    lights.frames.clear()

    assert lights.shows == 1


def test_nothing_shown_yet_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        _ = FakeLights().last_pixels


def test_blinking_by_itself_is_configurable() -> None:
    assert FakeLights().blinks_by_itself is False
    assert FakeLights(blinks_by_itself=True).blinks_by_itself is True


def test_a_staged_failure_fails_the_next_show_only() -> None:
    lights = FakeLights()
    lights.fail_next(OSError(errno.EIO, "SPI gone"))

    with pytest.raises(OSError, match="SPI gone"):
        lights.show((LedCue(GREEN),), (GREEN,))
    lights.show((LedCue(GREEN),), (GREEN,))

    assert lights.shows == 1


def test_a_frame_and_pixels_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        FakeLights().show((LedCue(GREEN),), (GREEN, GREEN))


def test_closed_lights_refuse_to_show() -> None:
    lights = FakeLights()

    lights.close()
    lights.close()

    assert lights.closed
    assert lights.closes == 2
    with pytest.raises(OSError):
        lights.show((LedCue(GREEN),), (GREEN,))


def test_a_test_can_wait_for_the_render_thread_to_show() -> None:
    lights = FakeLights()
    thread = threading.Thread(target=lambda: lights.show((LedCue(GREEN),), (GREEN,)))

    thread.start()

    assert lights.wait_for_shows(1, timeout_s=5)
    assert not lights.wait_for_shows(2, timeout_s=0.01)
    thread.join()
