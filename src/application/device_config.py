"""Use cases: read and change the device's configuration (name, location) at run time."""

from __future__ import annotations

from dataclasses import dataclass

from application.connection_supervisor import ConnectionSupervisor
from application.device_profile import DeviceProfiles
from domain.mqtt_link import LinkView
from domain.registration import DeviceProfile


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """What GET /api/config shows: the device id, its profile and the MQTT link."""

    device_id: str
    profile: DeviceProfile
    mqtt: LinkView | None


class ReadDeviceConfig:
    """The device id, the profile (NVS over config defaults) and the MQTT link state
    (None when MQTT is disabled)."""

    def __init__(
        self, device_id: str, profiles: DeviceProfiles, supervisor: ConnectionSupervisor | None
    ) -> None:
        self._device_id = device_id
        self._profiles = profiles
        self._supervisor = supervisor

    def execute(self) -> DeviceConfig:
        """The current configuration; reads NVS, never the network."""
        mqtt = self._supervisor.view() if self._supervisor else None
        return DeviceConfig(self._device_id, self._profiles.current(), mqtt)


class UpdateDeviceConfig:
    """Change name and/or location: validated, stored in NVS in one commit, and announced
    with a fresh registration when the broker is connected."""

    def __init__(self, profiles: DeviceProfiles, supervisor: ConnectionSupervisor | None) -> None:
        self._profiles = profiles
        self._supervisor = supervisor

    def execute(self, name: object = None, location: object = None) -> DeviceProfile:
        """``None`` keeps a field as it is. Raises ``InvalidProfile`` naming the field
        (not a string, empty name, too long, control characters); nothing is stored then."""
        current = self._profiles.current()
        profile = DeviceProfile.create(
            current.name if name is None else name,
            current.location if location is None else location,
        )
        self._profiles.save(profile)
        if self._supervisor is not None:
            self._supervisor.profile_changed()
        return profile
