"""The emergency latch: refuses doses while engaged, and survives a restart through NVS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.fakes import InMemoryNvs, ManualClock
from application.emergency_latch import EmergencyLatch
from domain.errors import EmergencyStopLatched

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)


def test_an_engaged_latch_refuses_with_why_and_since_when() -> None:
    latch = EmergencyLatch(InMemoryNvs(), ManualClock(T0))
    assert latch.engage("emergency stop from http") is True
    with pytest.raises(EmergencyStopLatched, match=r"from http since 2026-11-21T12:00:00\.000Z"):
        latch.ensure_released()


def test_engaging_twice_keeps_the_first_reason() -> None:
    latch = EmergencyLatch(InMemoryNvs(), ManualClock(T0))
    latch.engage("emergency stop from http")
    assert latch.engage("emergency stop from mqtt") is False
    assert "from http" in latch.reason


def test_the_latch_survives_a_restart_until_released() -> None:
    nvs, clock = InMemoryNvs(), ManualClock(T0)
    EmergencyLatch(nvs, clock).engage("emergency stop from http")
    after_restart = EmergencyLatch(nvs, clock)
    assert after_restart.engaged
    assert after_restart.release() is True
    assert not EmergencyLatch(nvs, clock).engaged
    EmergencyLatch(nvs, clock).ensure_released()
