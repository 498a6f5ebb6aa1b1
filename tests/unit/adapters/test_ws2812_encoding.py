"""WS2812B frames as SPI bytes: exact patterns worked out by hand, the bit timing at
2.4 MHz against the datasheet, the reset gap, and a round trip through the test decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.led.ws2812_encoding import (
    BYTES_PER_LED,
    RESET_BYTES,
    SPI_HZ,
    encode_frame,
    frame_bytes,
    reset_us,
)
from domain.led import Rgb
from support.ws2812_decoder import decode_stream

RESET = bytes(RESET_BYTES)
# By hand: each LED bit is 3 SPI bits, 0 -> 100, 1 -> 110, MSB first.
ZERO_CHANNEL = bytes([0x92, 0x49, 0x24])  # 100 100 100 100 100 100 100 100
FULL_CHANNEL = bytes([0xDB, 0x6D, 0xB6])  # 110 110 110 110 110 110 110 110
TOP_BIT_CHANNEL = bytes([0xD2, 0x49, 0x24])  # 0x80: 110 100 100 100 100 100 100 100
LOW_BIT_CHANNEL = bytes([0x92, 0x49, 0x26])  # 0x01: 100 100 100 100 100 100 100 110

colors = st.builds(Rgb, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))


def test_a_red_led_goes_out_green_first_then_red_then_blue() -> None:
    assert encode_frame([Rgb(255, 0, 0)]) == ZERO_CHANNEL + FULL_CHANNEL + ZERO_CHANNEL + RESET


def test_each_channel_is_sent_most_significant_bit_first() -> None:
    frame = encode_frame([Rgb(0, 0x80, 0x01)])

    assert frame == TOP_BIT_CHANNEL + ZERO_CHANNEL + LOW_BIT_CHANNEL + RESET


def test_leds_follow_each_other_in_chain_order() -> None:
    frame = encode_frame([Rgb(0, 0, 255), Rgb(0, 255, 0)])

    blue = ZERO_CHANNEL + ZERO_CHANNEL + FULL_CHANNEL
    green = FULL_CHANNEL + ZERO_CHANNEL + ZERO_CHANNEL
    assert frame == blue + green + RESET


def test_an_led_takes_nine_bytes_and_the_frame_ends_with_the_reset_gap() -> None:
    pixels = [Rgb(1, 2, 3)] * 32

    assert BYTES_PER_LED == 9
    assert len(encode_frame(pixels)) == frame_bytes(32) == 32 * 9 + RESET_BYTES


def test_an_empty_chain_is_only_the_reset_gap() -> None:
    assert encode_frame([]) == RESET


def test_the_reset_gap_holds_the_line_low_for_at_least_280_us() -> None:
    trailing_zeros = len(encode_frame([Rgb(255, 255, 255)])) - BYTES_PER_LED

    assert trailing_zeros * 8 / SPI_HZ >= 280e-6
    assert reset_us() == pytest.approx(300.0)


def test_high_times_and_bit_period_meet_the_datasheet_at_2_4_mhz() -> None:
    spi_bit_ns = 1e9 / SPI_HZ

    assert abs(1 * spi_bit_ns - 400) <= 150  # T0H: "100"
    assert abs(2 * spi_bit_ns - 850) <= 150  # T0L
    assert abs(2 * spi_bit_ns - 800) <= 150  # T1H: "110"
    assert abs(1 * spi_bit_ns - 450) <= 150  # T1L
    assert 3 * spi_bit_ns == pytest.approx(1250)


def test_a_negative_led_count_has_no_frame_size() -> None:
    with pytest.raises(ValueError, match="negative"):
        frame_bytes(-1)


@given(st.lists(colors, max_size=40))
def test_led_data_never_contains_a_zero_byte_so_the_reset_is_unambiguous(
    pixels: list[Rgb],
) -> None:
    assert 0 not in encode_frame(pixels)[: len(pixels) * BYTES_PER_LED]


@given(st.lists(st.lists(colors, min_size=1, max_size=40), min_size=1, max_size=5))
def test_frames_decode_back_to_their_colours(frames: list[list[Rgb]]) -> None:
    stream = b"".join(encode_frame(pixels) for pixels in frames)

    assert decode_stream(stream) == [tuple(pixels) for pixels in frames]
