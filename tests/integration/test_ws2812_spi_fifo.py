"""The WS2812B SPI adapter writing into a real FIFO read by another thread: every frame
decodes, in order, and arrives whole, as one write the reader never sees split."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from adapters.led.ws2812_encoding import frame_bytes
from adapters.led.ws2812_spi import open_ws2812_spi
from domain.led import OFF, LedCue, Rgb
from support.ws2812_decoder import decode_stream

pytestmark = pytest.mark.slow

COUNT = 32  # the bench: 4 strips x 8 LEDs
FRAMES = 20


def frame_number(n: int) -> tuple[Rgb, ...]:
    """A frame every LED of which says which frame and which LED it is."""
    return tuple(Rgb(n, index, 255 - n) for index in range(COUNT))


class FifoReader:
    """Reads a FIFO until its writer closes it, keeping each read's bytes apart."""

    def __init__(self, path: Path) -> None:
        # Opened non-blocking first so the writer's open finds a reader and returns.
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(self._fd, True)
        self.chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the FIFO writer never closed"

    def _run(self) -> None:
        try:
            while chunk := os.read(self._fd, 1 << 16):
                self.chunks.append(chunk)
        finally:
            os.close(self._fd)


def test_frames_through_a_fifo_decode_in_order_and_arrive_whole(tmp_path: Path) -> None:
    fifo = tmp_path / "spidev0.0"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    lights = open_ws2812_spi(fifo, COUNT)
    reader.start()

    for n in range(FRAMES):
        pixels = frame_number(n)
        lights.show(tuple(LedCue(pixel) for pixel in pixels), pixels)
    lights.close()
    reader.join()

    expected = [frame_number(n) for n in range(FRAMES)] + [(OFF,) * COUNT]
    assert decode_stream(b"".join(reader.chunks)) == expected
    for chunk in reader.chunks:
        assert len(chunk) % frame_bytes(COUNT) == 0
        assert len(decode_stream(chunk)) == len(chunk) // frame_bytes(COUNT)
