"""The world of the MQTT acceptance scenarios: the daemon's settings, the daemon in-process
and the broker (fake session or real mosquitto) it talks to."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.fakes import FakeBrokerSession
from bootstrap.settings import (
    SIMULATED_PUMPS,
    DeviceSettings,
    HttpSettings,
    MqttSettings,
    Settings,
)
from support.daemon_harness import TOKEN, FakeBroker, RealBroker, RunningDaemon
from support.mosquitto import free_port


class MqttWorld:
    """What the registration and reconnection scenarios set up, start and observe."""

    def __init__(self, wiring: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.wiring = wiring
        self.tmp_path = tmp_path
        self.request = request
        self.device_name = "doser"
        self.location = ""
        self.registration_topic = "doser/device/registration"
        self.broker_down = False
        self.refused = False
        self.daemon: RunningDaemon | None = None
        self.broker: FakeBroker | RealBroker | None = None
        self.registrations_before = 0
        self.dose_id = ""
        self.dose_ids: list[str] = []

    @property
    def real(self) -> bool:
        return self.wiring != "fake"

    def settings(self, url: str, username: str = "", password: str = "") -> Settings:
        return Settings(
            data_dir=self.tmp_path / "var",
            device=DeviceSettings(name=self.device_name, location=self.location),
            http=HttpSettings(port=free_port(), token=TOKEN),
            mqtt=MqttSettings(
                url=url,
                username=username,
                password=password,
                registration_topic=self.registration_topic,
                backoff_initial_s=0.2,
                backoff_max_s=1.6,
                connect_timeout_s=3.0,
            ),
            pumps=SIMULATED_PUMPS,
        )

    def broker_url(self) -> tuple[str, str, str]:
        """(url, username, password) the daemon is configured with."""
        if not self.real:
            return "ws://127.0.0.1:9/mqtt", "", ""
        if self.broker_down:
            return f"ws://127.0.0.1:{free_port()}/mqtt", "", ""
        if self.refused:
            factory = self.request.getfixturevalue("mosquitto_factory")
            mosquitto = factory(users={"pump-room": "right-password", "monitor": "monitor-pw"})
            credentials = ("pump-room", "wrong-password")
            self.broker = RealBroker(mosquitto, self.registration_topic, ("monitor", "monitor-pw"))
            self.broker.watch()
            return mosquitto.ws_url, *credentials
        else:
            mosquitto = self.request.getfixturevalue("mosquitto")
            credentials = ("", "")
        self.broker = RealBroker(mosquitto, self.registration_topic)
        self.broker.watch()
        return mosquitto.ws_url, *credentials

    def start(self) -> RunningDaemon:
        url, username, password = self.broker_url()
        daemon = RunningDaemon(self.settings(url, username, password), self.wiring)  # type: ignore[arg-type]
        app = daemon.app
        base = app.adapters.mqtt_names().base
        if not self.real:
            session = daemon.probe.inner
            assert isinstance(session, FakeBrokerSession)
            session.up = not self.broker_down
            session.refusal = "Not authorized" if self.refused else None
            telemetry = app.adapters.telemetry()
            telemetry.up = not (self.broker_down or self.refused)
            self.broker = FakeBroker(
                session, self.registration_topic, telemetry, app.command_source(), base
            )
        elif isinstance(self.broker, RealBroker):
            self.broker.base = base
        self.daemon = daemon
        daemon.start()
        return daemon

    def close(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
        if isinstance(self.broker, RealBroker):
            self.broker.close()
