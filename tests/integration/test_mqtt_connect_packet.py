"""What the session's CONNECT says on the wire and how it reads a refusing CONNACK, under
MQTT 3.1.1 and MQTT 5, against a scripted listener (mosquitto refuses only with "Not
authorized", so the other reason codes need a broker that says exactly what we choose).

Packet layouts: MQTT 3.1.1 §3.1, §3.2; MQTT 5.0 §3.1, §3.2."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections.abc import Iterator
from typing import NamedTuple

import pytest

from adapters.mqtt.session import PahoBrokerSession
from domain.errors import BrokerUnavailable
from support.mosquitto import HOST

pytestmark = pytest.mark.slow

AVAILABILITY = "doser/doser_A1B2C3/availability"
TIMEOUT_S = 2.0
WAIT_S = 10.0

# CONNECT flags (MQTT 3.1.1 §3.1.2.3, MQTT 5.0 §3.1.2.3)
CLEAN = 0x02  # clean session (3.1.1) / clean start (5)
WILL = 0x04
WILL_RETAIN = 0x20


def connack(protocol: str, code: int) -> bytes:
    """A CONNACK with no session present and ``code`` (3.1.1 return code, 5 reason code;
    MQTT 5 adds an empty property list)."""
    return bytes([0x20, 2, 0, code]) if protocol == "3.1.1" else bytes([0x20, 3, 0, code, 0])


class Connect(NamedTuple):
    level: int  # protocol level: 4 for MQTT 3.1.1, 5 for MQTT 5
    flags: int
    properties: bytes  # MQTT 5 CONNECT properties (b"" under 3.1.1)
    will_properties: bytes  # MQTT 5 Will properties (b"" under 3.1.1)
    will_topic: str
    will_payload: bytes


class ScriptedBroker:
    """Accepts connections one at a time, reads each CONNECT, answers ``reply`` and closes
    the connection, as a broker that refuses a client must (MQTT 5.0 §3.2.2.2)."""

    def __init__(self, reply: bytes) -> None:
        self._reply = reply
        self._listener = socket.create_server((HOST, 0))
        self.url = f"mqtt://{HOST}:{self._listener.getsockname()[1]}"
        self._connects: queue.Queue[Connect] = queue.Queue()
        self._serving = threading.Thread(target=self._serve, daemon=True)
        self._serving.start()

    def next_connect(self) -> Connect:
        try:
            return self._connects.get(timeout=WAIT_S)
        except queue.Empty:
            raise AssertionError(f"no CONNECT within {WAIT_S} s") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the serving thread
        self._listener.close()
        self._serving.join(WAIT_S)

    def _serve(self) -> None:
        while True:
            try:
                peer, _ = self._listener.accept()
            except OSError:
                return  # closed
            with peer:
                peer.settimeout(WAIT_S)
                try:
                    self._connects.put(parse_connect(read_packet(peer, expected=0x10)))
                    peer.sendall(self._reply)
                except OSError:
                    pass


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed mid-packet")
        data += chunk
    return data


def read_packet(sock: socket.socket, *, expected: int) -> bytes:
    """The variable header and payload of the next packet, whose fixed header byte must be
    ``expected``."""
    header = read_exactly(sock, 1)[0]
    assert header == expected, f"packet type {header:#04x}, not {expected:#04x}"
    length, shift = 0, 0
    while True:  # Variable Byte Integer (MQTT 5.0 §1.5.5)
        byte = read_exactly(sock, 1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return read_exactly(sock, length)


def parse_connect(body: bytes) -> Connect:
    def varint(at: int) -> tuple[int, int]:
        value, shift = 0, 0
        while True:
            byte = body[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value, at

    def field(at: int) -> tuple[bytes, int]:  # two-byte length, then the bytes
        size = int.from_bytes(body[at : at + 2], "big")
        return body[at + 2 : at + 2 + size], at + 2 + size

    name, at = field(0)
    assert name == b"MQTT"
    level, flags = body[at], body[at + 1]
    at += 4  # level, flags, keep alive
    properties = will_properties = b""
    if level == 5:
        size, at = varint(at)
        properties, at = body[at : at + size], at + size
    _client_id, at = field(at)
    will_topic, will_payload = b"", b""
    if flags & WILL:
        if level == 5:
            size, at = varint(at)
            will_properties, at = body[at : at + size], at + size
        will_topic, at = field(at)
        will_payload, at = field(at)
    return Connect(level, flags, properties, will_properties, will_topic.decode(), will_payload)


@pytest.fixture
def scripted() -> Iterator[list[ScriptedBroker]]:
    started: list[ScriptedBroker] = []
    yield started
    for broker in started:
        broker.close()


def session_for(broker: ScriptedBroker, protocol: str) -> PahoBrokerSession:
    return PahoBrokerSession(
        url=broker.url,
        client_id="doser_A1B2C3",
        availability_topic=AVAILABILITY,
        registration_topic="doser/device/registration",
        protocol=protocol,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("protocol", "code", "reason"),
    [
        ("3.1.1", 4, "Bad user name or password"),
        ("3.1.1", 5, "Not authorized"),
        ("5", 0x86, "Bad user name or password"),
        ("5", 0x87, "Not authorized"),
        ("5", 0x88, "Server unavailable"),
        ("5", 0x8A, "Banned"),
    ],
)
def test_a_refusal_names_the_brokers_reason(
    scripted: list[ScriptedBroker], protocol: str, code: int, reason: str
) -> None:
    broker = ScriptedBroker(connack(protocol, code))
    scripted.append(broker)
    session = session_for(broker, protocol)

    with pytest.raises(BrokerUnavailable, match=f"connection refused: {reason}$"):
        session.connect(TIMEOUT_S)


@pytest.mark.parametrize(("protocol", "level"), [("3.1.1", 4), ("5", 5)])
def test_every_connect_asks_for_a_fresh_session_and_carries_the_last_will(
    scripted: list[ScriptedBroker], protocol: str, level: int
) -> None:
    broker = ScriptedBroker(connack(protocol, 5 if protocol == "3.1.1" else 0x87))
    scripted.append(broker)
    session = session_for(broker, protocol)

    for _attempt in range(2):  # a retry, by the same session, asks again
        with pytest.raises(BrokerUnavailable):
            session.connect(TIMEOUT_S)
    connects = [broker.next_connect() for _ in range(2)]

    for connect in connects:
        assert connect.level == level
        assert connect.flags & CLEAN
        # No Session Expiry Interval: the broker ends the session with the connection.
        assert connect.properties == b""
        assert connect.flags & WILL and connect.flags & WILL_RETAIN
        assert (connect.flags >> 3) & 0x03 == 1  # Will QoS 1
        # No Will Delay Interval: the Will goes out as soon as the connection dies.
        assert connect.will_properties == b""
        assert (connect.will_topic, connect.will_payload) == (AVAILABILITY, b"offline")
