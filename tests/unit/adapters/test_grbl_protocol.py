"""Grbl 1.1 / FluidNC line rules, checked against lines real firmware prints."""

from __future__ import annotations

import math

import pytest

from adapters.serial.grbl_codes import alarm_message, error_message
from adapters.serial.grbl_protocol import (
    LineKind,
    classify,
    format_move,
    parse_status,
)
from domain.motion import ControllerState

AXES = ("X", "Y", "Z", "A")


@pytest.mark.parametrize(
    ("line", "kind", "number"),
    [
        ("ok", LineKind.OK, None),
        ("error:22", LineKind.ERROR, 22),
        ("error:9", LineKind.ERROR, 9),
        ("ALARM:1", LineKind.ALARM, 1),
        ("ALARM:3", LineKind.ALARM, 3),
        ("<Idle|MPos:0.000,0.000,0.000|FS:0,0>", LineKind.STATUS, None),
        ("Grbl 1.1h ['$' for help]", LineKind.BANNER, None),
        ("Grbl 3.7.8 [FluidNC v3.7.8 (wifi) '$' for help]", LineKind.BANNER, None),
        ("[MSG:'$H'|'$X' to unlock]", LineKind.FEEDBACK, None),
        ("[MSG:Caution: Unlocked]", LineKind.FEEDBACK, None),
        ("[MSG:INFO: '$H'|'$X' to unlock]", LineKind.FEEDBACK, None),
        ("[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]", LineKind.FEEDBACK, None),
        ("[VER:1.1h.20190825:]", LineKind.FEEDBACK, None),
        ("[OPT:V,15,128]", LineKind.FEEDBACK, None),
        ("$110=500.000", LineKind.SETTING, None),
        ("$N0=G54", LineKind.SETTING, None),
        (">G54G20:ok", LineKind.STARTUP, None),
        ("", LineKind.EMPTY, None),
        ("ets Jun  8 2016 00:22:57", LineKind.UNKNOWN, None),
        ("okay", LineKind.UNKNOWN, None),
        ("\x00\xff<Idle", LineKind.UNKNOWN, None),
    ],
)
def test_each_received_line_is_classified_by_its_leading_characters(
    line: str, kind: LineKind, number: int | None
) -> None:
    parsed = classify(line)
    assert (parsed.kind, parsed.number) == (kind, number)


def test_an_error_line_without_a_number_is_still_a_reply() -> None:
    # Grbl 0.9 spelled errors out; it still answers the line in flight.
    assert classify("error: Bad number format").kind is LineKind.ERROR
    assert classify("error: Bad number format").number == 0


def test_a_line_starting_with_grbl_but_no_version_is_not_a_banner() -> None:
    assert classify("Grbl is great").kind is LineKind.UNKNOWN


def test_an_idle_report_gives_machine_positions_by_axis_letter() -> None:
    report = parse_status("<Idle|MPos:0.000,0.000,0.000|FS:0,0|WCO:0.000,0.000,0.000>")
    status = report.to_status(None)
    assert status.state is ControllerState.IDLE
    assert status.positions_mm == {"X": 0.0, "Y": 0.0, "Z": 0.0}
    assert status.feed_mm_min == 0.0
    assert status.hold_complete is None
    assert report.wco == (0.0, 0.0, 0.0)


def test_a_run_report_carries_buffer_feed_and_overrides() -> None:
    report = parse_status("<Run|MPos:1.234,0.000,0.000|Bf:15,128|FS:500,0|Ov:100,100,100>")
    assert report.state is ControllerState.RUN
    assert report.to_status(None).position("X") == 1.234
    assert report.buffer == (15, 128)
    assert report.feed_mm_min == 500.0
    assert report.overrides == (100, 100, 100)


def test_a_completed_hold_is_hold_zero_and_a_decelerating_one_hold_one() -> None:
    done = parse_status("<Hold:0|MPos:5.000,0.000,0.000|FS:0,0>").to_status(None)
    slowing = parse_status("<Hold:1|MPos:4.900,0.000,0.000|FS:120,0>").to_status(None)
    assert done.state is ControllerState.HOLD and done.hold_complete is True
    assert done.stopped_in_hold
    assert slowing.hold_complete is False and not slowing.stopped_in_hold


def test_work_positions_become_machine_positions_with_the_report_offset() -> None:
    report = parse_status("<Hold:0|WPos:1.000,2.000,3.000|FS:0,0|WCO:10.000,0.500,-3.000>")
    assert report.to_status(None).positions_mm == {"X": 11.0, "Y": 2.5, "Z": 0.0}


def test_work_positions_use_the_last_offset_seen_when_the_report_has_none() -> None:
    report = parse_status("<Idle|WPos:1.100,2.200,0.000|FS:0,0>")
    status = report.to_status((2.2, 0.0, 1.0))
    assert status.positions_mm == {"X": 3.3, "Y": 2.2, "Z": 1.0}


def test_work_positions_without_any_offset_seen_are_taken_as_they_are() -> None:
    status = parse_status("<Idle|WPos:1.000,2.000,3.000>").to_status(None)
    assert status.positions_mm == {"X": 1.0, "Y": 2.0, "Z": 3.0}


def test_a_fluidnc_report_with_more_axes_maps_them_in_xyzabc_order() -> None:
    report = parse_status(
        "<Idle|MPos:1.000,2.000,3.000,4.000,5.000,6.000|FS:0,0|Pn:P|A:SFM|SD:12.5,job.nc>"
    )
    status = report.to_status(None)
    assert status.positions_mm == {"X": 1, "Y": 2, "Z": 3, "A": 4, "B": 5, "C": 6}
    assert report.pins == "P"
    assert report.accessories == "SFM"
    assert report.extra == {"SD": "12.5,job.nc"}


def test_fields_may_come_in_any_order_and_feed_may_be_f_alone() -> None:
    report = parse_status("<Jog|Ln:42|F:250.5|MPos:0.000,1.000,0.000,2.500>")
    assert report.state is ControllerState.JOG
    assert report.line_number == 42
    assert report.feed_mm_min == 250.5
    assert report.to_status(None).position("A") == 2.5


def test_a_door_substate_is_kept_and_is_not_a_hold() -> None:
    report = parse_status("<Door:1|MPos:0.000,0.000,0.000|FS:0,0>")
    assert (report.state, report.substate) == (ControllerState.DOOR, 1)
    assert report.to_status(None).hold_complete is None


def test_an_unknown_state_is_reported_as_unknown() -> None:
    report = parse_status("<ConfigAlarm|MPos:0.000,0.000,0.000>")
    assert report.state is ControllerState.UNKNOWN


def test_an_unreadable_optional_field_is_kept_aside_not_fatal() -> None:
    report = parse_status("<Idle|MPos:0.000,0.000,0.000|FS:fast,0|Bf:>")
    assert report.feed_mm_min is None
    assert report.extra == {"FS": "fast,0", "Bf": ""}


@pytest.mark.parametrize(
    "garbage",
    [
        "<Idle>",
        "<>",
        "Idle|MPos:0,0,0",
        "<Idle|MPos:0.000,abc,0.000>",
        "<Idle|FS:0,0>",
        "<Run|MPos:1.2.3>",
    ],
)
def test_garbage_is_not_a_status_report(garbage: str) -> None:
    with pytest.raises(ValueError):
        parse_status(garbage)


def test_a_dose_move_is_relative_with_three_decimals() -> None:
    assert format_move({"X": 10}, 200, AXES) == "G91 G1 X10.000 F200.000"


def test_a_coordinated_move_lists_moving_axes_in_axis_order() -> None:
    line = format_move({"A": -0.5, "X": 1.23456, "Y": 0.0}, 123.4567, AXES)
    assert line == "G91 G1 X1.235 A-0.500 F123.457"


def test_a_move_where_no_axis_travels_formats_to_nothing() -> None:
    assert format_move({"X": 0.0002}, 100, AXES) is None


def test_an_axis_the_controller_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match="'B'"):
        format_move({"B": 1.0}, 100, AXES)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_numbers_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        format_move({"X": bad}, 100, AXES)
    with pytest.raises(ValueError):
        format_move({"X": 1.0}, bad, AXES)


def test_a_move_line_never_exceeds_grbls_line_buffer() -> None:
    axes = ("X", "Y", "Z", "A", "B", "C")
    long_move = dict.fromkeys(axes, -1000.0)
    line = format_move(long_move, 10000, axes)
    assert line is not None and len(line) <= 79
    assert " " not in line  # spaces dropped to fit; Grbl ignores them anyway
    with pytest.raises(ValueError, match="characters"):
        format_move(dict.fromkeys(axes, -1e9), 1e9, axes)


def test_error_and_alarm_numbers_have_grbls_messages() -> None:
    assert error_message(22) == "Undefined feed rate"
    assert error_message(20) == "Unsupported command"
    assert error_message(9).startswith("G-code lock")
    assert error_message(38)
    assert error_message(99) == "unknown error 99"
    assert alarm_message(1) == "Hard limit"
    assert alarm_message(3) == "Abort during cycle"
    assert alarm_message(42) == "unknown alarm 42"
