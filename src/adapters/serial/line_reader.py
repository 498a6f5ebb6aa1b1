"""One open serial port read by its own thread, in blocks, split into lines: the piece the
Grbl link and the MT-SICS scale link share.

Blocks, never ``readline``: pyserial's ``readline`` reads byte by byte, and with a
CPU-bound thread in the process each byte can wait out the GIL's 5 ms switch interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

import serial

LOG = logging.getLogger(__name__)


class SerialPort(Protocol):
    """The slice of ``serial.Serial`` the adapters use, so tests can pass their own."""

    @property
    def in_waiting(self) -> int: ...
    def read(self, size: int = 1) -> bytes: ...
    def write(self, data: bytes, /) -> int | None: ...
    def close(self) -> None: ...


SerialFactory = Callable[[str, int, float], SerialPort]


def open_serial_port(port: str, baudrate: int, read_timeout_s: float) -> SerialPort:
    """Open ``port`` (a device path or any pyserial URL) exclusively, 8N1 at ``baudrate``.

    ``read_timeout_s`` (s) bounds one read. pyserial discards input that arrived before
    ``open``. Raises ``serial.SerialException`` / ``OSError`` / ``ValueError``.
    """
    return serial.serial_for_url(
        port, baudrate=baudrate, timeout=read_timeout_s, write_timeout=1.0, exclusive=True
    )


class LineConnection:
    """One open ``port``, the thread reading it and its partial input line.

    ``start`` runs the reader: every line (bytes, without the ``\\n``) goes to ``on_line``;
    a line that grew past ``max_partial`` bytes without a newline goes to ``on_overflow``
    and is dropped; a failed read calls ``on_lost`` with the reason once and ends the
    thread. An exception from ``on_line`` is logged, never kills the reader.
    """

    def __init__(self, port: SerialPort, name: str) -> None:
        self.port = port
        self.name = name  # for the thread and the logs, e.g. "grbl-reader"
        self.stop = threading.Event()
        self._pending = bytearray()
        self._thread: threading.Thread | None = None

    def start(
        self,
        on_line: Callable[[bytes], None],
        on_lost: Callable[[str], None],
        on_overflow: Callable[[bytes], None],
        max_partial: int,
    ) -> None:
        """Start the reader thread (daemon)."""
        self._thread = threading.Thread(
            target=self._read_loop,
            args=(on_line, on_lost, on_overflow, max_partial),
            name=self.name,
            daemon=True,
        )
        self._thread.start()

    def shutdown(self, join_timeout_s: float) -> None:
        """Stop the reader (waiting up to ``join_timeout_s`` s, unless called from it) and
        close the port; a port that fails to close is logged at debug level."""
        self.stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=join_timeout_s)
        try:
            self.port.close()
        except (serial.SerialException, OSError) as exc:
            LOG.debug("%s: closing the port: %s", self.name, exc)

    def _read_loop(
        self,
        on_line: Callable[[bytes], None],
        on_lost: Callable[[str], None],
        on_overflow: Callable[[bytes], None],
        max_partial: int,
    ) -> None:
        port = self.port
        while not self.stop.is_set():
            try:
                chunk = port.read(max(1, port.in_waiting))
            except Exception as exc:  # any failure of a vanished port ends this link
                if not self.stop.is_set():
                    on_lost(f"read failed: {exc}")
                return
            if not chunk:
                continue
            self._pending += chunk
            *lines, rest = self._pending.split(b"\n")
            self._pending = bytearray(rest)
            if len(self._pending) > max_partial:
                overflow, self._pending = bytes(self._pending), bytearray()
                on_overflow(overflow)
            for raw in lines:
                try:
                    on_line(bytes(raw))
                except Exception:  # a bad line must never kill the reader
                    LOG.exception("%s: could not handle line %r", self.name, raw[:80])
