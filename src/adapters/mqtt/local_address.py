"""The TCP socket under a broker connection: the local IP address it leaves from (what
the registration message reports as the device's ``ip_address``) and its Nagle setting."""

from __future__ import annotations

import socket
from typing import Any

_V4_MAPPED = "::ffff:"


def local_address(sock: Any, broker_host: str, broker_port: int) -> str:
    """The local address of the connected socket ``sock`` (anything with ``fileno()``: a
    plain or TLS socket, or paho's WebSocket wrapper, whose ``fileno()`` is the TCP
    socket's). When ``sock`` gives none, the address the routing table would use to reach
    ``broker_host`` (see ``route_address``). Raises ``OSError`` when neither works."""
    fileno = getattr(sock, "fileno", None)
    if callable(fileno):
        try:
            fd = int(fileno())
            if fd >= 0:
                # Borrow the descriptor to ask the kernel, then hand it back unclosed.
                probe = socket.socket(fileno=fd)
                try:
                    return _plain(probe.getsockname()[0])
                finally:
                    probe.detach()
        except OSError:
            pass
    return route_address(broker_host, broker_port)


def route_address(host: str, port: int) -> str:
    """The local address the kernel picks to reach ``host``:``port``, learnt by "connecting"
    a UDP socket (which only sets its default peer: no packet is sent). Raises ``OSError``
    when ``host`` does not resolve or no route leads there."""
    last_error: OSError = OSError(f"no address for {host}")
    for family, _, _, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM):
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            try:
                udp.connect(address)
                return _plain(udp.getsockname()[0])
            except OSError as exc:
                last_error = exc
    raise last_error


def _plain(address: object) -> str:
    text = str(address)
    return text[len(_V4_MAPPED) :] if text.startswith(_V4_MAPPED) else text


def disable_nagle(sock: Any) -> None:
    """Set TCP_NODELAY on ``sock`` (plain, TLS or paho's WebSocket wrapper, through its
    ``fileno()``). Without it a small PUBLISH (a command's result) waits for the ACK of the
    previous segment, which the broker delays up to ~40 ms (Nagle's algorithm meeting
    delayed ACKs, RFC 896 / RFC 1122 4.2.3.2); paho 2.2 never sets it. Never raises."""
    fileno = getattr(sock, "fileno", None)
    if not callable(fileno):
        return
    try:
        fd = int(fileno())
        if fd < 0:
            return
        borrowed = socket.socket(fileno=fd)
        try:
            if borrowed.type == socket.SOCK_STREAM:
                borrowed.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        finally:
            borrowed.detach()
    except OSError:
        pass
