"""The device's MAC addresses as the operating system reports them (psutil): the MAC that
names the device (its MQTT client id) and the MAC of the interface that reaches the broker
(the registration message's ``mac_address``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from domain.registration import normalise_mac

# What psutil.net_if_addrs() returns: interface name -> its addresses (family, address, ...).
InterfaceTable = Mapping[str, Sequence[Any]]
_NO_MAC = "00:00:00:00:00:00"


def has_hardware(name: str) -> bool:
    """Whether Linux backs interface ``name`` with a device (``/sys/class/net/<name>/device``
    exists for eth0 and wlan0, not for docker0, br-*, veth* or tun*)."""
    return Path("/sys/class/net", name, "device").exists()


class OsNetworkIdentity:
    """``NetworkIdentity`` read from ``psutil.net_if_addrs()`` on every call (interfaces come
    and go). ``interfaces`` and ``is_physical`` replace the OS look-ups in tests. MACs come
    back as ``AA:BB:CC:DD:EE:FF``."""

    def __init__(
        self,
        interfaces: Callable[[], InterfaceTable] = psutil.net_if_addrs,
        is_physical: Callable[[str], bool] = has_hardware,
    ) -> None:
        self._interfaces = interfaces
        self._is_physical = is_physical

    def mac_for(self, local_ip: str) -> str:
        """MAC of the interface holding ``local_ip`` (IPv4 or IPv6, zone suffix allowed).
        For a loopback address, an address no interface holds, or an interface without a
        real MAC (all zeros, e.g. a tunnel), the device MAC (``device_mac``). Raises
        ``LookupError`` when that is needed and there is none; ``ValueError`` when
        ``local_ip`` is not an IP address."""
        wanted = _ip(local_ip)
        if wanted is None:
            raise ValueError(f"not an IP address: {local_ip!r}")
        if not wanted.is_loopback:
            for addresses in self._interfaces().values():
                if any(_ip(entry.address) == wanted for entry in addresses):
                    mac = _mac_of(addresses)
                    if mac is not None:
                        return mac
                    break
        return self.device_mac()

    def device_mac(self) -> str:
        """The first interface that holds no loopback address and has a real (non-zero)
        MAC: physical interfaces first (so a Docker bridge never names the device), each
        group in name order. Raises ``LookupError`` when there is none."""
        table = self._interfaces()
        for name in sorted(table, key=lambda n: (not self._is_physical(n), n)):
            addresses = table[name]
            if any(_is_loopback(entry.address) for entry in addresses):
                continue
            mac = _mac_of(addresses)
            if mac is not None:
                return mac
        raise LookupError("no network interface with a hardware (MAC) address")


def _mac_of(addresses: Sequence[Any]) -> str | None:
    # psutil.AF_LINK is AF_PACKET on Linux and AF_LINK on the BSDs and macOS.
    for entry in addresses:
        if entry.family == psutil.AF_LINK and entry.address:
            try:
                mac = normalise_mac(entry.address)
            except ValueError:
                continue  # e.g. a 20-byte InfiniBand address: not a MAC-48
            if mac != _NO_MAC:
                return mac
    return None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_loopback(text: str) -> bool:
    address = _ip(text)
    return address is not None and address.is_loopback
