"""WS2812B frames as SPI bytes: the wire protocol of the status LED chain, pure (no I/O).

A WS2812B reads one bit per 1.25 µs period: the line goes high, and a short high time
means 0, a long one 1. Sources and figures:

- WS2812B datasheet (Worldsemi, the widely copied revision): T0H 0.4 µs, T0L 0.85 µs,
  T1H 0.8 µs, T1L 0.45 µs, each ±150 ns; TH + TL = 1.25 µs ± 600 ns; reset (line low)
  above 50 µs; 24 bits per LED in G, R, B order, each channel most significant bit
  first; the first 24 bits go to the first LED, which passes the rest on.
- WS2812B-V5 datasheet (the revision sold since about 2017; Adafruit's "the WS2812B has
  been revised" notice, FastLED issue #446; quoted in Microchip's NeoPixel Stick note):
  reset above 280 µs, and narrower high times, T0H 220-380 ns and T1H 580 ns-1 µs.
- Tim (cpldcpu), "light_ws2812 library v2.0 part I: understanding the WS2812" (2014):
  measured on real chips, a high time below about 563 ns reads as 0 and one of at least
  625 ns as 1; the low times matter little as long as they stay well under the reset.

The technique (common among SPI drivers of the chip, e.g. the "3-bit encoding" of the
MSP430 WS2812 SPI driver): clock SPI at 2.4 MHz, so one SPI bit lasts 416.7 ns, and send
each LED bit as 3 SPI bits, ``100`` for 0 and ``110`` for 1. That gives T0H 417 ns, T0L
833 ns, T1H 833 ns, T1L 417 ns and a 1.25 µs period: every figure within the first
sheet's ±150 ns, and both high times on the right side of the measured 563/625 ns
threshold. Against the V5 figures T0H is 37 ns over the 380 ns maximum, still well under
the measured 563 ns (measured on earlier chips: the figure to check with a scope if a
new batch shows wrong colours). One LED's 24 bits become 72 SPI bits, exactly 9 bytes.

After the data the frame holds the line low for ``RESET_BYTES`` zero bytes (300 µs),
enough for the V5 chips' 280 µs. The gap is at the end rather than the start so that a
frame, once written, latches at once; between frames the line stays low, so the next
frame starts clean too.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.led import Rgb

SPI_HZ = 2_400_000
"""SPI clock (Hz): one SPI bit lasts 416.7 ns, a third of the WS2812B's 1.25 µs bit."""

SPI_BITS_PER_LED_BIT = 3
BYTES_PER_LED = 24 * SPI_BITS_PER_LED_BIT // 8
"""SPI bytes per LED: 24 LED bits x 3 SPI bits = 72 bits = 9 bytes."""

RESET_MIN_US = 280.0
"""Reset (latch) time, line low (µs): the WS2812B-V5 datasheet's minimum."""

RESET_BYTES = 90
"""Zero bytes after the data: 90 x 8 bits / 2.4 MHz = 300 µs ≥ ``RESET_MIN_US``."""

_ZERO_SYMBOL = 0b100
_ONE_SYMBOL = 0b110


def _encode_channel(value: int) -> bytes:
    """One colour channel (0-255), MSB first, as its 3 SPI bytes."""
    bits = 0
    for shift in range(7, -1, -1):
        symbol = _ONE_SYMBOL if value >> shift & 1 else _ZERO_SYMBOL
        bits = bits << SPI_BITS_PER_LED_BIT | symbol
    return bits.to_bytes(SPI_BITS_PER_LED_BIT, "big")


_CHANNEL = tuple(_encode_channel(value) for value in range(256))
_RESET = bytes(RESET_BYTES)


def encode_frame(pixels: Sequence[Rgb]) -> bytes:
    """The SPI bytes that show ``pixels`` (chain order, first LED first) on a WS2812B
    chain clocked at ``SPI_HZ``: 9 bytes per LED (G, R, B), then ``RESET_BYTES`` zero
    bytes. ``frame_bytes(len(pixels))`` long; an empty chain is just the reset gap."""
    data = b"".join(_CHANNEL[p.g] + _CHANNEL[p.r] + _CHANNEL[p.b] for p in pixels)
    return data + _RESET


def frame_bytes(count: int) -> int:
    """The length (bytes) of an encoded frame for ``count`` LEDs; ``ValueError`` when
    ``count`` is negative."""
    if count < 0:
        raise ValueError(f"LED count {count} is negative")
    return count * BYTES_PER_LED + RESET_BYTES


def reset_us(reset_bytes: int = RESET_BYTES) -> float:
    """How long (µs) ``reset_bytes`` zero bytes hold the line low at ``SPI_HZ``."""
    return reset_bytes * 8 / SPI_HZ * 1e6
