"""Dose events into the outbox, drained in order by system state, acknowledged to leave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.fakes import FakeTelemetryLink, InMemoryOutbox, ManualClock
from adapters.memory import InMemoryStatusBoard
from application.record_telemetry import RecordTelemetry
from application.telemetry_drainer import TelemetryDrainer
from domain.events import DoseEnded, DoseOutcome, DoseStarted
from domain.status import ControllerView, SystemSnapshot, SystemState
from domain.telemetry import DrainPolicy, MessageKind, OutboxPolicy, Severity

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class Rig:
    def __init__(self, capacity: int = 100, state: SystemState = SystemState.IDLE) -> None:
        self.clock = ManualClock(T0)
        self.outbox = InMemoryOutbox()
        self.link = FakeTelemetryLink()
        self.board = InMemoryStatusBoard()
        self.board.publish(SystemSnapshot(state, (), ControllerView(True, "Idle")))
        self.record = RecordTelemetry(self.outbox, OutboxPolicy(capacity, 2), self.clock)
        self.drainer = TelemetryDrainer(self.outbox, self.link, self.board, DrainPolicy())

    def dose(self, dose_id: str, seconds: float = 2.0) -> None:
        self.record.record(DoseStarted(dose_id, "X", 2.0, 60.0, 40.0, 1200.0), self.clock.now())
        self.clock.advance(seconds)
        ended = DoseEnded(dose_id, "X", 2.0, 1.9998, DoseOutcome.COMPLETED)
        self.record.record(ended, self.clock.now())


def test_a_dose_becomes_a_start_and_a_complete_event_with_the_users_fields() -> None:
    rig = Rig()
    rig.dose("dose-1", seconds=2.5)
    start, complete = rig.outbox.pending(10)
    assert start.kind is MessageKind.DISPENSE_EVENT
    assert start.message() == {
        "eventType": "dispenseStart",
        "doseId": "dose-1",
        "pump": "X",
        "volume_ml": 2.0,
        "flowRate_ml_min": 60.0,
        "timestamp": "2026-11-21T12:00:00.000Z",
        "seq": 1,
    }
    assert complete.message()["eventType"] == "dispenseComplete"
    assert complete.message()["actualVolume_ml"] == pytest.approx(1.9998)
    assert complete.message()["duration_sec"] == 2.5
    assert complete.message()["success"] is True
    assert complete.message()["timestamp"] == "2026-11-21T12:00:02.500Z"


def test_idle_drains_in_order_and_acknowledged_entries_leave_the_outbox() -> None:
    rig = Rig()
    for n in range(3):
        rig.dose(f"dose-{n}")
    assert rig.drainer.step() == pytest.approx(0.010)
    assert [e.seq for e in rig.link.delivered] == [1, 2, 3, 4, 5, 6]
    rig.drainer.step()  # acknowledgements are settled on the drainer's own thread
    assert rig.outbox.depth() == 0


def test_idle_sends_at_most_ten_per_step() -> None:
    rig = Rig()
    for n in range(8):
        rig.dose(f"dose-{n}")
    rig.drainer.step()
    assert len(rig.link.delivered) == 10


def test_dispensing_throttles_to_one_message_per_100_ms() -> None:
    rig = Rig(state=SystemState.DISPENSING)
    rig.dose("dose-1")
    assert rig.drainer.step() == pytest.approx(0.100)
    assert len(rig.link.delivered) == 1


def test_an_emergency_sends_alarms_before_older_events() -> None:
    rig = Rig(state=SystemState.EMERGENCY)
    rig.dose("dose-1")
    rig.record.raise_alarm("emergencyStop", "stop pressed", Severity.CRITICAL)
    rig.drainer.step()
    assert [e.kind for e in rig.link.delivered][:1] == [MessageKind.ALARM]


def test_nothing_leaves_the_outbox_without_an_acknowledgement() -> None:
    rig = Rig()
    rig.link.auto_ack = False
    rig.dose("dose-1")
    rig.drainer.step()
    rig.drainer.step()  # in flight: not sent twice on the same session
    assert len(rig.link.delivered) == 2
    assert rig.outbox.depth() == 2
    rig.link.ack_all()
    rig.drainer.step()
    assert rig.outbox.depth() == 0


def test_after_a_reconnect_what_was_in_flight_is_sent_again_in_order() -> None:
    rig = Rig()
    rig.link.auto_ack = False
    rig.dose("dose-1")
    rig.drainer.step()
    rig.link.up = False
    assert rig.drainer.step() == pytest.approx(0.5)
    rig.link.reconnect()
    rig.link.auto_ack = True
    rig.drainer.step()
    assert [e.seq for e in rig.link.delivered] == [1, 2, 1, 2]
    rig.drainer.step()
    assert rig.outbox.depth() == 0


def test_a_full_outbox_drops_new_events_with_one_overflow_alarm() -> None:
    rig = Rig(capacity=3)
    rig.dose("dose-1")
    rig.dose("dose-2")  # the 4th event does not fit
    rig.dose("dose-3")
    kinds = [e.kind for e in rig.outbox.pending(100)]
    assert kinds.count(MessageKind.ALARM) == 1
    assert rig.record.dropped == 3
    assert rig.outbox.pending(100)[-1].message()["alarmType"] == "outboxOverflow"


def test_the_overflow_alarm_is_raised_again_after_the_outbox_had_room() -> None:
    rig = Rig(capacity=2)
    rig.dose("dose-1")
    rig.dose("dose-2")
    rig.drainer.step()
    rig.drainer.step()
    rig.dose("dose-3")
    rig.dose("dose-4")
    alarms = [e for e in rig.link.delivered + rig.outbox.pending(100) if e.kind.is_alarm]
    assert len(alarms) == 2


def test_timestamps_are_in_order_and_seq_is_monotonic() -> None:
    rig = Rig()
    for n in range(5):
        rig.dose(f"dose-{n}", seconds=0.25)
        rig.clock.advance(timedelta(seconds=1).total_seconds())
    messages = [e.message() for e in rig.outbox.pending(100)]
    assert [m["seq"] for m in messages] == sorted(m["seq"] for m in messages)
    assert [m["timestamp"] for m in messages] == sorted(m["timestamp"] for m in messages)


def test_in_an_emergency_events_wait_until_the_alarms_are_acknowledged() -> None:
    rig = Rig(state=SystemState.EMERGENCY)
    rig.link.auto_ack = False
    rig.dose("dose-1")
    rig.record.raise_alarm("emergencyStop", "stop pressed", Severity.CRITICAL)
    rig.drainer.step()
    rig.drainer.step()
    assert [e.kind for e in rig.link.delivered] == [MessageKind.ALARM]
    rig.link.ack_all()
    rig.drainer.step()
    assert [e.kind for e in rig.link.delivered][1:] == [
        MessageKind.DISPENSE_EVENT,
        MessageKind.DISPENSE_COMPLETE,
    ]
