"""The connection supervisor on fakes: backoff on a fake clock, registration on every
connect, re-registration on a profile change, a clean stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.fakes import (
    FakeBrokerSession,
    FakeNetworkIdentity,
    InMemoryNvs,
    ManualClock,
    ManualSleeper,
)
from application.connection_supervisor import ConnectionSupervisor
from application.device_config import UpdateDeviceConfig
from application.device_profile import DeviceProfiles
from application.register_device import RegisterDevice
from domain.mqtt_link import BackoffPolicy, LinkState, MqttLink
from domain.registration import DeviceProfile

DEFAULTS = DeviceProfile("doser", "")


class Rig:
    def __init__(self, sleeper: ManualSleeper, policy: BackoffPolicy | None = None) -> None:
        self.session = FakeBrokerSession()
        self.nvs = InMemoryNvs()
        self.profiles = DeviceProfiles(self.nvs, DEFAULTS)
        self.sleeper = sleeper
        register = RegisterDevice(self.session, self.profiles, FakeNetworkIdentity())
        link = MqttLink(policy or BackoffPolicy(), random_unit=lambda: 0.5)
        self.supervisor = ConnectionSupervisor(self.session, link, register, sleeper)


def test_a_broker_that_stays_down_is_retried_at_30_60_and_so_on_to_3600_s() -> None:
    clock = ManualClock(datetime(2026, 11, 21, tzinfo=UTC))
    rig = Rig(ManualSleeper(clock, stop_after=10))
    rig.session.up = False
    rig.supervisor.run()
    assert rig.sleeper.waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert rig.session.attempts == 10
    assert clock.monotonic() == sum(rig.sleeper.waits)


def test_each_connection_registers_with_the_profile_the_ip_and_the_mac() -> None:
    rig = Rig(ManualSleeper())
    rig.nvs.set_many("device", {"name": "Station 1", "location": "Greenhouse B"})
    thread = threading.Thread(target=rig.supervisor.run)
    thread.start()
    try:
        wait_until(lambda: rig.session.registrations)
        [registration] = rig.session.registrations
        assert registration.device_name == "Station 1"
        assert registration.location_description == "Greenhouse B"
        assert registration.ip_address == "192.0.2.10"
        assert registration.mac_address == "02:00:5E:A1:B2:C3"
        assert rig.session.availability == ["online"]
    finally:
        rig.sleeper.stop()
        thread.join(timeout=5)
    assert rig.session.availability == ["online", "offline"]
    assert rig.supervisor.view().state is LinkState.DISCONNECTED


def test_a_dropped_session_waits_30_s_reconnects_and_registers_again() -> None:
    session_back = threading.Event()
    rig = Rig(ManualSleeper(on_wait=lambda n: session_back.set()))
    thread = threading.Thread(target=rig.supervisor.run)
    thread.start()
    try:
        wait_until(lambda: len(rig.session.registrations) == 1)
        rig.session.drop("keepalive timeout")
        wait_until(lambda: len(rig.session.registrations) == 2)
        assert rig.sleeper.waits == [30]
        assert rig.session.connects == 2
        assert rig.supervisor.view().state is LinkState.CONNECTED
    finally:
        rig.sleeper.stop()
        thread.join(timeout=5)


def test_after_a_successful_connection_the_backoff_starts_again_at_30_s() -> None:
    def outage(n: int) -> None:
        if n == 3:
            rig.session.up = True

    rig = Rig(ManualSleeper(on_wait=outage))
    rig.session.up = False
    thread = threading.Thread(target=rig.supervisor.run)
    thread.start()
    try:
        wait_until(lambda: rig.session.registrations)
        rig.session.up = False
        rig.session.drop("broker restarted")
        wait_until(lambda: len(rig.sleeper.waits) >= 5)
        assert rig.sleeper.waits[:5] == [30, 60, 120, 30, 60]
    finally:
        rig.sleeper.stop()
        thread.join(timeout=5)


def test_refused_credentials_are_retried_with_backoff_and_the_reason_is_kept() -> None:
    rig = Rig(ManualSleeper(stop_after=3))
    rig.session.refusal = "Not authorized"
    rig.supervisor.run()
    assert rig.sleeper.waits == [30, 60, 120]
    assert "Not authorized" in rig.supervisor.view().last_error


def test_a_profile_change_while_connected_is_announced_at_once() -> None:
    rig = Rig(ManualSleeper())
    thread = threading.Thread(target=rig.supervisor.run)
    thread.start()
    try:
        wait_until(lambda: rig.session.registrations)
        UpdateDeviceConfig(rig.profiles, rig.supervisor).execute(location="Lab 2")
        assert rig.session.registrations[-1].location_description == "Lab 2"
        assert rig.session.registrations[-1].device_name == "doser"
        assert rig.nvs.get_all("device") == {"name": "doser", "location": "Lab 2"}
    finally:
        rig.sleeper.stop()
        thread.join(timeout=5)


def test_a_profile_change_while_disconnected_is_stored_and_sent_on_connect() -> None:
    rig = Rig(ManualSleeper(stop_after=1))
    rig.session.up = False
    UpdateDeviceConfig(rig.profiles, rig.supervisor).execute(name="Station 9")
    assert rig.session.registrations == []
    assert rig.profiles.current().name == "Station 9"


def wait_until(condition: Callable[[], object], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
