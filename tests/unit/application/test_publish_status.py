"""Latest-value telemetry: status every 30 s idle / 5 s dispensing / 1 s in an emergency,
pump status when it changes, queue health with the 80 % warning."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.fakes import (
    FakeTelemetryLink,
    InMemoryJournal,
    InMemoryNvs,
    InMemoryOutbox,
    ManualClock,
    ManualSleeper,
)
from adapters.memory import InMemoryStatusBoard
from application.publish_status import PublishStatus
from application.pump_presets import Preset, PumpPresets
from domain.pump import PumpState
from domain.status import ControllerView, PumpView, SystemSnapshot, SystemState
from domain.telemetry import MessageKind, OutboxPolicy
from domain.telemetry_status import StatusCadence


class FixedMemory:
    def memory_kib(self) -> int:
        return 51_200


def pump(state: PumpState, dose_id: str | None = None) -> PumpView:
    return PumpView("X", "DMDEE", state, dose_id, None, None, None, 0.05, 15.0, 500.0, "")


class Rig:
    def __init__(self, capacity: int = 10) -> None:
        self.clock = ManualClock(datetime(2026, 11, 21, 12, tzinfo=UTC))
        self.link = FakeTelemetryLink()
        self.board = InMemoryStatusBoard()
        self.outbox = InMemoryOutbox()
        self.presets = PumpPresets(InMemoryNvs(), {"X": Preset(1.0, 15.0)}, {"X": 500.0})
        self.publisher = PublishStatus(
            link=self.link,
            board=self.board,
            outbox=self.outbox,
            journal=InMemoryJournal(),
            host=FixedMemory(),
            clock=self.clock,
            sleeper=ManualSleeper(),
            cadence=StatusCadence(),
            outbox_policy=OutboxPolicy(capacity, 1),
            dropped=lambda: 0,
            presets=self.presets,
        )
        self.show(SystemState.IDLE, PumpState.IDLE)

    def show(self, state: SystemState, pump_state: PumpState, dose_id: str | None = None) -> None:
        snapshot = SystemSnapshot(state, (pump(pump_state, dose_id),), ControllerView(True, "Idle"))
        self.board.publish(snapshot)

    def sent(self, what: str) -> list[dict[str, object]]:
        return [p for w, p in self.link.published if w == what]


def statuses_over(rig: Rig, seconds: int) -> int:
    before = len(rig.sent("status"))
    for _ in range(seconds * 4):
        rig.publisher.tick()
        rig.clock.advance(0.25)
    return len(rig.sent("status")) - before


def test_idle_status_goes_out_every_30_s() -> None:
    rig = Rig()
    assert statuses_over(rig, 60) == 2


def test_dispensing_status_goes_out_every_5_s_and_emergency_every_second() -> None:
    rig = Rig()
    rig.show(SystemState.DISPENSING, PumpState.DOSING, "dose-1")
    assert statuses_over(rig, 10) == 2
    rig.show(SystemState.EMERGENCY, PumpState.FAULT)
    assert statuses_over(rig, 5) == 5


def test_the_status_carries_state_memory_and_outbox_depth() -> None:
    rig = Rig()
    rig.outbox.append(MessageKind.DISPENSE_EVENT, {"eventType": "dispenseStart"})
    rig.publisher.tick()
    [status] = rig.sent("status")
    assert (status["state"], status["memory_kib"], status["outboxDepth"]) == ("IDLE", 51_200, 1)


def test_pump_status_is_published_on_change_only() -> None:
    rig = Rig()
    statuses_over(rig, 5)
    assert len(rig.sent("pump/X/status")) == 1
    rig.show(SystemState.DISPENSING, PumpState.DOSING, "dose-1")
    statuses_over(rig, 5)
    assert [p["state"] for p in rig.sent("pump/X/status")] == ["idle", "dosing"]


def test_a_new_one_touch_volume_republishes_the_pump_status() -> None:
    rig = Rig()
    rig.publisher.tick()
    rig.presets.set_volume("X", 2.5)
    rig.publisher.tick()
    assert [p["doseVolume_ml"] for p in rig.sent("pump/X/status")] == [1.0, 2.5]


def test_queue_status_warns_at_80_percent() -> None:
    rig = Rig(capacity=10)
    for n in range(8):
        rig.outbox.append(MessageKind.DISPENSE_EVENT, {"n": n})
    rig.publisher.tick()
    [queue] = rig.sent("queue/status")
    assert (queue["depth"], queue["warning"]) == (8, True)


def test_nothing_is_published_while_disconnected_and_all_again_after_reconnecting() -> None:
    rig = Rig()
    rig.link.up = False
    rig.publisher.tick()
    assert rig.link.published == []
    rig.link.reconnect()
    rig.publisher.tick()
    assert {w for w, _ in rig.link.published} == {"status", "queue/status", "pump/X/status"}
