"""The device profile (name, location) in NVS, with the configured values as defaults.

NVS values written at run time win over the config file (DESIGN §3); both keys are read
and written together in one NVS transaction, so a registration never mixes a new name
with an old location.
"""

from __future__ import annotations

import logging

from application.ports import NonVolatileStore
from domain.registration import DeviceProfile, InvalidProfile

NAMESPACE = "device"
log = logging.getLogger(__name__)


class DeviceProfiles:
    """Reads and writes the profile; ``defaults`` come from the config file."""

    def __init__(self, nvs: NonVolatileStore, defaults: DeviceProfile) -> None:
        self._nvs = nvs
        self._defaults = defaults

    def current(self) -> DeviceProfile:
        """The stored profile, or the defaults for keys never written. A stored value that
        no longer validates (edited by hand, older rules) is logged and ignored."""
        stored = self._nvs.get_all(NAMESPACE)
        name = stored.get("name", self._defaults.name)
        location = stored.get("location", self._defaults.location)
        try:
            return DeviceProfile.create(name, location)
        except InvalidProfile as exc:
            log.warning("ignoring invalid device profile in NVS: %s", exc.message)
            return self._defaults

    def save(self, profile: DeviceProfile) -> None:
        """Store name and location in one atomic commit."""
        self._nvs.set_many(NAMESPACE, {"name": profile.name, "location": profile.location})
