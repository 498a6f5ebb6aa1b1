"""Device profile validation, client-id derivation and the registration JSON."""

import json

import pytest

from domain.registration import (
    DeviceProfile,
    DeviceRegistration,
    InvalidProfile,
    client_id_for,
    normalise_mac,
)


def test_the_client_id_is_the_prefix_and_the_last_three_mac_bytes_in_upper_hex() -> None:
    assert client_id_for("ESP32", "de:ad:be:a1:b2:c3") == "ESP32_A1B2C3"
    assert client_id_for("doser", "DE-AD-BE-A1-B2-C3") == "doser_A1B2C3"


@pytest.mark.parametrize("bad", ["", "de:ad:be:a1:b2", "zz:ad:be:a1:b2:c3", "deadbea1b2c3"])
def test_a_malformed_mac_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="MAC"):
        normalise_mac(bad)


def test_the_registration_message_has_the_users_fields_and_values() -> None:
    registration = DeviceRegistration.of(
        DeviceProfile.create("Dosing Station 1", "Greenhouse B, bench 3"),
        "aa:bb:cc:dd:ee:ff",
        "192.168.1.50",
    )
    assert json.loads(registration.to_json()) == {
        "event_type": "register",
        "mac_address": "AA:BB:CC:DD:EE:FF",
        "device_name": "Dosing Station 1",
        "ip_address": "192.168.1.50",
        "location_description": "Greenhouse B, bench 3",
    }


def test_unicode_names_survive_as_utf8_text() -> None:
    registration = DeviceRegistration.of(
        DeviceProfile.create("Dosificador Ñandú", "Invernadero 2"), "aa:bb:cc:dd:ee:ff", "10.0.0.2"
    )
    assert json.loads(registration.to_json())["device_name"] == "Dosificador Ñandú"
    assert "Ñandú" in registration.to_json()


def test_a_profile_is_trimmed() -> None:
    assert DeviceProfile.create("  doser  ", " lab ") == DeviceProfile("doser", "lab")


@pytest.mark.parametrize(
    ("name", "location", "field"),
    [
        ("", "lab", "deviceName"),
        ("   ", "lab", "deviceName"),
        ("x" * 65, "lab", "deviceName"),
        ("doser", "y" * 129, "location"),
        ("dos\x00er", "lab", "deviceName"),
        ("doser", "lab\nnext", "location"),
        (42, "lab", "deviceName"),
        ("doser", None, "location"),
    ],
)
def test_a_bad_profile_is_refused_naming_the_field(
    name: object, location: object, field: str
) -> None:
    with pytest.raises(InvalidProfile) as refused:
        DeviceProfile.create(name, location)
    assert refused.value.field == field
