"""What Grbl's numbered replies mean: the short texts for ``error:N`` and ``ALARM:N`` that
go into the errors callers see, and which alarms lock Grbl until a reset.

Source: gnea/grbl ``doc/csv/error_codes_en_US.csv`` and ``alarm_codes_en_US.csv``
(Grbl 1.1); FluidNC uses the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

CRITICAL_ALARMS = frozenset({1, 2})  # hard/soft limit: Grbl waits for a reset, ignores "?"

ERROR_MESSAGES: Mapping[int, str] = {
    1: "Expected command letter",
    2: "Bad number format",
    3: "Invalid statement",
    4: "Value < 0",
    5: "Setting disabled (homing not enabled)",
    6: "Value < 3 usec",
    7: "EEPROM read fail, using defaults",
    8: "Not idle",
    9: "G-code lock (alarm or jog state)",
    10: "Homing not enabled",
    11: "Line overflow",
    12: "Step rate > 30kHz",
    13: "Check door",
    14: "Line length exceeded",
    15: "Travel exceeded",
    16: "Invalid jog command",
    17: "Setting disabled (laser mode requires PWM output)",
    20: "Unsupported command",
    21: "Modal group violation",
    22: "Undefined feed rate",
    23: "Command requires an integer value",
    24: "More than one command requires axis words",
    25: "Repeated g-code word",
    26: "No axis words found",
    27: "Invalid line number",
    28: "Missing a required value word",
    29: "G59.x work coordinate systems not supported",
    30: "G53 only allowed with G0 and G1",
    31: "Axis words found with no command to use them",
    32: "Arc needs at least one in-plane axis word",
    33: "Invalid motion target",
    34: "Invalid arc radius",
    35: "Arc needs at least one in-plane offset word",
    36: "Unused value words found",
    37: "Tool length offset not on the configured axis",
    38: "Tool number greater than supported",
}

ALARM_MESSAGES: Mapping[int, str] = {
    1: "Hard limit",
    2: "Soft limit",
    3: "Abort during cycle",
    4: "Probe fail (probe not in expected initial state)",
    5: "Probe fail (no contact within travel)",
    6: "Homing fail (reset during homing)",
    7: "Homing fail (safety door opened)",
    8: "Homing fail (pull-off did not clear limit switch)",
    9: "Homing fail (limit switch not found)",
}


def error_message(number: int) -> str:
    """Grbl's short message for ``error:<number>`` (error_codes_en_US.csv)."""
    return ERROR_MESSAGES.get(number, f"unknown error {number}")


def alarm_message(number: int) -> str:
    """Grbl's short message for ``ALARM:<number>`` (alarm_codes_en_US.csv)."""
    return ALARM_MESSAGES.get(number, f"unknown alarm {number}")
