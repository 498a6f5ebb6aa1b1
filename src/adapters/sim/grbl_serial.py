"""Serial input of the Grbl simulator: real-time byte capture, RX buffer and line assembly.

gnea/grbl 1.1h serial.c (receive interrupt) and protocol.c (``protocol_main_loop`` filter).
"""

from __future__ import annotations

from dataclasses import dataclass, field

RX_BUFFER_SIZE = 128  # config.h RX_BUFFER_SIZE (Uno)
LINE_BUFFER_SIZE = 80  # protocol.h LINE_BUFFER_SIZE; the last byte is the terminator
REALTIME = frozenset(b"?!~\x18")


@dataclass(slots=True)
class Line:
    """One received line as Grbl hands it on: spaces, control characters and comments
    removed, upper case. ``overflow`` means it exceeded the line buffer (``error:11``)."""

    text: str
    overflow: bool = False


@dataclass(slots=True)
class _Partial:
    text: bytearray = field(default_factory=bytearray)
    overflow: bool = False
    comment: int = 0  # the opening byte, "(" or ";", while inside a comment


class SerialInput:
    """The receive side of Grbl's serial line.

    ``receive`` is the interrupt: it returns the real-time commands ``?`` ``!`` ``~`` 0x18
    for immediate action, drops other bytes above 0x7F and buffers the rest in the 128-byte
    RX buffer. Bytes that find it full are dropped by real Grbl (``drop_overflow``); by
    default they wait in order, as if still in the kernel's pty buffer, and move in as the
    main loop consumes. ``read_line`` is the main loop's filter (``\\r`` and ``\\n`` both end
    a line; ``/`` is ignored; ``(..)`` and ``;`` comments are removed).
    """

    def __init__(self, *, drop_overflow: bool = False) -> None:
        self._drop = drop_overflow
        self._rx, self._backlog, self._line = bytearray(), bytearray(), _Partial()

    @property
    def free(self) -> int:
        """Free RX buffer bytes, as the status report's ``Bf:`` second value."""
        return RX_BUFFER_SIZE - len(self._rx)

    def receive(self, byte: int) -> int | None:
        """Take one byte off the wire; return it if it is a real-time command."""
        if byte in REALTIME:
            return byte
        if byte > 0x7F:
            return None  # extended real-time commands (overrides, jog cancel, door)
        if len(self._rx) < RX_BUFFER_SIZE and not self._backlog:
            self._rx.append(byte)
        elif not self._drop:
            self._backlog.append(byte)
        return None

    def reset(self) -> None:
        """main.c ``serial_reset_read_buffer`` and a fresh line after a soft reset."""
        self._rx.clear()
        self._line = _Partial()
        self._top_up()

    def read_line(self) -> Line | None:
        """Consume buffered bytes up to the end of a line; None when no whole line is in."""
        while self._rx:
            c = self._rx.pop(0)
            self._top_up()
            if c in b"\r\n":
                done, self._line = self._line, _Partial()
                return Line(done.text.decode("ascii"), done.overflow)
            line = self._line
            if line.comment or line.overflow:
                if c == ord(")") and line.comment == ord("("):
                    line.comment = 0
            elif c <= 0x20 or c == ord("/"):
                pass  # whitespace and control characters; block delete is not supported
            elif c in b"(;":
                line.comment = c
            elif len(line.text) >= LINE_BUFFER_SIZE - 1:
                line.overflow = True
            else:
                line.text.append(c - 32 if ord("a") <= c <= ord("z") else c)
        return None

    def _top_up(self) -> None:
        room = RX_BUFFER_SIZE - len(self._rx)
        if room and self._backlog:
            self._rx += self._backlog[:room]
            del self._backlog[:room]
