"""The WS2812B SPI adapter on a regular file ("SPI to file") and on /dev/null standing in
for a spidev character device: one write per frame, frames that decode in order, the
spidev set-up, the dark frame at close, and the limits it refuses."""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.led import ws2812_spi
from adapters.led.ws2812_encoding import RESET_BYTES, frame_bytes
from adapters.led.ws2812_spi import MAX_LEDS, Ws2812SpiLights, open_ws2812_spi
from domain.led import BLUE, GREEN, OFF, RED, LedCue, Rgb
from support.ws2812_decoder import decode_stream, last_frame

COUNT = 4


def steady(pixels: tuple[Rgb, ...]) -> tuple[LedCue, ...]:
    return tuple(LedCue(pixel) for pixel in pixels)


def show(lights: Ws2812SpiLights, *pixels: Rgb) -> None:
    lights.show(steady(pixels), pixels)


@pytest.fixture
def spi_file(tmp_path: Path) -> Path:
    path = tmp_path / "spidev0.0"
    path.touch()
    return path


@pytest.fixture
def lights(spi_file: Path) -> Iterator[Ws2812SpiLights]:
    lights = open_ws2812_spi(spi_file, COUNT)
    yield lights
    lights.close()


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bytes]]:
    """Every ``os.write`` made from now on, as (fd, data); the writes still happen."""
    calls: list[tuple[int, bytes]] = []
    real_write = os.write

    def recording_write(fd: int, data: bytes) -> int:
        calls.append((fd, bytes(data)))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", recording_write)
    return calls


def test_frames_written_to_a_file_decode_in_order(lights: Ws2812SpiLights, spi_file: Path) -> None:
    show(lights, RED, GREEN, BLUE, OFF)
    show(lights, OFF, RED, GREEN, BLUE)

    assert decode_stream(spi_file.read_bytes()) == [
        (RED, GREEN, BLUE, OFF),
        (OFF, RED, GREEN, BLUE),
    ]


def test_a_file_is_appended_to_not_overwritten(spi_file: Path) -> None:
    spi_file.write_bytes(bytes(RESET_BYTES))
    lights = open_ws2812_spi(spi_file, COUNT)
    show(lights, RED, RED, RED, RED)

    assert spi_file.read_bytes()[:RESET_BYTES] == bytes(RESET_BYTES)
    assert last_frame(spi_file) == (RED,) * COUNT


def test_each_frame_is_one_write_of_the_whole_buffer(
    lights: Ws2812SpiLights, writes: list[tuple[int, bytes]]
) -> None:
    show(lights, RED, GREEN, BLUE, OFF)

    assert [len(data) for _, data in writes] == [frame_bytes(COUNT)]


def test_a_short_write_is_an_os_error(
    lights: Ws2812SpiLights, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "write", lambda fd, data: len(data) - 1)

    with pytest.raises(OSError, match="short write"):
        show(lights, RED, GREEN, BLUE, OFF)


def test_pixels_for_another_chain_length_are_refused_and_nothing_is_sent(
    lights: Ws2812SpiLights, spi_file: Path
) -> None:
    with pytest.raises(ValueError, match="4 LEDs"):
        show(lights, RED, GREEN)

    assert spi_file.read_bytes() == b""


def test_close_leaves_the_chain_dark_and_is_idempotent(spi_file: Path) -> None:
    lights = open_ws2812_spi(spi_file, COUNT)
    show(lights, RED, GREEN, BLUE, RED)

    lights.close()
    lights.close()

    assert decode_stream(spi_file.read_bytes())[1:] == [(OFF,) * COUNT]


def test_show_after_close_is_an_os_error(spi_file: Path) -> None:
    lights = open_ws2812_spi(spi_file, COUNT)
    lights.close()

    with pytest.raises(OSError) as raised:
        show(lights, RED, RED, RED, RED)
    assert raised.value.errno == errno.EBADF


def test_close_before_open_does_nothing(spi_file: Path) -> None:
    Ws2812SpiLights(spi_file, COUNT).close()

    assert spi_file.read_bytes() == b""


def test_opening_twice_is_refused(lights: Ws2812SpiLights) -> None:
    with pytest.raises(ValueError, match="already open"):
        lights.open()


def test_a_chain_too_long_for_one_spidev_transfer_is_refused(spi_file: Path) -> None:
    assert frame_bytes(MAX_LEDS) <= 4096 < frame_bytes(MAX_LEDS + 1)
    Ws2812SpiLights(spi_file, MAX_LEDS)

    with pytest.raises(ValueError, match=f"at most {MAX_LEDS} LEDs"):
        Ws2812SpiLights(spi_file, MAX_LEDS + 1)


def test_an_empty_chain_is_refused(spi_file: Path) -> None:
    with pytest.raises(ValueError, match="at least 1 LED"):
        Ws2812SpiLights(spi_file, 0)


def test_a_missing_device_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "spidev9.9"

    with pytest.raises(FileNotFoundError):
        open_ws2812_spi(missing, COUNT)
    assert not missing.exists()


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither"):
        open_ws2812_spi(tmp_path, COUNT)


def test_ioctl_request_numbers_match_the_kernel_encoding() -> None:
    # _IOW('k', nr, type): dir 1 << 30 | sizeof(type) << 16 | 'k' << 8 | nr
    assert ws2812_spi.SPI_IOC_WR_MODE == 0x40016B01
    assert ws2812_spi.SPI_IOC_WR_BITS_PER_WORD == 0x40016B03
    assert ws2812_spi.SPI_IOC_WR_MAX_SPEED_HZ == 0x40046B04


@pytest.fixture
def ioctls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bytes]]:
    """spidev's ioctls as (request, argument), answered as spidev would."""
    calls: list[tuple[int, bytes]] = []

    def fake_ioctl(fd: int, request: int, arg: bytes) -> bytes:
        calls.append((request, arg))
        return arg

    monkeypatch.setattr(fcntl, "ioctl", fake_ioctl)
    return calls


needs_dev_null = pytest.mark.skipif(
    not Path("/dev/null").is_char_device(), reason="needs /dev/null as a character device"
)


@needs_dev_null
def test_a_character_device_is_set_to_mode_0_8_bits_and_2_4_mhz_then_sent_a_reset(
    ioctls: list[tuple[int, bytes]], writes: list[tuple[int, bytes]]
) -> None:
    lights = open_ws2812_spi("/dev/null", COUNT)
    lights.close()

    assert ioctls == [
        (0x40016B01, b"\x00"),
        (0x40016B03, b"\x08"),
        (0x40046B04, struct.pack("=I", 2_400_000)),
    ]
    assert writes[0][1] == bytes(RESET_BYTES)


@needs_dev_null
def test_a_character_device_that_is_not_spidev_is_refused() -> None:
    with pytest.raises(OSError) as raised:
        open_ws2812_spi("/dev/null", COUNT)
    assert raised.value.errno == errno.ENOTTY


def test_close_from_another_thread_ends_the_stream_with_the_dark_frame(
    spi_file: Path,
) -> None:
    lights = open_ws2812_spi(spi_file, COUNT)
    stopped = threading.Event()

    def render() -> None:
        try:
            while True:
                show(lights, RED, GREEN, BLUE, RED)
        except OSError:
            stopped.set()

    thread = threading.Thread(target=render, daemon=True)
    thread.start()
    lights.close()
    thread.join(timeout=5)

    assert stopped.is_set()
    assert last_frame(spi_file) == (OFF,) * COUNT
