"""MT-SICS protocol engine of the scale simulator: bytes in, bytes out, on a given clock.

Behaves as a Mettler Toledo balance (MT-SICS Reference Manual, MT-SICS 0 v2.3x / 1 v2.2x;
level 0: ``S``, ``SI``, ``SIR``, ``Z``, ``@``, ``I4``; level 1: ``T``). Commands and
replies are closed by CR LF; weights go out as ``S S <value> g``, the value right-aligned
in a 10-character field.

- ``S`` waits for a stable weight (``S S``) or answers ``S I`` after ``stable_timeout_s``;
  ``S +``/``S -`` when over-/underloaded. ``SI`` answers at once (``S S`` or ``S D``).
- ``SIR`` sends a weight at once and every ``stream_interval_s`` until ``S``, ``SI`` or
  ``@`` (Ohaus 7000 series manual, MT-SICS: "SIR is overwritten and cancelled by the
  commands S, SI, SR and @"); ``T`` and ``Z`` leave it running.
- ``T`` waits for stability and stores the gross as the tare (``T S <tare> g``), ``Z``
  sets the zero and clears the tare (``Z A``); ``I`` when not stable in time, ``+``/``-``
  when over-/underloaded (Ohaus 7000: "waits for up to 3 seconds ... for no-motion").
  While one of ``S``/``T``/``Z`` waits, another gets ``<command> I`` (busy).
- ``@`` cancels the waiting command (no reply to it) and ``SIR``, clears the tare, keeps
  the zero and answers ``I4 A "<serial number>"`` (Ohaus 7000).
- ``ES`` for an unknown command, ``EL`` for a known one with arguments, ``ET`` for a line
  over 64 characters or with bytes that are not printable ASCII (a parity or framing
  error on a real line).

The weight model (filter, noise, rounding, stability, zero, tare) is ``mt_sics_cell``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.sim.mt_sics_cell import Sample, ScaleConfig, WeighingCell

__all__ = ["MAX_LINE_CHARS", "MtSicsEngine", "ScaleConfig", "empty_pan"]

MAX_LINE_CHARS = 64  # a longer line without CR LF is answered ET and dropped to its end


def empty_pan(_t: float) -> float:
    """The default load: nothing on the pan (0 g) at any time."""
    return 0.0


class MtSicsEngine:
    """One simulated MT-SICS balance. ``feed`` takes the bytes a host wrote and returns the
    balance's output; ``poll`` returns what time produced (a deferred ``S``/``T``/``Z``
    reply, ``SIR`` lines). ``load(t)`` gives the grams on the pan at ``clock()`` time ``t``
    (s); the bench supplies it. Not thread-safe: the caller serialises.

    Test hooks: ``set_silent`` (the cable is pulled: input and output are lost while the
    balance runs on), ``inject_garbage`` (bytes that go out on the next ``poll``) and
    ``set_load``.
    """

    def __init__(
        self,
        config: ScaleConfig | None = None,
        *,
        load: Callable[[float], float] = empty_pan,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or ScaleConfig()
        self._clock = clock
        self._cell = WeighingCell(self.config, load)
        self._rx, self._out = bytearray(), bytearray()
        self._skipping = False  # an over-long line got ET: drop bytes up to its end
        self._pending: tuple[str, float] | None = None  # waiting command, deadline (s)
        self._streaming, self._next_line_at = False, 0.0
        self._silent = False
        handlers: dict[str, Callable[[str], None]] = dict.fromkeys("STZ", self._defer)
        self._handlers = handlers | {"@": self._reset, "I4": self._serial_number}
        self._handlers |= {"SI": self._immediate, "SIR": self._start_stream}

    def feed(self, data: bytes) -> bytes:
        """Receive ``data``; return the output, replies in command order."""
        if self._silent:
            return self.poll()
        self._service()
        for byte in data:
            if byte == 0x0A:
                line, self._rx = bytes(self._rx), bytearray()
                if not self._skipping:
                    self._execute(line.removesuffix(b"\r"))
                self._skipping = False
            elif not self._skipping:
                self._rx.append(byte)
                if len(self._rx) > MAX_LINE_CHARS:
                    self._rx.clear()
                    self._skipping = True
                    self._emit("ET")
        return self.poll()

    def poll(self) -> bytes:
        """Let time pass: deferred replies and ``SIR`` lines come out (nothing when silent)."""
        self._service()
        out, self._out = bytes(self._out), bytearray()
        return b"" if self._silent else out

    def set_silent(self, silent: bool) -> None:
        """Pull (True) or plug back (False) the cable: while pulled, what the host writes
        is lost and so is every line the balance sends."""
        self._silent = silent

    def inject_garbage(self, data: bytes) -> None:
        """Send ``data`` as it is with the next output (line noise, a cut line)."""
        self._out += data

    def set_load(self, load: Callable[[float], float]) -> None:
        """From now on ``load(t)`` gives the grams on the pan."""
        self._cell.load = load

    @property
    def tare_g(self) -> float:
        """The tare register (g, gross weight stored by the last ``T``; 0 when cleared)."""
        return self._cell.tare_g

    @property
    def streaming(self) -> bool:
        """True while ``SIR`` runs."""
        return self._streaming

    def sample(self) -> Sample:
        """What the display shows now."""
        self._cell.advance(self._clock())
        return self._cell.sample()

    def _emit(self, line: str) -> None:
        self._out += line.encode("ascii") + b"\r\n"

    def _execute(self, line: bytes) -> None:
        if any(byte < 0x20 or byte > 0x7E for byte in line):
            self._emit("ET")
            return
        fields = line.decode("ascii").split()
        handler = self._handlers.get(fields[0]) if fields else None
        if handler is None:
            self._emit("ES")
        elif len(fields) > 1:
            self._emit("EL")  # none of the commands we know takes an argument
        else:
            handler(fields[0])

    def _reset(self, _name: str) -> None:
        self._pending, self._streaming, self._cell.tare_g = None, False, 0.0
        self._serial_number("I4")

    def _serial_number(self, _name: str) -> None:
        self._emit(f'I4 A "{self.config.serial_number}"')

    def _defer(self, name: str) -> None:
        if self._pending is not None:
            self._emit(f"{name} I")
            return
        if name == "S":
            self._streaming = False
        self._pending = (name, self._clock() + self.config.stable_timeout_s)
        self._service()

    def _immediate(self, _name: str) -> None:
        self._streaming = False
        self._emit(self._weight_line(self._cell.sample()))

    def _start_stream(self, _name: str) -> None:
        self._streaming = True
        self._next_line_at = self._clock() + self.config.stream_interval_s
        self._emit(self._weight_line(self._cell.sample()))

    def _service(self) -> None:
        now = self._clock()
        self._cell.advance(now)
        if self._pending is not None:
            self._settle(now, *self._pending)
        if self._streaming and now >= self._next_line_at:
            self._emit(self._weight_line(self._cell.sample()))
            self._next_line_at += self.config.stream_interval_s
            if self._next_line_at <= now:  # fell behind (a long gap): no burst of old lines
                self._next_line_at = now + self.config.stream_interval_s

    def _settle(self, now: float, name: str, deadline: float) -> None:
        sample = self._cell.sample()
        if sample.overload or sample.underload:
            reply = f"{name} {'+' if sample.overload else '-'}"
        elif sample.stable:
            reply = self._complete(name, sample)
        elif now >= deadline:
            reply = f"{name} I"
        else:
            return
        self._pending = None
        self._emit(reply)

    def _complete(self, name: str, sample: Sample) -> str:
        if name == "T":
            return f"T S {self._value(self._cell.tare())} g"
        if name == "Z":
            self._cell.zero()
            return "Z A"
        return f"S S {self._value(sample.net_g)} g"

    def _weight_line(self, sample: Sample) -> str:
        if sample.overload or sample.underload:
            return f"S {'+' if sample.overload else '-'}"
        return f"S {'S' if sample.stable else 'D'} {self._value(sample.net_g)} g"

    def _value(self, grams: float) -> str:
        return f"{grams:>10.{self.config.decimals}f}"
