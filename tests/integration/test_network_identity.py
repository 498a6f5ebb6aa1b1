"""OsNetworkIdentity on this machine's real interfaces (psutil), plus the fall-back rules on
a fixed interface table."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from adapters.network import OsNetworkIdentity

pytestmark = pytest.mark.slow

WLAN_MAC = "DC:A6:32:A1:B2:C3"


def has_real_mac() -> bool:
    for addresses in psutil.net_if_addrs().values():
        holds_loopback = any(a.address in ("127.0.0.1", "::1") for a in addresses)
        macs = [a.address for a in addresses if a.family == psutil.AF_LINK]
        if not holds_loopback and any(m and m != "00:00:00:00:00:00" for m in macs):
            return True
    return False


def entry(family: Any, address: str) -> SimpleNamespace:
    return SimpleNamespace(family=family, address=address)


TABLE = {
    "lo": [entry(2, "127.0.0.1"), entry(psutil.AF_LINK, "00:00:00:00:00:00")],
    "tun0": [entry(2, "10.8.0.2"), entry(psutil.AF_LINK, "00:00:00:00:00:00")],
    "wlan0": [entry(2, "192.168.1.40"), entry(psutil.AF_LINK, "dc:a6:32:a1:b2:c3")],
    "eth0": [entry(psutil.AF_LINK, "dc-a6-32-00-00-01")],
}

PHYSICAL = {"eth0", "wlan0"}.__contains__


@pytest.mark.skipif(not has_real_mac(), reason="this machine has no interface with a MAC")
def test_loopback_falls_back_to_the_machines_device_mac() -> None:
    identity = OsNetworkIdentity()

    mac = identity.mac_for("127.0.0.1")

    assert mac == identity.device_mac()
    assert mac != "00:00:00:00:00:00"
    assert mac == mac.upper() and len(mac.split(":")) == 6


def test_the_interface_holding_the_address_gives_its_mac() -> None:
    identity = OsNetworkIdentity(lambda: TABLE, PHYSICAL)

    assert identity.mac_for("192.168.1.40") == WLAN_MAC


def test_the_device_mac_is_the_first_real_one_in_name_order() -> None:
    identity = OsNetworkIdentity(lambda: TABLE, PHYSICAL)

    assert identity.device_mac() == "DC:A6:32:00:00:01"  # eth0 sorts before wlan0


def test_an_interface_without_a_real_mac_falls_back_to_the_device_mac() -> None:
    identity = OsNetworkIdentity(lambda: TABLE, PHYSICAL)

    assert identity.mac_for("10.8.0.2") == "DC:A6:32:00:00:01"


def test_no_real_mac_anywhere_is_a_lookup_error() -> None:
    identity = OsNetworkIdentity(lambda: {"lo": TABLE["lo"]}, PHYSICAL)

    with pytest.raises(LookupError):
        identity.mac_for("127.0.0.1")


def test_a_docker_bridge_never_names_the_device() -> None:
    table = {"br-1a2b": [entry(psutil.AF_LINK, "02:42:ac:11:00:01")], "wlan0": TABLE["wlan0"]}
    identity = OsNetworkIdentity(lambda: table, PHYSICAL)

    assert identity.device_mac() == WLAN_MAC  # br-1a2b sorts first but has no hardware
