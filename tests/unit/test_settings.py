"""Configuration precedence and one-line errors naming the key."""

from pathlib import Path

import pytest

from bootstrap.settings import ConfigError, load_settings

pytestmark = pytest.mark.usefixtures("clean_env")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doser.toml"
    path.write_text(text)
    return path


def test_defaults_match_the_design() -> None:
    settings = load_settings()
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8080)
    assert settings.controller.driver == "grbl"
    assert settings.data_dir == Path("var")


def test_the_toml_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[http]\nport = 9000\n[[pumps]]\nid = "X"\nname = "DMDEE"\nml_per_mm = 0.05\n'
    )
    settings = load_settings(path)
    assert settings.http.port == 9000
    assert settings.pumps[0].max_flow_ml_min == 15.0


def test_the_environment_overrides_the_file_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[http]\nport = 9000\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("DOSER_HTTP__PORT", "8081")
    settings = load_settings(path)
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 8081)


def test_doser_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSER_CONFIG", str(write(tmp_path, "[http]\nport = 9100\n")))
    assert load_settings().http.port == 9100


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[http]\nport = 70000\n", "http.port"),
        ("[http]\nprot = 1\n", "http.prot"),
        ('[controller]\ndriver = "marlin"\n', "controller.driver"),
        ('[[pumps]]\nid = "X"\nname = "a"\nml_per_mm = -1\n', "pumps.0.ml_per_mm"),
        ('[[pumps]]\nid = "Q"\nname = "a"\nml_per_mm = 1\n', "pumps.0.id"),
        ('[mqtt]\nurl = "http://broker:9001/mqtt"\n', "mqtt.url"),
        ('[mqtt]\nurl = "ws://:9001/mqtt"\n', "mqtt.url"),
        ('[mqtt]\nurl = "wss://broker/mqtt"\nca_file = "/no/such/ca.pem"\n', "mqtt.ca_file"),
        ("[mqtt]\nbackoff_initial_s = 60\nbackoff_max_s = 30\n", "mqtt"),
        ('[mqtt]\nregistration_topic = "doser/#"\n', "mqtt.registration_topic"),
        ("[mqtt]\nbackoff_jitter = 2\n", "mqtt.backoff_jitter"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError) as bad:
        load_settings(write(tmp_path, toml))
    message = str(bad.value)
    assert f": {key}: " in message
    assert "\n" not in message


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[http\n")
    with pytest.raises(ConfigError, match=r"doser\.toml"):
        load_settings(path)


def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")


def test_the_mqtt_defaults_are_the_users_backoff_and_topics() -> None:
    mqtt = load_settings().mqtt
    assert (mqtt.backoff_initial_s, mqtt.backoff_max_s, mqtt.backoff_jitter) == (30, 3600, 0)
    assert mqtt.url == "ws://127.0.0.1:9001/mqtt"
    assert mqtt.registration_topic == "doser/device/registration"


def test_an_empty_mqtt_url_disables_mqtt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSER_MQTT__URL", "")
    assert load_settings().mqtt.url == ""


def test_safety_keys_load_and_the_reservoir_low_mark_must_sit_below_its_capacity(
    tmp_path: Path,
) -> None:
    config = tmp_path / "doser.toml"
    config.write_text(
        "[safety]\nmax_ml_per_day = 900.0\ndead_man_s = 2.0\nlatch_on_shutdown = 'never'\n"
        "[[pumps]]\nid = 'X'\nname = 'DMDEE'\nreservoir_ml = 500.0\nreservoir_low_ml = 50.0\n"
        "max_ml_per_hour = 20.0\n"
    )
    settings = load_settings(config)
    assert (settings.safety.max_ml_per_day, settings.safety.dead_man_s) == (900.0, 2.0)
    assert settings.pumps[0].ml_per_mm is None  # calibrated through the API instead
    assert settings.pumps[0].max_ml_per_hour == 20.0
    config.write_text(
        "[[pumps]]\nid = 'X'\nname = 'a'\nreservoir_ml = 50.0\nreservoir_low_ml = 60.0\n"
    )
    with pytest.raises(ConfigError, match=r"pumps\.0: .*reservoir_low_ml must be below"):
        load_settings(config)


def test_two_pumps_on_one_axis_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "doser.toml"
    config.write_text("[[pumps]]\nid = 'X'\nname = 'a'\n[[pumps]]\nid = 'X'\nname = 'b'\n")
    with pytest.raises(ConfigError, match="pump ids must be unique"):
        load_settings(config)
