"""Status LEDs on the Linux LED class (``/sys/class/leds``): one LED per cue, blinking by
the kernel's timer trigger, so the renderer writes only when the frame changes.

Kernel sources (Documentation/ABI/testing/sysfs-class-led, sysfs-class-led-multicolor,
Documentation/leds/leds-class.rst, leds-class-multicolor.rst, ledtrig-timer and
drivers/leds/led-core.c):

- ``brightness`` takes 0..``max_brightness``; writing 0 clears an active trigger, a
  non-zero value while a trigger runs sets the brightness the trigger uses.
  ``max_brightness`` is 255 (LED_FULL) by default and 1 for an on/off (GPIO) LED.
- ``trigger``: writing ``none`` stops the trigger and turns the LED off; writing
  ``timer`` starts blinking and makes ``delay_on`` and ``delay_off`` (ms) appear in the
  LED's directory. The software blink runs at the brightness the LED had when blinking
  started (``max_brightness`` if it was dark).
- A multicolour LED lists its colours in ``multi_index`` (e.g. ``red green blue``); its
  ``multi_intensity`` takes one value per colour, in that order and all at once; each
  colour then shows ``brightness x intensity / max_brightness``.

Write order for one LED, and why: ``trigger`` ``none`` first (a clean state: no timer
left from the previous cue); ``multi_intensity``, if any, before ``brightness`` (which
applies it); ``brightness`` before ``trigger`` ``timer`` (the blink takes that
brightness); ``delay_on`` and ``delay_off`` last (they exist only once ``timer`` is
selected).
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from domain.led import OFF, LedCue, LedFrame, Rgb

_log = logging.getLogger(__name__)

DEFAULT_MAX_BRIGHTNESS = 255
"""Used when an LED has no ``max_brightness`` file (the kernel's LED_FULL default)."""

SYSFS_LEDS = Path("/sys/class/leds")

AttributeWriter = Callable[[Path, str], None]
"""Writes one sysfs attribute: (file, value)."""


def write_attribute(path: Path, value: str) -> None:
    """Write ``value`` to the sysfs attribute ``path`` in one ``write()`` (a sysfs store
    takes the whole value at once). Never creates the file: sysfs cannot, and a missing
    attribute is an error (``FileNotFoundError``); any failure is an ``OSError``."""
    data = value.encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(errno.EIO, f"short write to {path}: {written} of {len(data)} bytes")


@dataclass(frozen=True, slots=True)
class _Led:
    name: str
    path: Path
    max_brightness: int
    colors: tuple[str, ...] | None  # multi_index order; None for a single-colour LED


class SysfsLights:
    """``StatusLights`` on LED class devices, one per cue, in ``leds`` order. Each entry
    is an LED directory or a bare name under ``root`` (default ``/sys/class/leds``).

    A steady cue sets the colour; a blinking cue sets the lit colour and the timer
    trigger with the cue's on and off times (ms); a cue whose colour is OFF turns the LED
    off. A single-colour LED shows a colour's largest channel, scaled to
    ``max_brightness`` (never rounded down to dark: an on/off LED lights for any colour
    but OFF). A multicolour LED gets the red, green and blue channels as intensities
    (other colours in ``multi_index``, e.g. white, stay 0) and full brightness.

    Only LEDs whose cue changed since the last ``show`` are written. ``write`` writes one
    attribute (tests pass a recorder). Raises ``ValueError`` when ``leds`` is empty,
    ``FileNotFoundError`` naming the LED when its directory, ``brightness`` or
    ``trigger`` is missing, and ``ValueError`` naming it when ``max_brightness`` is not a
    positive integer.
    """

    blinks_by_itself: bool = True

    def __init__(
        self,
        leds: Sequence[str | Path],
        root: Path = SYSFS_LEDS,
        *,
        write: AttributeWriter = write_attribute,
    ) -> None:
        if not leds:
            raise ValueError("no sysfs LEDs given")
        self._leds = tuple(_probe(entry, root) for entry in leds)
        self._write = write
        self._shown: list[LedCue | None] = [None] * len(self._leds)
        self._closed = False
        self._lock = threading.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        """The LEDs' names, in cue order."""
        return tuple(led.name for led in self._leds)

    def show(self, frame: LedFrame, pixels: tuple[Rgb, ...]) -> None:
        """Show ``frame`` (one cue per LED); ``pixels`` are not needed (the kernel blinks).
        Raises ``ValueError`` when either has not one entry per LED, ``OSError`` when an
        attribute cannot be written or the lights were closed; an LED that failed is
        written again at the next ``show``."""
        if len(frame) != len(self._leds) or len(pixels) != len(self._leds):
            raise ValueError(
                f"{len(self._leds)} sysfs LEDs, got a frame of {len(frame)} cues "
                f"and {len(pixels)} pixels"
            )
        with self._lock:
            if self._closed:
                raise OSError(errno.EBADF, "the sysfs LEDs were closed")
            for index, (led, wanted) in enumerate(zip(self._leds, frame, strict=True)):
                cue = _normalised(wanted)
                if cue == self._shown[index]:
                    continue
                self._shown[index] = None  # unknown until every write succeeded
                self._apply(led, cue)
                self._shown[index] = cue

    def close(self) -> None:
        """Turn every LED off (trigger ``none``, brightness 0); idempotent. Tries every
        LED, then raises the first ``OSError``, if any."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            failure: OSError | None = None
            for led in self._leds:
                try:
                    self._write(led.path / "trigger", "none")
                    self._write(led.path / "brightness", "0")
                except OSError as exc:
                    if failure is not None:  # the first one is raised below
                        _log.warning("sysfs LED %s could not be turned off: %s", led.name, exc)
                    failure = failure or exc
            if failure is not None:
                raise failure

    def _apply(self, led: _Led, cue: LedCue) -> None:
        self._write(led.path / "trigger", "none")
        if cue.color == OFF:
            self._write(led.path / "brightness", "0")
            return
        if led.colors is None:
            level = _level(max(cue.color.r, cue.color.g, cue.color.b), led.max_brightness)
        else:
            intensities = (_intensity(cue.color, c, led.max_brightness) for c in led.colors)
            self._write(led.path / "multi_intensity", " ".join(map(str, intensities)))
            level = led.max_brightness
        self._write(led.path / "brightness", str(level))
        if cue.blink is not None:
            self._write(led.path / "trigger", "timer")
            self._write(led.path / "delay_on", str(cue.blink.on_ms))
            self._write(led.path / "delay_off", str(cue.blink.off_ms))


def open_sysfs_lights(names: Sequence[str], root: Path = SYSFS_LEDS) -> SysfsLights:
    """``SysfsLights`` on the LEDs ``names`` (bare names under ``root``, or directories);
    raises as its constructor does."""
    return SysfsLights(names, root)


def _probe(entry: str | Path, root: Path) -> _Led:
    """The LED at ``entry``: checked, with its ``max_brightness`` and colours read."""
    path = Path(entry)
    if len(path.parts) == 1 and not path.is_absolute():
        path = root / path
    name = path.name
    if not path.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"sysfs LED {name!r}: no directory", str(path))
    for attribute in ("brightness", "trigger"):
        if not (path / attribute).exists():
            raise FileNotFoundError(
                errno.ENOENT,
                f"sysfs LED {name!r}: no {attribute} attribute (not an LED class device?)",
                str(path / attribute),
            )
    max_brightness = DEFAULT_MAX_BRIGHTNESS
    if (path / "max_brightness").exists():
        text = (path / "max_brightness").read_text().strip()
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"sysfs LED {name!r}: max_brightness {text!r} is not >= 1")
        max_brightness = int(text)
    colors = None
    if (path / "multi_intensity").exists():
        if not (path / "multi_index").exists():
            raise FileNotFoundError(
                errno.ENOENT,
                f"sysfs LED {name!r}: multi_intensity without multi_index",
                str(path / "multi_index"),
            )
        colors = tuple((path / "multi_index").read_text().split())
    return _Led(name, path, max_brightness, colors)


def _normalised(cue: LedCue) -> LedCue:
    """``cue`` as written: a dark blink or one never on is OFF, one never off is steady."""
    if cue.blink is None:
        return cue
    if cue.color == OFF or cue.blink.on_ms <= 0:
        return LedCue(OFF)
    if cue.blink.off_ms <= 0:
        return LedCue(cue.color)
    return cue


def _level(channel: int, maximum: int) -> int:
    """``channel`` (0-255) on a 0..``maximum`` scale; a lit channel stays at least 1."""
    return 0 if channel == 0 else max(1, round(channel * maximum / 255))


def _intensity(color: Rgb, name: str, maximum: int) -> int:
    channel = {"red": color.r, "green": color.g, "blue": color.b}.get(name, 0)
    return _level(channel, maximum)
