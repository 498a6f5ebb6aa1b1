"""The Grbl 1.1h simulator engine, driven byte for byte on a stepped clock (no sleeping)."""

from __future__ import annotations

import re

import pytest

from adapters.sim.grbl import BANNER, GrblConfig, GrblEngine

BANNER_LINE = "Grbl 1.1h ['$' for help]"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Grbl:
    """The engine plus its clock; answers come back as lines without CR LF."""

    def __init__(self, **config: object) -> None:
        self.clock = FakeClock()
        self.engine = GrblEngine(GrblConfig(**config), clock=self.clock)  # type: ignore[arg-type]
        self.engine.poll()  # power-up banner

    def send(self, data: bytes) -> list[str]:
        return _lines(self.engine.feed(data))

    def at(self, t: float) -> list[str]:
        self.clock.now = t
        return _lines(self.engine.poll())

    def status(self) -> str:
        (report,) = [line for line in self.send(b"?") if line.startswith("<")]
        return report

    def state(self) -> str:
        return self.status()[1:].split("|", maxsplit=1)[0]

    def x(self) -> float:
        return self.engine.positions_mm()["X"]


def _lines(data: bytes) -> list[str]:
    return [line for line in data.decode("ascii").split("\r\n") if line]


def test_power_up_and_every_soft_reset_print_the_banner() -> None:
    engine = GrblEngine(clock=FakeClock())
    assert engine.poll() == BANNER
    assert engine.feed(b"\x18") == BANNER
    assert engine.feed(b"\x18") == BANNER


def test_status_request_mid_line_is_answered_and_the_line_still_gets_one_ok() -> None:
    grbl = Grbl()
    answer = grbl.send(b"G9?1\n")
    assert answer[0].startswith("<Idle|MPos:0.000,0.000,0.000,0.000|FS:0,0")
    assert answer[1:] == ["ok"]
    assert "G91" in grbl.send(b"$G\n")[0]


def test_every_line_gets_exactly_one_response_and_cr_lf_is_two_lines() -> None:
    grbl = Grbl()
    assert grbl.send(b"G90\nG21\n\nG91\n") == ["ok"] * 4
    assert grbl.send(b"G90\r\n") == ["ok", "ok"]  # protocol.c: '\r' and '\n' each end a line


def test_spaces_comments_and_lower_case_are_normalised() -> None:
    grbl = Grbl()
    assert grbl.send(b"g91 (relative) f 1200 ; feed\n") == ["ok"]
    assert grbl.send(b"$g\n") == ["[GC:G0 G54 G17 G21 G91 G94 M5 M9 T0 F1200 S0]", "ok"]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"G1 X1", 22),  # feed rate never set
        (b"G2 X1 I1", 20),  # arcs: Grbl runs them, the simulator does not
        (b"G5", 20),
        (b"M7", 20),  # mist coolant is compiled out of 1.1h by default
        (b"B1", 20),  # no B axis
        (b"X", 2),
        (b"1", 1),
        (b"G0 G1 X1", 21),
        (b"G1.5", 23),
        (b"G4", 28),
        (b"X1 X2", 25),
        (b"F-1", 4),
        (b"G0 R1", 36),
        (b"$Q", 2),
        (b"$XY", 3),
        (b"$10", 3),
        (b"$999=1", 3),
        (b"$H", 5),
    ],
)
def test_bad_lines_get_grbls_error_number(line: bytes, code: int) -> None:
    assert Grbl().send(line + b"\n") == [f"error:{code}"]


def test_a_line_beyond_the_80_byte_line_buffer_is_error_11() -> None:
    grbl = Grbl()
    longest = b"N" + b"0" * 77 + b"1"  # 79 characters: the most the buffer keeps
    assert grbl.send(longest + b"\n") == ["ok"]
    assert grbl.send(b" " + longest + b"0 \n") == ["error:11"]  # spaces do not count


def test_a_move_follows_a_trapezoid_at_the_programmed_feed() -> None:
    grbl = Grbl()  # 200 mm/s²: 10 mm/s reached in 0.05 s over 0.25 mm
    assert grbl.send(b"G91 G1 X2 F600\n") == ["ok"]
    grbl.at(0.025)
    assert grbl.x() == pytest.approx(0.0625, abs=0.004)
    grbl.at(0.125)
    assert grbl.x() == pytest.approx(1.0, abs=0.004)
    assert "|FS:600,0" in grbl.status()
    grbl.at(0.2499)
    assert grbl.state() == "Run"
    grbl.at(0.251)
    assert (grbl.state(), grbl.x()) == ("Idle", 2.0)


def test_g4_p0_is_acknowledged_only_when_the_motion_before_it_has_finished() -> None:
    grbl = Grbl()
    assert grbl.send(b"G91 G1 X2 F600\nG4 P0\n") == ["ok"]
    assert grbl.at(0.2) == []
    assert grbl.at(0.26) == ["ok"]


def test_a_full_planner_withholds_the_ok_until_a_block_completes() -> None:
    grbl = Grbl(status_report_mask=3)
    assert grbl.send(b"G91 G1 F600\n") == ["ok"]
    assert grbl.send(b"X1\n" * 15) == ["ok"] * 15
    assert "|Bf:0,128|" in grbl.status()
    assert grbl.send(b"X1\n") == []
    assert grbl.at(0.1) == []
    assert grbl.at(0.126) == ["ok"]  # the first 1 mm block ends at 0.125 s, still at feed
    assert grbl.state() == "Run"
    assert "|Bf:0,128|FS:600," in grbl.status()  # the freed block is taken at once


def test_moves_in_the_same_direction_are_joined_at_feed_without_stopping() -> None:
    grbl = Grbl()  # 200 mm/s²: 10 mm/s reached in 0.05 s over 0.25 mm, and as long to stop
    assert grbl.send(b"G91 G1 X2 F600\n") == ["ok"]
    grbl.at(0.1)
    assert grbl.send(b"X2\n") == ["ok"]  # planned while the first block runs
    grbl.at(0.225)  # the end of the first block
    assert grbl.x() == pytest.approx(2.0, abs=0.004)
    assert "|FS:600," in grbl.status()
    grbl.at(0.4499)  # one ramp up, 3.5 mm at 10 mm/s, one ramp down: 0.45 s
    assert grbl.state() == "Run"
    grbl.at(0.451)
    assert (grbl.state(), grbl.x()) == ("Idle", 4.0)


def test_a_move_sent_after_the_last_one_ended_starts_from_rest() -> None:
    grbl = Grbl()
    grbl.send(b"G91 G1 X2 F600\n")
    grbl.at(0.3)
    assert grbl.state() == "Idle"
    grbl.send(b"X2\n")
    grbl.at(0.325)
    assert grbl.x() == pytest.approx(2.0625, abs=0.004)  # accelerating again


def test_a_reversal_passes_through_rest() -> None:
    grbl = Grbl()
    grbl.send(b"G91 G1 X2 F600\nX-2\n")
    grbl.at(0.25)  # decelerated to rest at the end of the first block
    assert "|FS:0," in grbl.status()
    assert grbl.x() == pytest.approx(2.0)
    grbl.at(0.501)
    assert (grbl.state(), grbl.x()) == ("Idle", 0.0)


def test_a_corner_is_taken_at_the_junction_deviation_speed() -> None:
    grbl = Grbl()  # $11=0.010 mm, 200 mm/s²: about 2.6 mm/s through a right angle
    grbl.send(b"G91 G1 X2 F600\nY2\n")
    feeds = []
    for t in range(2000, 2600):
        grbl.at(t / 10000)
        feeds.append(int(grbl.status().split("|FS:")[1].split(",")[0]))
    assert min(feeds) == pytest.approx(60 * 2.61, abs=6)  # not 0: no stop at the corner


def test_a_feed_hold_decelerates_across_block_ends() -> None:
    grbl = Grbl(acceleration_mm_s2=20.0)  # 2.5 mm to stop from 10 mm/s
    grbl.send(b"G91 G1 F600\n" + b"X1\n" * 15)
    grbl.at(1.05)  # 0.5 s up to 10 mm/s over 2.5 mm, then cruising
    assert grbl.x() == pytest.approx(8.0, abs=0.004)
    grbl.send(b"!")
    grbl.at(1.54)
    assert grbl.state() == "Hold:1"
    grbl.at(1.56)
    assert grbl.state() == "Hold:0"
    assert grbl.x() == pytest.approx(10.5, abs=0.004)  # past two block ends
    grbl.send(b"~")
    grbl.at(10.0)
    assert (grbl.state(), grbl.x()) == ("Idle", 15.0)


def test_a_power_cycle_loses_motion_and_position_and_prints_the_banner_unasked() -> None:
    grbl = Grbl(status_report_mask=3)
    grbl.send(b"G91 G1 X10 F600\nG4 P0\n")
    grbl.at(0.5)
    assert grbl.x() > 1.0
    grbl.engine.power_cycle()
    assert grbl.at(0.5) == [BANNER_LINE]  # and no ok for the G4 P0 it was running
    assert grbl.status().startswith("<Idle|MPos:0.000,0.000,0.000,0.000|Bf:15,128|")
    grbl.at(3.0)
    assert grbl.x() == 0.0
    assert grbl.send(b"$G\n")[0] == "[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]"
    assert "$10=3" in grbl.send(b"$$\n")  # settings live in EEPROM


def test_bytes_beyond_the_128_byte_rx_buffer_wait_and_none_are_lost() -> None:
    grbl = Grbl(status_report_mask=3)
    grbl.send(b"G91 G1 F6000\n" + b"X1\n" * 16)  # the 16th line waits for the planner
    grbl.send(b"X1\n" * 100)
    assert "|Bf:0,0|" in grbl.status()
    answers = [line for t in range(1, 600) for line in grbl.at(t * 0.05) if line == "ok"]
    assert len(answers) == 101  # 1 mm blocks at 200 mm/s² take 0.14 s each
    assert grbl.x() == pytest.approx(116.0)


def test_with_drop_overflow_bytes_beyond_the_rx_buffer_are_lost_as_on_real_grbl() -> None:
    grbl = Grbl(drop_rx_overflow=True)
    grbl.send(b"G91 G1 F6000\n" + b"X1\n" * 16)
    grbl.send(b"X1\n" * 100)
    answers = [line for t in range(1, 200) for line in grbl.at(t * 0.05) if line == "ok"]
    assert len(answers) == 1 + 128 // 3


def test_feed_hold_decelerates_to_hold_0_and_cycle_start_runs_the_rest() -> None:
    grbl = Grbl(acceleration_mm_s2=20.0)  # 0.5 s to stop from 10 mm/s
    grbl.send(b"G91 G1 X20 F600\n")
    grbl.at(1.0)
    grbl.send(b"!")
    assert grbl.state() == "Hold:1"
    grbl.at(1.6)
    assert grbl.state() == "Hold:0"
    stopped = grbl.x()
    grbl.at(3.0)
    assert grbl.x() == stopped
    grbl.send(b"~")
    assert grbl.state() == "Run"
    grbl.at(10.0)
    assert (grbl.state(), grbl.x()) == ("Idle", 20.0)


def test_cycle_start_while_still_decelerating_is_ignored() -> None:
    grbl = Grbl(acceleration_mm_s2=20.0)
    grbl.send(b"G91 G1 X20 F600\n")
    grbl.at(1.0)
    grbl.send(b"!")
    grbl.at(1.2)
    grbl.send(b"~")
    grbl.at(2.0)
    assert grbl.state() == "Hold:0"


def test_feed_hold_while_idle_suspends_line_processing_until_cycle_start() -> None:
    grbl = Grbl()
    grbl.send(b"!")
    assert grbl.state() == "Hold:0"
    assert grbl.send(b"G91\n") == []
    assert grbl.send(b"~") == ["ok"]
    assert grbl.state() == "Idle"


def test_reset_during_motion_raises_alarm_3_and_locks_out_gcode_until_unlocked() -> None:
    grbl = Grbl()
    grbl.send(b"G91 G1 X10 F600\n")
    grbl.at(0.5)
    assert grbl.send(b"\x18?") == ["ALARM:3"]
    stopped = grbl.x()
    assert grbl.at(0.9) == []  # report.c: 500 ms pause after an alarm message
    assert grbl.at(1.01) == [BANNER_LINE, "[MSG:'$H'|'$X' to unlock]"]
    assert grbl.status().startswith(f"<Alarm|MPos:{stopped:.3f},")
    assert grbl.send(b"G1 X1 F600\n") == ["error:9"]
    assert grbl.send(b"$X\n") == ["[MSG:Caution: Unlocked]", "ok"]
    assert grbl.send(b"G91 G1 X1 F600\n") == ["ok"]
    grbl.at(3.0)
    assert grbl.x() == pytest.approx(stopped + 1.0)


def test_reset_while_still_decelerating_in_a_hold_raises_alarm_3() -> None:
    grbl = Grbl(acceleration_mm_s2=20.0)
    grbl.send(b"G91 G1 X20 F600\n")
    grbl.at(1.0)
    grbl.send(b"!")
    grbl.at(1.2)
    assert grbl.send(b"\x18") == ["ALARM:3"]


def test_reset_in_a_completed_hold_keeps_the_position_and_discards_the_rest() -> None:
    grbl = Grbl(acceleration_mm_s2=20.0)
    grbl.send(b"G91 G1 X20 F600\n")
    grbl.at(1.0)
    grbl.send(b"!")
    grbl.at(1.6)
    held = grbl.x()
    assert grbl.send(b"\x18") == [BANNER_LINE]
    assert grbl.state() == "Idle"
    grbl.send(b"~")
    grbl.at(10.0)
    assert (grbl.state(), grbl.x()) == ("Idle", held)


def test_the_line_blocked_at_a_reset_still_gets_its_ok_before_the_banner() -> None:
    grbl = Grbl(alarm_report_delay_s=0.0)
    grbl.send(b"G91 G1 X10 F600\n")
    assert grbl.send(b"G4 P0\n") == []
    assert grbl.send(b"\x18") == ["ALARM:3", "ok", BANNER_LINE, "[MSG:'$H'|'$X' to unlock]"]


def test_reset_restores_the_parser_defaults() -> None:
    grbl = Grbl()
    grbl.send(b"G91 G1 F600\n\x18")
    assert grbl.send(b"$G\n")[0] == "[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]"


def test_build_info_settings_and_help_are_printed_then_ok() -> None:
    grbl = Grbl()
    assert grbl.send(b"$I\n") == ["[VER:1.1h.20190825:]", "[OPT:V,15,128]", "ok"]
    settings = grbl.send(b"$$\n")
    assert settings[0] == "$0=10" and settings[-1] == "ok"
    assert {"$10=1", "$110=1000.000", "$113=1000.000", "$120=200.000", "$123=200.000"} <= set(
        settings
    )
    assert grbl.send(b"$\n")[0].startswith("[HLP:$$ $# $G $I")


def test_settings_are_refused_while_running() -> None:
    grbl = Grbl()
    grbl.send(b"G91 G1 X10 F600\n")
    assert grbl.send(b"$$\n") == ["error:8"]
    assert grbl.send(b"$10=3\n") == ["error:8"]
    assert grbl.send(b"$G\n")[-1] == "ok"


def test_status_report_shows_wco_first_overrides_second_and_bf_on_request() -> None:
    grbl = Grbl()
    first, second, third = grbl.status(), grbl.status(), grbl.status()
    assert first == "<Idle|MPos:0.000,0.000,0.000,0.000|FS:0,0|WCO:0.000,0.000,0.000,0.000>"
    assert second == "<Idle|MPos:0.000,0.000,0.000,0.000|FS:0,0|Ov:100,100,100>"
    assert third == "<Idle|MPos:0.000,0.000,0.000,0.000|FS:0,0>"
    assert grbl.send(b"$10=3\n") == ["ok"]
    assert re.match(r"<Idle\|MPos:[-0-9.,]+\|Bf:15,128\|FS:0,0", grbl.status())


def test_inch_mode_moves_in_inches() -> None:
    grbl = Grbl()
    grbl.send(b"G20 G91 G1 X1 F10\n")
    grbl.at(30.0)
    assert grbl.x() == pytest.approx(25.4)


def test_a_zero_length_move_is_acknowledged_without_motion() -> None:
    grbl = Grbl()
    assert grbl.send(b"G91 G1 X0.001 F600\n") == ["ok"]  # under one step (0.004 mm)
    assert grbl.state() == "Idle"


def test_positions_are_reported_for_all_four_axes() -> None:
    grbl = Grbl()
    grbl.send(b"G91 G1 X1 Y2 Z3 A4 F6000\n")
    grbl.at(5.0)
    assert grbl.engine.positions_mm() == {"X": 1.0, "Y": 2.0, "Z": 3.0, "A": 4.0}
    assert "MPos:1.000,2.000,3.000,4.000" in grbl.status()
