"""What the simulated Grbl was told to move: a tap on its serial input."""

from __future__ import annotations

import re
from typing import Any

# A move line as the Grbl adapter writes it: "G91 G1 X12.500 Y3.000 F3000.000".
MOVE = re.compile(r"\bG1 ((?:[XYZABC]-?[\d.]+ ?)+)F([\d.]+)")
REALTIME = re.compile(rb"[?!~\x18\x80-\xff]")  # bytes Grbl takes out of the line stream


class GcodeTap:
    """Records every move line the simulated Grbl receives: ``moves`` holds
    ``({axis: mm}, feed mm/min)`` in the order received."""

    def __init__(self, simulator: Any) -> None:
        self.moves: list[tuple[dict[str, float], float]] = []
        self._pending = b""
        simulator.with_engine(self._wrap)

    def _wrap(self, engine: Any) -> None:
        receive = engine.feed

        def feed(data: bytes) -> bytes:
            self._pending += REALTIME.sub(b"", data)
            *lines, self._pending = self._pending.split(b"\n")
            for line in lines:
                if found := MOVE.search(line.decode("ascii", "replace")):
                    words, feed_mm_min = found.groups()
                    axes = {word[0]: float(word[1:]) for word in words.split()}
                    self.moves.append((axes, float(feed_mm_min)))
            return bytes(receive(data))

        engine.feed = feed
