"""The WS2812B status LED chain on a Linux spidev device: each frame in one SPI write.

The SPI controller clocks the bytes out (by DMA where it has it), so the 1.25 µs bit
timing does not depend on the CPU; this module only opens the device, configures it and
hands over whole frames (``ws2812_encoding``). Linux sources:

- ``include/uapi/linux/spi/spidev.h``: ``SPI_IOC_MAGIC 'k'``;
  ``SPI_IOC_WR_MODE _IOW(SPI_IOC_MAGIC, 1, __u8)``,
  ``SPI_IOC_WR_BITS_PER_WORD _IOW(SPI_IOC_MAGIC, 3, __u8)``,
  ``SPI_IOC_WR_MAX_SPEED_HZ _IOW(SPI_IOC_MAGIC, 4, __u32)``; ``SPI_MODE_0`` is 0.
- ``include/uapi/asm-generic/ioctl.h``: ``_IOW(type, nr, size)`` is
  ``1 << 30 | sizeof(size) << 16 | type << 8 | nr`` (``_IOC_WRITE`` 1, 14 size bits), the
  encoding of arm, arm64, x86 and riscv; alpha, mips, powerpc and sparc encode ioctls
  differently and are not supported here.
- ``drivers/spi/spidev.c``: ``write()`` sends the buffer as one ``spi_sync`` transfer,
  chip select held throughout, and refuses more than the module parameter ``bufsiz``
  (default 4096 bytes, "data bytes in biggest supported SPI message") with ``EMSGSIZE``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
import threading
from pathlib import Path

from adapters.led.ws2812_encoding import (
    BYTES_PER_LED,
    RESET_BYTES,
    SPI_HZ,
    encode_frame,
    frame_bytes,
)
from domain.led import OFF, LedFrame, Rgb

_IOC_WRITE = 1
_SPI_IOC_MAGIC = ord("k")


def _iow(type_: int, nr: int, size: int) -> int:
    """``_IOW(type, nr, size)`` of ``asm-generic/ioctl.h`` (``size`` in bytes)."""
    return _IOC_WRITE << 30 | size << 16 | type_ << 8 | nr


SPI_IOC_WR_MODE = _iow(_SPI_IOC_MAGIC, 1, 1)  # 0x40016B01
SPI_IOC_WR_BITS_PER_WORD = _iow(_SPI_IOC_MAGIC, 3, 1)  # 0x40016B03
SPI_IOC_WR_MAX_SPEED_HZ = _iow(_SPI_IOC_MAGIC, 4, 4)  # 0x40046B04

SPI_MODE_0 = 0
"""CPOL 0, CPHA 0, spidev's default. The LEDs never see the clock, so any mode would do;
what matters is MOSI between transfers, which is up to the controller: most drive it
low, and one that holds the last bit still leaves it low, after each frame's reset gap."""

SPI_BITS_PER_WORD = 8
SPIDEV_BUFSIZ = 4096
"""spidev's default ``bufsiz`` (bytes): the largest write it sends as one transfer."""

MAX_LEDS = (SPIDEV_BUFSIZ - RESET_BYTES) // BYTES_PER_LED
"""The longest chain whose frame fits one spidev transfer (445 LEDs)."""


class Ws2812SpiLights:
    """``StatusLights`` on a WS2812B chain of ``count`` LEDs fed by the SPI device at
    ``path`` (e.g. ``/dev/spidev0.0``; MOSI to the chain's DIN, through a 5 V level
    shifter). The device cannot blink by itself: the renderer sends every blink phase.

    ``path`` may also be a FIFO or an existing regular file (tests and the simulator:
    "SPI to file"), which get the same bytes and no ioctl; a regular file is appended
    to, so it holds the whole stream of frames.

    Raises ``ValueError`` at construction when ``count`` is below 1 or its frame
    (``frame_bytes(count)``) is larger than spidev's 4096-byte transfer (over
    ``MAX_LEDS`` LEDs). Only the render thread calls ``show``; ``close`` may come from
    another thread, so both hold a lock.
    """

    blinks_by_itself: bool = False

    def __init__(self, path: str | Path, count: int) -> None:
        if count < 1:
            raise ValueError(f"a WS2812B chain needs at least 1 LED, not {count}")
        size = frame_bytes(count)
        if size > SPIDEV_BUFSIZ:
            raise ValueError(
                f"{count} WS2812B LEDs need {size}-byte frames, more than spidev sends in "
                f"one {SPIDEV_BUFSIZ}-byte transfer: at most {MAX_LEDS} LEDs"
            )
        self.path = Path(path)
        self.count = count
        self._fd: int | None = None
        self._closed = False
        self._lock = threading.Lock()

    def open(self) -> None:
        """Open the device for writing. A character device (spidev) is set to SPI mode 0,
        8 bits per word and ``SPI_HZ``, then sent one reset gap, so the first frame
        starts from a line held low whatever MOSI did before. Opening a FIFO waits for
        its reader.

        Raises ``FileNotFoundError`` when ``path`` does not exist (it is never created:
        a missing ``/dev/spidevB.C`` means SPI is not enabled, and a regular file made
        in its place would hide that), ``OSError`` when it cannot be opened or is a
        character device that refuses the spidev ioctls (``ENOTTY``), and
        ``ValueError`` when it is already open, was closed, or is another kind of file.
        """
        with self._lock:
            if self._fd is not None or self._closed:
                raise ValueError(f"{self.path} is already open or was closed")
            try:
                mode = os.stat(self.path).st_mode
            except FileNotFoundError:
                raise FileNotFoundError(
                    errno.ENOENT,
                    "no such SPI device (is SPI enabled? a file or FIFO must exist first)",
                    str(self.path),
                ) from None
            flags = os.O_WRONLY | os.O_CLOEXEC
            if stat.S_ISREG(mode):
                flags |= os.O_APPEND
            elif not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
                raise ValueError(f"{self.path} is neither an SPI device, a FIFO nor a regular file")
            fd = os.open(self.path, flags)
            try:
                if stat.S_ISCHR(mode):
                    _configure_spidev(fd)
                    _write_whole(fd, bytes(RESET_BYTES), self.path)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd

    def show(self, frame: LedFrame, pixels: tuple[Rgb, ...]) -> None:
        """Send ``pixels`` (``count`` colours, chain order) in one write; ``frame`` is not
        needed (no device blinking). Raises ``ValueError`` when either has not ``count``
        entries, ``OSError`` when the device is not open or the write fails or is short.
        """
        if len(pixels) != self.count or len(frame) != self.count:
            raise ValueError(
                f"the chain has {self.count} LEDs, got a frame of {len(frame)} cues "
                f"and {len(pixels)} pixels"
            )
        data = encode_frame(pixels)
        with self._lock:
            if self._fd is None:
                raise OSError(errno.EBADF, f"{self.path} is not open")
            _write_whole(self._fd, data, self.path)

    def close(self) -> None:
        """Send an all-off frame, then close the device; idempotent (before ``open`` it
        only marks the lights closed). The device is released even when the off frame
        cannot be written; that ``OSError`` is raised afterwards, so the caller can
        report LEDs left lit."""
        with self._lock:
            fd, self._fd = self._fd, None
            self._closed = True
            if fd is None:
                return
            try:
                _write_whole(fd, encode_frame((OFF,) * self.count), self.path)
            finally:
                os.close(fd)


def open_ws2812_spi(path: str | Path, count: int) -> Ws2812SpiLights:
    """A ``Ws2812SpiLights`` for ``count`` LEDs on ``path``, opened; raises as its
    constructor and ``open`` do."""
    lights = Ws2812SpiLights(path, count)
    lights.open()
    return lights


def _configure_spidev(fd: int) -> None:
    """Mode 0, 8-bit words (sent MSB first, spidev's default) and the 2.4 MHz clock."""
    fcntl.ioctl(fd, SPI_IOC_WR_MODE, struct.pack("=B", SPI_MODE_0))
    fcntl.ioctl(fd, SPI_IOC_WR_BITS_PER_WORD, struct.pack("=B", SPI_BITS_PER_WORD))
    fcntl.ioctl(fd, SPI_IOC_WR_MAX_SPEED_HZ, struct.pack("=I", SPI_HZ))


def _write_whole(fd: int, data: bytes, path: Path) -> None:
    """One ``write()`` of all of ``data``: on spidev one transfer, so the bits go out
    back to back; a short write would cut a frame, so it raises ``OSError``."""
    written = os.write(fd, data)
    if written != len(data):
        raise OSError(errno.EIO, f"short write to {path}: {written} of {len(data)} bytes")
