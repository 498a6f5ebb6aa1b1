"""In-memory fakes for the ports: fast acceptance runs and unit tests, inspectable state.

They behave like the real thing in the ways the use cases can observe (motion takes time
at the commanded feed, a feed hold comes to rest, an alarm stops motion), not like mocks.
"""

from adapters.fakes.motion import FakeMotionController
from adapters.fakes.network import FakeBrokerSession, FakeNetworkIdentity, ManualSleeper
from adapters.fakes.recipes import InMemoryRecipeStore
from adapters.fakes.schedules import InMemoryScheduleBook
from adapters.fakes.storage import InMemoryJournal, InMemoryNvs, InMemoryOutbox, ManualClock
from adapters.fakes.telemetry import (
    FakeAnnouncer,
    FakeCommandSource,
    FakeTelemetryLink,
    RecordingAlarms,
)

__all__ = [
    "FakeAnnouncer",
    "FakeBrokerSession",
    "FakeCommandSource",
    "FakeMotionController",
    "FakeNetworkIdentity",
    "FakeTelemetryLink",
    "InMemoryJournal",
    "InMemoryNvs",
    "InMemoryOutbox",
    "InMemoryRecipeStore",
    "InMemoryScheduleBook",
    "ManualClock",
    "ManualSleeper",
    "RecordingAlarms",
]
