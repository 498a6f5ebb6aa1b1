"""Where the broker is and how to trust it: the ``mqtt.url`` and ``mqtt.ca_file`` settings
checked at start-up, so a typo stops the daemon with one clear message instead of a
reconnect loop that can never succeed. Pure apart from reading the CA file; no paho."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Transport = Literal["websockets", "tcp"]

# scheme -> (transport, TLS, default port). Ports: IANA "mqtt" 1883 / "secure-mqtt" 8883;
# WebSockets on the HTTP ports 80 / 443 (MQTT 3.1.1 spec §6, RFC 6455).
_SCHEMES: dict[str, tuple[Transport, bool, int]] = {
    "ws": ("websockets", False, 80),
    "wss": ("websockets", True, 443),
    "mqtt": ("tcp", False, 1883),
    "mqtts": ("tcp", True, 8883),
}
DEFAULT_WS_PATH = "/mqtt"


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """A parsed broker URL.

    ``scheme`` one of ws, wss, mqtt, mqtts; ``host`` a name or IP literal (no brackets);
    ``port`` 1..65535; ``path`` the WebSocket request path with any query (``/mqtt`` by
    default; empty for TCP); ``transport`` as paho names it; ``tls`` for wss and mqtts.
    """

    scheme: str
    host: str
    port: int
    path: str
    transport: Transport
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``ws://host[:port][/path]``, ``wss://…``, ``mqtt://host[:port]`` or
    ``mqtts://…``. Missing ports default to 80, 443, 1883, 8883; a missing WebSocket path
    to ``/mqtt``.

    Raises ``ValueError`` naming the problem: unknown scheme, missing host, bad port,
    credentials in the URL (they belong in ``mqtt.username``/``mqtt.password``), a path on
    a plain MQTT URL, or a fragment.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        known = ", ".join(f"{name}://" for name in _SCHEMES)
        raise ValueError(f"broker URL {url!r}: scheme must be one of {known}")
    transport, tls, default_port = _SCHEMES[scheme]
    if parts.username is not None or parts.password is not None:
        # The URL is not echoed: it holds a secret.
        raise ValueError(
            "broker URL: put credentials in mqtt.username / mqtt.password, not in the URL"
        )
    host = parts.hostname
    if not host:
        raise ValueError(f"broker URL {url!r}: no host")
    try:
        explicit_port = parts.port
    except ValueError as exc:
        raise ValueError(f"broker URL {url!r}: bad port ({exc})") from None
    if explicit_port == 0:
        raise ValueError(f"broker URL {url!r}: bad port (0)")
    port = default_port if explicit_port is None else explicit_port
    if parts.fragment:
        raise ValueError(f"broker URL {url!r}: a fragment (#…) means nothing here")
    if transport == "websockets":
        path = parts.path or DEFAULT_WS_PATH
        if parts.query:
            path = f"{path}?{parts.query}"
    else:
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"broker URL {url!r}: {scheme}:// takes no path")
        path = ""
    return BrokerAddress(scheme, host, port, path, transport, tls)


def check_ca_file(path: str) -> None:
    """Check that ``path`` (a PEM bundle of CA certificates) can be read and loaded as
    trust anchors. An empty ``path`` means the system CAs and always passes.

    Raises ``ValueError`` naming the file when it is missing, unreadable or not PEM.
    """
    if not path:
        return
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        # ssl.SSLError is an OSError; both mean "this CA file is no good".
        reason = exc.strerror or str(exc)
        raise ValueError(f"CA file {path!r} cannot be used: {reason}") from None
