"""Errors the domain raises, each with a stable machine-readable code for the API layers."""

from __future__ import annotations


class DoserError(Exception):
    """Base of every refusal the daemon explains to a caller.

    ``code`` is stable (snake_case) and travels in HTTP/MQTT error bodies; ``message`` is
    for people.
    """

    code = "doser_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidDose(DoserError):
    """A dose request breaks a rule (non-finite, not positive, too fast, too large)."""

    code = "invalid_dose"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class LimitExceeded(InvalidDose):
    """A dose asks for more than a pump may ever do at once (a safety limit of the request
    itself: ``rule`` is ``max_dose`` or ``max_flow``). Refused, journaled and alarmed."""

    code = "limit_exceeded"

    def __init__(self, message: str, *, field: str, rule: str) -> None:
        super().__init__(message, field=field)
        self.rule = rule


class LimitReached(DoserError):
    """A dose would break a limit that depends on what already flowed or what is left:
    ``rule`` is ``max_per_hour``, ``max_per_day``, ``global_max_per_day`` or
    ``reservoir_empty``. Refused, journaled and alarmed; it may pass later."""

    code = "limit_reached"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class NotCalibrated(DoserError):
    """The pump has no valid calibration, so a volume cannot be turned into axis travel."""

    code = "not_calibrated"


class InvalidCalibration(DoserError):
    """A calibration point or run request breaks a rule (not positive, not finite, unknown
    run); ``field`` names the offending input."""

    code = "invalid_calibration"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class JournalRecoveryPending(DoserError):
    """Doses left unfinished by a crash are not yet settled against the controller's
    position; nothing doses until they are (the controller link must come up first)."""

    code = "recovery_pending"


class UnknownPump(DoserError):
    """No pump with this id is configured."""

    code = "unknown_pump"


class PumpBusy(DoserError):
    """The pump, or the controller that drives it, is already running a dose."""

    code = "pump_busy"


class PumpFaulted(DoserError):
    """The pump is in fault (controller alarm or link lost); it doses nothing until cleared."""

    code = "pump_fault"


class ControllerRejected(DoserError):
    """The motion controller refused a command with an error number (Grbl ``error:N``)."""

    code = "controller_error"

    def __init__(self, number: int, message: str) -> None:
        super().__init__(f"controller error {number}: {message}")
        self.number = number


class ControllerFault(DoserError):
    """The controller raised an alarm (Grbl ``ALARM:N``); motion stopped, position suspect."""

    code = "controller_alarm"

    def __init__(self, number: int, message: str) -> None:
        super().__init__(f"controller alarm {number}: {message}")
        self.number = number


class ControllerUnavailable(DoserError):
    """The controller link is down or did not answer in time."""

    code = "controller_unavailable"


class BrokerUnavailable(DoserError):
    """The MQTT broker could not be reached, refused us, or the session dropped."""

    code = "broker_unavailable"


class EmergencyStopLatched(DoserError):
    """The emergency stop is latched: nothing doses until it is reset."""

    code = "emergency_stop_latched"


class InvalidReservoir(DoserError):
    """A reservoir request breaks a rule: the pump's reservoir is not tracked, or the new
    level (ml) is not a finite number between 0 and the capacity; ``field`` names the
    offending input (``pump`` or ``level``)."""

    code = "invalid_reservoir"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidRecipe(DoserError):
    """A recipe breaks a rule of its shape (no steps, an empty step, a pump twice in one
    step, a wait that is not a finite number ≥ 0); ``field`` names the offending part
    (``"steps[1].doses[0].volume"``)."""

    code = "invalid_recipe"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownRecipe(DoserError):
    """No recipe (or recipe run) with that id."""

    code = "unknown_recipe"


class RecipeRunConflict(DoserError):
    """A recipe run cannot do that now (pause a finished run, resume one not paused, start
    a dose while a recipe runs)."""

    code = "recipe_run_conflict"


class InvalidSchedule(DoserError):
    """A schedule breaks a rule (a cron expression that is not 5 fields, an unknown time
    zone, an unknown missed-run policy); ``field`` names it."""

    code = "invalid_schedule"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownSchedule(DoserError):
    """No schedule with that id."""

    code = "unknown_schedule"


class RecipeExists(DoserError):
    """A recipe with that id is already stored (create it under another id, or replace it)."""

    code = "recipe_exists"


class ScaleUnavailable(DoserError):
    """The scale is not configured, its link is down, or it sent no reading in time."""

    code = "scale_unavailable"


class ScaleFault(DoserError):
    """The scale answered but cannot do it now: ``reason`` is ``overload``, ``underload``,
    ``unstable`` (no stable weight in time), ``rejected`` (``ES``/``EL``/``ET`` or a
    command-specific ``I``), or ``unit`` (a unit we do not convert to grams)."""

    code = "scale_fault"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnknownScaleRun(DoserError):
    """No live or recent dispense by weight (or calibration from the scale) with that id."""

    code = "unknown_scale_run"
