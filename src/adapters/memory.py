"""In-process status board: the control plane's latest snapshot, copy-on-write."""

from __future__ import annotations

from domain.status import SystemSnapshot


class InMemoryStatusBoard:
    """``StatusBoard`` port: publishing swaps one reference to an immutable snapshot, so
    readers on any thread get a consistent view without locking the control plane."""

    def __init__(self) -> None:
        self._latest: SystemSnapshot | None = None

    def publish(self, snapshot: SystemSnapshot) -> None:
        self._latest = snapshot  # one reference store: atomic, readers never see half

    def latest(self) -> SystemSnapshot:
        """The latest snapshot; raises ``LookupError`` before the first publish."""
        snapshot = self._latest
        if snapshot is None:
            raise LookupError("no snapshot published yet")
        return snapshot
