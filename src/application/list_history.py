"""Use case: list the dose journal, newest first."""

from __future__ import annotations

from datetime import datetime

from application.ports import DoseJournal
from domain.journal import DoseRecord

MAX_LIMIT = 1000


class ListHistory:
    """Doses newest first; ``limit`` is clamped to 1..1000."""

    def __init__(self, journal: DoseJournal) -> None:
        self._journal = journal

    def execute(self, limit: int = 100, since: datetime | None = None) -> list[DoseRecord]:
        """At most ``limit`` doses started at or after ``since`` (timezone-aware), newest
        first. Volumes in ml, flow rates in ml/min."""
        return self._journal.history(limit=max(1, min(limit, MAX_LIMIT)), since=since)
