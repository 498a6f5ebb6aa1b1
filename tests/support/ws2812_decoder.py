"""Reads back what a WS2812B chain would see in an SPI byte stream (the "SPI to file"
wiring): frames of colours, strictly, so a wrong byte anywhere is an error.

Written from the protocol, not from ``adapters.led.ws2812_encoding`` (which it must not
import), so a mistake in either shows up against the other. The protocol: at 2.4 MHz
every LED bit is 3 SPI bits, ``100`` for 0 and ``110`` for 1; 24 LED bits per LED in
G, R, B order, most significant bit first; a frame latches when the line then stays low
long enough (the WS2812B-V5 needs 280 µs, 84 zero bytes at 2.4 MHz).
"""

from __future__ import annotations

import re
from pathlib import Path

from domain.led import Rgb

SPI_BITS_PER_LED = 72
_SYMBOLS = {0b100: 0, 0b110: 1}


def decode_stream(data: bytes, min_reset_bytes: int = 84) -> list[tuple[Rgb, ...]]:
    """The frames in ``data``, oldest first: each run of LED data that a reset (at least
    ``min_reset_bytes`` zero bytes) follows. Zero bytes before the first frame are idle
    line; data after the last reset has not latched and is left out.

    Raises ``ValueError`` naming the bit offset in ``data`` of the first symbol that is
    neither ``100`` nor ``110``, and when a frame's length is not a whole number of LEDs
    (72 bits each).
    """
    frames: list[tuple[Rgb, ...]] = []
    start = 0
    for reset in re.finditer(rb"\x00{%d,}" % min_reset_bytes, data):
        if reset.start() > start:
            frames.append(decode_frame(data[start : reset.start()], first_bit=start * 8))
        start = reset.end()
    return frames


def decode_frame(data: bytes, first_bit: int = 0) -> tuple[Rgb, ...]:
    """The colours one frame's bytes (no reset gap) carry, first LED first. Offsets in
    errors count from ``first_bit``. Raises ``ValueError`` as ``decode_stream`` does."""
    total = len(data) * 8
    if total % SPI_BITS_PER_LED:
        raise ValueError(
            f"frame at bit {first_bit}: {total} SPI bits is not a multiple of "
            f"{SPI_BITS_PER_LED} (one LED)"
        )
    stream = int.from_bytes(data, "big")
    led_bits: list[int] = []
    for offset in range(0, total, 3):
        symbol = stream >> (total - offset - 3) & 0b111
        if symbol not in _SYMBOLS:
            raise ValueError(f"bad symbol {symbol:03b} at bit {first_bit + offset}")
        led_bits.append(_SYMBOLS[symbol])
    return tuple(_led(led_bits[i : i + 24]) for i in range(0, len(led_bits), 24))


def last_frame(path: Path) -> tuple[Rgb, ...]:
    """The newest complete frame in the file at ``path``; ``LookupError`` when it holds
    none, ``ValueError`` as ``decode_stream`` raises."""
    frames = decode_stream(path.read_bytes())
    if not frames:
        raise LookupError(f"no complete WS2812B frame in {path}")
    return frames[-1]


def _led(bits: list[int]) -> Rgb:
    green, red, blue = (_byte(bits[i : i + 8]) for i in (0, 8, 16))
    return Rgb(red, green, blue)


def _byte(bits: list[int]) -> int:
    value = 0
    for bit in bits:
        value = value << 1 | bit
    return value
