"""The test-side WS2812B decoder: it must read exactly what the chain would and reject
anything else, or the adapter tests built on it prove nothing. Inputs are written here
from bit strings, never by the encoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.led import Rgb
from support.ws2812_decoder import decode_frame, decode_stream, last_frame

RESET = bytes(84)


def spi(bits: str) -> bytes:
    """SPI bytes from a string of 0s and 1s (a multiple of 8 long)."""
    assert len(bits) % 8 == 0
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def led_bits(value: int) -> str:
    """The SPI bits of one channel: 100 for a 0 bit, 110 for a 1, MSB first."""
    return "".join("110" if value >> shift & 1 else "100" for shift in range(7, -1, -1))


def led(color: Rgb) -> bytes:
    return spi(led_bits(color.g) + led_bits(color.r) + led_bits(color.b))


AMBER = Rgb(255, 110, 0)


def test_a_frame_reads_green_red_blue_into_a_colour() -> None:
    assert decode_stream(led(AMBER) + RESET) == [(AMBER,)]


def test_a_datasheet_byte_pattern_decodes_to_red() -> None:
    red = bytes([0x92, 0x49, 0x24, 0xDB, 0x6D, 0xB6, 0x92, 0x49, 0x24])

    assert decode_frame(red) == (Rgb(255, 0, 0),)


def test_frames_are_split_at_reset_gaps_in_order() -> None:
    stream = led(Rgb(1, 2, 3)) + led(Rgb(4, 5, 6)) + RESET + led(Rgb(7, 8, 9)) + RESET

    assert decode_stream(stream) == [(Rgb(1, 2, 3), Rgb(4, 5, 6)), (Rgb(7, 8, 9),)]


def test_idle_line_before_the_first_frame_is_not_a_frame() -> None:
    assert decode_stream(RESET + RESET + led(AMBER) + RESET) == [(AMBER,)]


def test_data_after_the_last_reset_has_not_latched() -> None:
    assert decode_stream(led(AMBER) + RESET + led(Rgb(0, 0, 9))) == [(AMBER,)]


def test_a_zero_run_shorter_than_the_reset_is_rejected_inside_a_frame() -> None:
    with pytest.raises(ValueError, match="bad symbol 000"):
        decode_stream(led(AMBER) + bytes(81) + led(AMBER) + RESET)  # 81: whole LEDs long


def test_the_reset_length_can_be_chosen() -> None:
    stream = led(AMBER) + bytes(10) + led(AMBER) + bytes(10)

    assert decode_stream(stream, min_reset_bytes=10) == [(AMBER,), (AMBER,)]


@pytest.mark.parametrize("bad", ["111", "000", "101", "010", "001", "011"])
def test_any_other_symbol_is_rejected_with_its_bit_offset(bad: str) -> None:
    bits = "100" * 3 + bad + "100" * 68

    with pytest.raises(ValueError, match=f"bad symbol {bad} at bit 9$"):
        decode_stream(spi(bits) + RESET)


def test_offsets_count_from_the_start_of_the_stream() -> None:
    second = spi("100" * 71 + "111")

    with pytest.raises(ValueError, match=f"at bit {(9 + 84) * 8 + 213}$"):
        decode_stream(led(AMBER) + RESET + second + RESET)


def test_a_frame_that_is_not_a_whole_number_of_leds_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a multiple of 72"):
        decode_stream(led(AMBER) + spi("100" * 8) + RESET)


def test_last_frame_reads_the_newest_complete_frame_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "spi.bin"
    path.write_bytes(led(AMBER) + RESET + led(Rgb(0, 0, 1)) + RESET + led(AMBER))

    assert last_frame(path) == (Rgb(0, 0, 1),)


def test_last_frame_of_a_file_without_a_frame_is_a_lookup_error(tmp_path: Path) -> None:
    path = tmp_path / "spi.bin"
    path.write_bytes(RESET)

    with pytest.raises(LookupError):
        last_frame(path)
