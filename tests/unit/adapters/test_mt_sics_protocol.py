"""MT-SICS line parsing: every reply the scale adapter relies on, and garbage that must not
crash it."""

from __future__ import annotations

import contextlib
import math
import random

import pytest

from adapters.scale import mt_sics_protocol as mp
from domain.scale import ReadingStatus


@pytest.mark.parametrize(
    ("line", "status", "grams"),
    [
        (b"S S     100.00 g\r\n", ReadingStatus.STABLE, 100.0),
        (b"S D      12.34 g\r\n", ReadingStatus.DYNAMIC, 12.34),
        (b"S S      -0.02 g\r\n", ReadingStatus.STABLE, -0.02),
        (b"S S 5 g", ReadingStatus.STABLE, 5.0),
        (b"S  S  1.5   g  \r\n", ReadingStatus.STABLE, 1.5),
        (b"S S    1250.0 mg\r\n", ReadingStatus.STABLE, 1.25),
        (b"S D     0.2200 kg\r\n", ReadingStatus.DYNAMIC, 220.0),
        (b"S S     +3.10 g\r\n", ReadingStatus.STABLE, 3.1),
    ],
)
def test_weight_lines_parse_by_fields_and_convert_to_grams(
    line: bytes, status: ReadingStatus, grams: float
) -> None:
    reply = mp.parse_line(line)
    assert isinstance(reply, mp.WeightLine)
    assert reply.status is status
    assert reply.grams == pytest.approx(grams)


@pytest.mark.parametrize(
    ("line", "status"), [("S +", ReadingStatus.OVERLOAD), ("S -", ReadingStatus.UNDERLOAD)]
)
def test_overload_and_underload_carry_no_weight(line: str, status: ReadingStatus) -> None:
    reply = mp.parse_line(line + "\r\n")
    assert isinstance(reply, mp.WeightLine)
    assert reply.status is status and math.isnan(reply.grams)


def test_a_weight_in_pounds_is_refused_as_a_unit_problem() -> None:
    with pytest.raises(mp.UnsupportedUnit) as caught:
        mp.parse_line("S S      0.22 lb")
    assert (caught.value.command, caught.value.unit) == ("S", "lb")


def test_a_tare_reply_gives_the_tare_weight_in_grams() -> None:
    assert mp.parse_line("T S      35.21 g\r\n") == mp.Response("T", "S", grams=35.21)
    in_kg = mp.parse_line("T S  0.03521 kg")
    assert isinstance(in_kg, mp.Response)
    assert in_kg.grams == pytest.approx(35.21)


def test_a_tare_in_ounces_names_the_tare_command() -> None:
    with pytest.raises(mp.UnsupportedUnit) as caught:
        mp.parse_line("T S 1.2 oz")
    assert caught.value.command == "T"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("T I", mp.Response("T", "I")),
        ("T +", mp.Response("T", "+")),
        ("T -", mp.Response("T", "-")),
        ("Z A", mp.Response("Z", "A")),
        ("Z I", mp.Response("Z", "I")),
        ("Z +", mp.Response("Z", "+")),
        ("Z -", mp.Response("Z", "-")),
        ("S I", mp.Response("S", "I")),
        ('I4 A "B123456789"', mp.Response("I4", "A", text="B123456789")),
        ('I4  A   "SN 42"', mp.Response("I4", "A", text="SN 42")),
    ],
)
def test_command_replies_without_a_weight(line: str, expected: mp.Response) -> None:
    assert mp.parse_line(line + "\r\n") == expected


@pytest.mark.parametrize("code", ["ES", "ET", "EL"])
def test_general_errors_are_their_own_reply(code: str) -> None:
    assert mp.parse_line(f"{code}\r\n") == mp.ErrorLine(code)


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"\r\n",
        b"S",
        b"S S",
        b"S S 12.34",
        b"S X 12.34 g",
        b"S S 12.3.4 g",
        b"S S nan g",
        b"S S inf g",
        b"S S 1e3 g",
        b"S S 1_000 g",
        b"S S 12.34 g extra",
        b"S +-",
        b"T S",
        b"T A",
        b"Z S",
        b"Z A extra",
        b"I4 A B123",
        b'I4 I "B123"',
        b"ES ES",
        b"es",
        b"OK",
        b"S S \xb512.34 g",
        b"S S 12.34 g\x00",
        b"\x1b[2J",
    ],
)
def test_lines_that_are_not_mt_sics_raise_the_protocol_error(line: bytes) -> None:
    with pytest.raises(mp.MtSicsError):
        mp.parse_line(line)


def test_random_bytes_never_raise_anything_but_the_protocol_error() -> None:
    rng = random.Random(20240611)
    alphabet = b'STZIADE+-.0123456789 g"\r\x00\xff'
    for _ in range(5000):
        size = rng.randrange(0, 40)
        if rng.random() < 0.5:
            line = bytes(rng.randrange(256) for _ in range(size))
        else:
            line = bytes(rng.choice(alphabet) for _ in range(size))
        with contextlib.suppress(mp.MtSicsError):  # anything else fails the test
            mp.parse_line(line)


def test_commands_go_out_closed_by_cr_lf() -> None:
    assert mp.encode(mp.STREAM) == b"SIR\r\n"
    assert mp.encode(mp.RESET) == b"@\r\n"
