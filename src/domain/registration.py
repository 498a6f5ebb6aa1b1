"""The device's identity on the monitoring system: profile, client id, registration message."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from domain.errors import DoserError

_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
MAX_NAME_CHARS = 64
MAX_LOCATION_CHARS = 128


class InvalidProfile(DoserError):
    """A device name or location breaks a rule (empty name, too long, control characters)."""

    code = "invalid_config"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def normalise_mac(mac: str) -> str:
    """``aa-bb-cc-dd-ee-ff`` → ``AA:BB:CC:DD:EE:FF``; raises ``ValueError`` if not a MAC."""
    if not _MAC.match(mac):
        raise ValueError(f"not a MAC address: {mac!r}")
    return mac.replace("-", ":").upper()


def client_id_for(prefix: str, mac: str) -> str:
    """MQTT client id ``<prefix>_<last 3 MAC bytes, hex upper>``, e.g. ``ESP32_A1B2C3``
    (the user's format). Raises ``ValueError`` for a bad MAC or an empty prefix."""
    if not prefix:
        raise ValueError("client id prefix must not be empty")
    return f"{prefix}_{normalise_mac(mac).replace(':', '')[-6:]}"


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """What the user calls the device and where it stands; persisted in NVS.

    ``name``: 1..64 characters; ``location``: 0..128. Printable Unicode only (no control
    characters); surrounding whitespace is trimmed. Build with :meth:`create`.
    """

    name: str
    location: str

    @classmethod
    def create(cls, name: object, location: object) -> DeviceProfile:
        """Validate and normalise; raises ``InvalidProfile`` naming the field."""
        clean_name = _text("deviceName", name, MAX_NAME_CHARS)
        if not clean_name:
            raise InvalidProfile("deviceName must not be empty", field="deviceName")
        return cls(clean_name, _text("location", location, MAX_LOCATION_CHARS))


def _text(field: str, value: object, max_chars: int) -> str:
    if not isinstance(value, str):
        raise InvalidProfile(f"{field} must be a string", field=field)
    value = unicodedata.normalize("NFC", value.strip())
    if len(value) > max_chars:
        raise InvalidProfile(f"{field} is longer than {max_chars} characters", field=field)
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidProfile(f"{field} contains control or invalid characters", field=field)
    return value


@dataclass(frozen=True, slots=True)
class DeviceRegistration:
    """The registration message the user specified, published after every connect.

    ``mac_address`` as ``AA:BB:CC:DD:EE:FF``; ``ip_address`` the local address of the socket
    that reaches the broker.
    """

    mac_address: str
    device_name: str
    ip_address: str
    location_description: str

    @classmethod
    def of(cls, profile: DeviceProfile, mac: str, ip_address: str) -> DeviceRegistration:
        """Raises ``ValueError`` for a bad MAC."""
        return cls(normalise_mac(mac), profile.name, ip_address, profile.location)

    def to_json(self) -> str:
        """``{"event_type":"register","mac_address",…,"location_description"}`` (UTF-8 text)."""
        return json.dumps(
            {
                "event_type": "register",
                "mac_address": self.mac_address,
                "device_name": self.device_name,
                "ip_address": self.ip_address,
                "location_description": self.location_description,
            },
            ensure_ascii=False,
        )
