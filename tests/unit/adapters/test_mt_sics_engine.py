"""The MT-SICS scale simulator engine on a stepped clock (no sleeping): commands, replies,
the SIR stream and bad input. The weight model has its own tests (test_mt_sics_cell)."""

from __future__ import annotations

import math
from collections.abc import Callable

from adapters.sim.mt_sics import MtSicsEngine, ScaleConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Balance:
    """The engine, its clock and a pan whose load (g) the test sets; lines without CR LF."""

    def __init__(self, load: Callable[[float], float] | None = None, **config: object) -> None:
        self.clock = FakeClock()
        self.pan = 0.0
        self.engine = MtSicsEngine(
            ScaleConfig(**config),  # type: ignore[arg-type]
            load=load or (lambda _t: self.pan),
            clock=self.clock,
        )
        self.engine.poll()  # power-up
        self.run(1.0)  # warm-up: a full stability window on the empty pan

    def send(self, text: str) -> list[str]:
        return _lines(self.engine.feed(text.encode("ascii") + b"\r\n"))

    def run(self, seconds: float, step: float = 0.005) -> list[str]:
        """Let ``seconds`` pass, polling every ``step`` as the pty host does."""
        out: list[str] = []
        end = self.clock.now + seconds
        while self.clock.now < end - 1e-9:
            self.clock.now = min(end, self.clock.now + step)
            out += _lines(self.engine.poll())
        return out

    def weigh(self) -> str:
        (line,) = self.send("SI")
        return line


def _lines(data: bytes) -> list[str]:
    text = data.decode("ascii")
    assert not text or text.endswith("\r\n"), text
    return text.split("\r\n")[:-1]


def test_a_settled_load_reads_stable_in_a_right_aligned_field_at_the_resolution() -> None:
    scale = Balance(noise_g=0.0)
    scale.pan = 100.0
    scale.run(2.0)
    assert scale.weigh() == "S S     100.00 g"


def test_tare_stores_the_stable_gross_and_later_readings_are_net() -> None:
    scale = Balance(noise_g=0.0)
    scale.pan = 35.21
    scale.run(2.0)
    assert scale.send("T") == ["T S      35.21 g"]
    assert scale.engine.tare_g == 35.21
    scale.pan = 45.21
    scale.run(2.0)
    assert scale.weigh() == "S S      10.00 g"


def test_tare_waits_for_a_stable_weight_before_answering() -> None:
    scale = Balance(noise_g=0.0)
    scale.pan = 12.5
    scale.run(0.02)  # the cell's next samples see the new load
    assert scale.send("T") == []
    replies = scale.run(2.0)
    assert replies == ["T S      12.50 g"]


def test_s_waits_for_stability_and_answers_s_i_when_none_comes_in_time() -> None:
    wobbling = Balance(lambda t: 50.0 + math.sin(2 * math.pi * t), stable_timeout_s=1.0)
    assert wobbling.send("S") == []
    assert wobbling.run(0.95) == []
    assert wobbling.run(0.1) == ["S I"]


def test_tare_and_zero_are_refused_while_the_load_keeps_changing() -> None:
    wobbling = Balance(lambda t: 50.0 + math.sin(2 * math.pi * t), stable_timeout_s=0.5)
    assert wobbling.send("T") == []
    assert wobbling.run(0.6) == ["T I"]
    assert wobbling.send("Z") == []
    assert wobbling.run(0.6) == ["Z I"]
    assert wobbling.engine.tare_g == 0.0


def test_an_overload_or_underload_shows_in_weights_and_refuses_tare_and_zero() -> None:
    scale = Balance()
    scale.pan = 300.0
    scale.run(1.0)
    assert [scale.weigh(), *scale.send("T"), *scale.send("Z")] == ["S +", "T +", "Z +"]
    scale.pan = -10.0
    scale.run(1.0)
    assert [scale.weigh(), *scale.send("T"), *scale.send("Z")] == ["S -", "T -", "Z -"]


def test_zero_makes_the_current_load_read_zero_and_clears_the_tare() -> None:
    scale = Balance(noise_g=0.0)
    scale.pan = 5.0
    scale.run(2.0)
    scale.send("T")
    assert scale.send("Z") == ["Z A"]
    assert (scale.engine.tare_g, scale.weigh()) == (0.0, "S S       0.00 g")


def test_sir_streams_at_its_interval_until_si_stops_it() -> None:
    scale = Balance(stream_interval_s=0.05)
    assert len(scale.send("SIR")) == 1  # the first weight goes out at once
    streamed = scale.run(1.025)
    assert len(streamed) == 20
    assert all(line.startswith("S S ") for line in streamed)
    assert len(scale.send("SI")) == 1
    assert scale.run(0.5) == []


def test_s_and_reset_stop_the_stream_but_tare_and_zero_do_not() -> None:
    scale = Balance(stream_interval_s=0.05)
    scale.send("SIR")
    scale.send("T")
    scale.send("Z")
    assert len(scale.run(0.525)) == 10
    scale.send("S")
    assert scale.run(0.5) == []
    scale.send("SIR")
    assert scale.send("@") == ['I4 A "B123456789"']
    assert scale.run(0.5) == []


def test_a_long_gap_in_time_does_not_burst_stale_stream_lines() -> None:
    scale = Balance(stream_interval_s=0.05)
    scale.send("SIR")
    assert len(scale.run(100.0, step=50.0)) == 2


def test_reset_cancels_the_waiting_command_clears_the_tare_and_keeps_the_zero() -> None:
    scale = Balance(noise_g=0.0, stable_timeout_s=1.0, serial_number="SN-7")
    scale.pan = 4.0
    scale.run(2.0)
    scale.send("Z")
    scale.pan = 6.0
    scale.run(2.0)
    assert scale.send("T") == ["T S       2.00 g"]
    scale.pan = 9.0
    scale.run(0.02)
    assert scale.send("T") == []
    assert scale.send("@") == ['I4 A "SN-7"']
    assert scale.run(2.0) == []  # the cancelled T never answers
    assert scale.engine.tare_g == 0.0
    assert scale.weigh() == "S S       5.00 g"


def test_a_command_while_another_waits_is_not_executable() -> None:
    scale = Balance(stable_timeout_s=1.0)
    scale.pan = 3.0
    scale.run(0.02)
    assert scale.send("T") == []
    assert scale.send("Z") == ["Z I"]
    assert scale.send("S") == ["S I"]
    assert scale.send("I4") == ['I4 A "B123456789"']


def test_unknown_commands_are_syntax_errors_and_arguments_logical_errors() -> None:
    scale = Balance()
    assert scale.send("XYZ") == ["ES"]
    assert scale.send("sir") == ["ES"]
    assert scale.send("") == ["ES"]
    assert scale.send("T 5") == ["EL"]
    assert scale.send("SIR now") == ["EL"]


def test_an_over_long_line_or_a_non_ascii_byte_is_a_transmission_error() -> None:
    scale = Balance(noise_g=0.0)
    assert scale.engine.feed(b"S" * 100 + b"\r\nSI\r\n") == b"ET\r\nS S       0.00 g\r\n"
    assert scale.engine.feed(b"S\xc9\r\n") == b"ET\r\n"
    assert scale.engine.feed(b"S\x07I\r\n") == b"ET\r\n"


def test_a_command_split_across_writes_is_assembled() -> None:
    scale = Balance()
    assert scale.engine.feed(b"S") == b""
    assert scale.engine.feed(b"I\r") == b""
    assert _lines(scale.engine.feed(b"\n")) == ["S S       0.00 g"]


def test_a_silent_scale_loses_what_is_written_and_sends_nothing() -> None:
    scale = Balance()
    scale.send("SIR")
    scale.engine.set_silent(True)
    assert scale.send("SI") == []
    assert scale.run(0.5) == []
    scale.engine.set_silent(False)
    resumed = scale.run(0.5)
    assert len(resumed) >= 9  # the SI was lost: SIR still runs
    assert all(line.startswith("S S ") for line in resumed)


def test_injected_garbage_goes_out_between_the_lines() -> None:
    scale = Balance()
    scale.engine.inject_garbage(b"\x00\xffnoise")
    assert scale.engine.feed(b"SI\r\n") == b"\x00\xffnoiseS S       0.00 g\r\n"
