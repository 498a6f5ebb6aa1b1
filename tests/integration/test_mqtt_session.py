"""PahoBrokerSession against a real mosquitto, over the WebSocket and the plain TCP listener:
availability (online, Last Will, clean offline), registration, refusals, dead brokers and
brokers that never answer. The tests that take ``protocol`` run under MQTT 3.1.1 and 5."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.mqtt.session import PahoBrokerSession
from domain.errors import BrokerUnavailable
from domain.registration import DeviceRegistration
from support.certificates import OPENSSL, make_server_certificate
from support.mosquitto import Mosquitto, free_port
from support.mqtt_sessions import AVAILABILITY, REGISTRATION
from support.mqtt_subscriber import Received, Subscriber

pytestmark = pytest.mark.slow

TIMEOUT_S = 2.0


def hang_bound(timeout_s: float) -> float:
    """A generous ceiling for "did not hang" (s), not a speed target."""
    return 3 * timeout_s + 2


@pytest.fixture(params=["ws", "tcp"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def url_of(broker: Mosquitto, transport: str) -> str:
    return broker.ws_url if transport == "ws" else broker.tcp_url


def unreachable_url(transport: str, port: int) -> str:
    return f"ws://127.0.0.1:{port}/mqtt" if transport == "ws" else f"mqtt://127.0.0.1:{port}"


def retained(broker: Mosquitto, payload: str) -> Received:
    """What a newcomer subscribing now receives as retained availability."""
    with Subscriber(broker.host, broker.port, AVAILABILITY) as newcomer:
        return newcomer.wait_for(lambda m: m.payload == payload and m.retain)


def kill_transport(session: PahoBrokerSession) -> None:
    """The device dies mid-session: its TCP connection ends with no DISCONNECT packet."""
    sock = session._client.socket()
    assert sock is not None
    twin = socket.socket(fileno=os.dup(sock.fileno()))
    twin.shutdown(socket.SHUT_RDWR)
    twin.close()


def test_connect_returns_the_local_address_and_retains_online(
    mosquitto: Mosquitto,
    transport: str,
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    session = make_session(url_of(mosquitto, transport), protocol=protocol)

    assert session.connect(TIMEOUT_S) == "127.0.0.1"

    assert retained(mosquitto, "online").topic == AVAILABILITY


def test_register_delivers_the_exact_json_on_the_registration_topic(
    mosquitto: Mosquitto,
    transport: str,
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    session = make_session(url_of(mosquitto, transport), protocol=protocol)
    ip = session.connect(TIMEOUT_S)
    registration = DeviceRegistration("02:00:5E:A1:B2:C3", "pump-1 façade", ip, "greenhouse 2")

    with Subscriber(mosquitto.host, mosquitto.port, REGISTRATION) as observer:
        session.register(registration)
        message = observer.wait_for(lambda m: m.topic == REGISTRATION)

    assert message.payload == registration.to_json()
    assert json.loads(message.payload)["event_type"] == "register"
    assert not message.retain


def test_register_refuses_when_not_connected(
    mosquitto: Mosquitto, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(mosquitto.tcp_url)
    registration = DeviceRegistration("02:00:5E:A1:B2:C3", "pump-1", "127.0.0.1", "")

    with pytest.raises(BrokerUnavailable):
        session.register(registration)


def test_wrong_credentials_are_refused_with_the_brokers_reason_and_can_be_retried(
    mosquitto_factory: Callable[..., Mosquitto],
    transport: str,
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    broker = mosquitto_factory(users={"pump-1": "secret"})
    session = make_session(
        url_of(broker, transport), protocol=protocol, username="pump-1", password="wrong"
    )

    for _attempt in range(2):  # the same session object, tried again
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="Not authorized"):
            session.connect(TIMEOUT_S)
        assert time.monotonic() - started < hang_bound(TIMEOUT_S)


def test_right_credentials_are_accepted(
    mosquitto_factory: Callable[..., Mosquitto],
    transport: str,
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    broker = mosquitto_factory(users={"pump-1": "secret"})
    session = make_session(
        url_of(broker, transport), protocol=protocol, username="pump-1", password="secret"
    )

    assert session.connect(TIMEOUT_S) == "127.0.0.1"


@pytest.mark.skipif(OPENSSL is None, reason="openssl is needed to make a test certificate")
@pytest.mark.parametrize("scheme", ["mqtts", "wss"])
def test_tls_trusts_the_configured_ca_file(
    mosquitto_factory: Callable[..., Mosquitto],
    scheme: str,
    tmp_path: Path,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    tls = make_server_certificate(tmp_path / "pki")
    broker = mosquitto_factory(tls=tls)
    url = broker.mqtts_url if scheme == "mqtts" else broker.wss_url
    session = make_session(url, ca_file=str(tls.ca))

    assert session.connect(TIMEOUT_S) == "127.0.0.1"
    assert retained(broker, "online").topic == AVAILABILITY


@pytest.mark.skipif(OPENSSL is None, reason="openssl is needed to make a test certificate")
def test_tls_refuses_a_broker_the_system_cas_do_not_vouch_for(
    mosquitto_factory: Callable[..., Mosquitto],
    tmp_path: Path,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    broker = mosquitto_factory(tls=make_server_certificate(tmp_path / "pki"))
    session = make_session(broker.mqtts_url)  # no ca_file: the system CAs

    with pytest.raises(BrokerUnavailable, match="certificate verify failed"):
        session.connect(TIMEOUT_S)


def test_a_broker_that_is_down_is_unavailable_at_once(
    transport: str, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(unreachable_url(transport, free_port()))

    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="cannot connect"):
        session.connect(TIMEOUT_S)
    assert time.monotonic() - started < hang_bound(TIMEOUT_S)


def test_a_listener_that_never_answers_is_unavailable_after_the_timeout(
    transport: str, make_session: Callable[..., PahoBrokerSession]
) -> None:
    with socket.socket() as silent:  # accepts TCP (kernel backlog), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        session = make_session(unreachable_url(transport, silent.getsockname()[1]))

        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            session.connect(1.0)
        assert time.monotonic() - started < hang_bound(1.0)


def test_disconnect_cuts_short_a_connect_waiting_for_its_connack(
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        session = make_session(f"mqtt://127.0.0.1:{silent.getsockname()[1]}")
        errors: list[BaseException] = []

        def attempt() -> None:
            try:
                session.connect(60.0)
            except BrokerUnavailable as exc:
                errors.append(exc)

        connecting = threading.Thread(target=attempt)
        connecting.start()
        silent.settimeout(10.0)
        peer, _ = silent.accept()  # the TCP connection is up: CONNECT sent or on its way
        with peer:
            session.disconnect()
            connecting.join(timeout=hang_bound(TIMEOUT_S))

        assert not connecting.is_alive()
        assert len(errors) == 1


def test_a_device_that_dies_is_reported_lost_and_its_last_will_is_retained(
    mosquitto: Mosquitto,
    transport: str,
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    session = make_session(url_of(mosquitto, transport), protocol=protocol)
    session.connect(TIMEOUT_S)

    kill_transport(session)

    assert session.wait_lost(10.0)
    assert retained(mosquitto, "offline").topic == AVAILABILITY


def test_a_broker_that_stops_answering_is_reported_lost_by_keep_alive(
    mosquitto: Mosquitto,
    transport: str,
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    session = make_session(url_of(mosquitto, transport), protocol=protocol, keepalive_s=1)
    session.connect(TIMEOUT_S)

    mosquitto.pause()
    try:
        reason = session.wait_lost(10.0)
    finally:
        mosquitto.resume()

    assert reason is not None
    assert "Keep alive" in reason


def test_wait_lost_returns_none_while_the_session_is_up(
    mosquitto: Mosquitto, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(mosquitto.tcp_url)
    session.connect(TIMEOUT_S)

    assert session.wait_lost(0.3) is None


def test_a_stopped_broker_is_reported_lost_and_the_same_session_reconnects_after_restart(
    mosquitto_factory: Callable[..., Mosquitto],
    transport: str,
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    # Not persistent: the retained "online" seen at the end can only come from the reconnect.
    mosquitto = mosquitto_factory(persistent=False)
    session = make_session(url_of(mosquitto, transport), protocol=protocol)
    session.connect(TIMEOUT_S)

    mosquitto.stop()
    assert session.wait_lost(10.0)
    with pytest.raises(BrokerUnavailable):
        session.connect(TIMEOUT_S)
    mosquitto.start()

    assert session.connect(TIMEOUT_S) == "127.0.0.1"
    assert retained(mosquitto, "online").topic == AVAILABILITY
    assert session.wait_lost(0.3) is None


def test_disconnect_retains_offline_and_is_idempotent(
    mosquitto: Mosquitto,
    transport: str,
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    session = make_session(url_of(mosquitto, transport), protocol=protocol)
    session.connect(TIMEOUT_S)

    session.disconnect()
    session.disconnect()

    assert retained(mosquitto, "offline").topic == AVAILABILITY
    assert session.wait_lost(0.3) is None  # a clean close is not a loss


def test_disconnect_before_any_connect_does_nothing(
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    session = make_session(unreachable_url("tcp", free_port()))

    session.disconnect()
