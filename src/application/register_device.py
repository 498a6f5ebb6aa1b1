"""Use case: announce the device to the monitoring system (the registration message)."""

from __future__ import annotations

from application.device_profile import DeviceProfiles
from application.ports import BrokerSession, NetworkIdentity
from domain.registration import DeviceRegistration


class RegisterDevice:
    """Publish ``{"event_type":"register",…}`` with the profile from NVS, the IP the
    daemon uses to reach the broker and the MAC of that interface."""

    def __init__(
        self, session: BrokerSession, profiles: DeviceProfiles, identity: NetworkIdentity
    ) -> None:
        self._session = session
        self._profiles = profiles
        self._identity = identity

    def execute(self, local_ip: str) -> DeviceRegistration:
        """``local_ip``: the local address of the broker connection. Returns what was
        published. Raises ``BrokerUnavailable`` when the session is down, ``LookupError``
        when no MAC can be found."""
        registration = DeviceRegistration.of(
            self._profiles.current(), self._identity.mac_for(local_ip), local_ip
        )
        self._session.register(registration)
        return registration
