"""The daemon process's own figures (psutil)."""

from __future__ import annotations

import psutil


class ProcessMetrics:
    """``HostMetrics`` for this process."""

    def __init__(self) -> None:
        self._process = psutil.Process()

    def memory_kib(self) -> int:
        return int(self._process.memory_info().rss // 1024)
