"""Broker URLs as ``mqtt.url`` accepts them, and the mistakes it refuses at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.mqtt.broker_url import BrokerAddress, check_ca_file, parse_broker_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "ws://127.0.0.1:9001/mqtt",
            BrokerAddress("ws", "127.0.0.1", 9001, "/mqtt", "websockets", False),
        ),
        (
            "ws://broker.local",
            BrokerAddress("ws", "broker.local", 80, "/mqtt", "websockets", False),
        ),
        (
            "wss://broker.example:8443/ws?tenant=farm",
            BrokerAddress("wss", "broker.example", 8443, "/ws?tenant=farm", "websockets", True),
        ),
        (
            "wss://broker.example",
            BrokerAddress("wss", "broker.example", 443, "/mqtt", "websockets", True),
        ),
        ("mqtt://192.0.2.7", BrokerAddress("mqtt", "192.0.2.7", 1883, "", "tcp", False)),
        ("mqtt://192.0.2.7:1884/", BrokerAddress("mqtt", "192.0.2.7", 1884, "", "tcp", False)),
        ("mqtts://broker.example", BrokerAddress("mqtts", "broker.example", 8883, "", "tcp", True)),
        ("MQTT://Broker.Example", BrokerAddress("mqtt", "broker.example", 1883, "", "tcp", False)),
        ("ws://[::1]:9001/mqtt", BrokerAddress("ws", "::1", 9001, "/mqtt", "websockets", False)),
    ],
)
def test_a_good_url_names_transport_tls_port_and_path(url: str, expected: BrokerAddress) -> None:
    assert parse_broker_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://broker.example/mqtt", "scheme must be one of"),
        ("tcp://broker.example:1883", "scheme must be one of"),
        ("broker.example:1883", "scheme must be one of"),
        ("", "scheme must be one of"),
        ("ws://:9001/mqtt", "no host"),
        ("mqtt://", "no host"),
        ("ws://broker.example:99999/mqtt", "bad port"),
        ("ws://broker.example:nine/mqtt", "bad port"),
        ("mqtt://broker.example:0", "bad port"),
        ("mqtt://broker.example/some/path", "takes no path"),
        ("ws://broker.example/mqtt#top", "fragment"),
    ],
)
def test_a_bad_url_is_refused_with_the_reason(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_broker_url(url)


def test_credentials_in_the_url_are_refused_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match=r"mqtt\.username") as refused:
        parse_broker_url("mqtt://pump-1:hunter2@broker.example")

    assert "hunter2" not in str(refused.value)


def test_an_empty_ca_file_means_the_system_cas() -> None:
    check_ca_file("")


def test_a_missing_ca_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"

    with pytest.raises(ValueError, match=r"ca\.pem"):
        check_ca_file(str(missing))


def test_a_ca_file_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")

    with pytest.raises(ValueError, match="cannot be used"):
        check_ca_file(str(garbage))
