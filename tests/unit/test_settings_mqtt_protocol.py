"""``mqtt.protocol``: MQTT 3.1.1 unless MQTT 5 is asked for, from the file or the
environment, and the broker session built from it speaks that version."""

import os
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from bootstrap.containers import bootstrap
from bootstrap.settings import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("DOSER_")]:
        monkeypatch.delenv(key)


def test_mqtt_3_1_1_is_the_default() -> None:
    assert load_settings().mqtt.protocol == "3.1.1"


def test_mqtt_5_is_chosen_in_the_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "doser.toml"
    path.write_text('[mqtt]\nprotocol = "5"\n')
    assert load_settings(path).mqtt.protocol == "5"

    monkeypatch.setenv("DOSER_MQTT__PROTOCOL", "3.1.1")
    assert load_settings(path).mqtt.protocol == "3.1.1"


def test_another_protocol_is_one_line_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "doser.toml"
    path.write_text('[mqtt]\nprotocol = "3.1"\n')

    with pytest.raises(ConfigError, match=r"mqtt\.protocol"):
        load_settings(path)


@pytest.mark.parametrize(("protocol", "version"), [("3.1.1", mqtt.MQTTv311), ("5", mqtt.MQTTv5)])
def test_the_broker_session_speaks_the_configured_protocol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: str, version: int
) -> None:
    monkeypatch.setenv("DOSER_MQTT__PROTOCOL", protocol)
    monkeypatch.setenv("DOSER_DATA_DIR", str(tmp_path))
    app = bootstrap(load_settings().model_dump())

    broker = app.adapters.broker()  # built, not connected: nothing is opened

    assert broker._client.protocol == version
