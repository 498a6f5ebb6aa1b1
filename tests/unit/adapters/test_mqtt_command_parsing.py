"""Command topics and bodies as the MQTT command adapter reads them (DESIGN §5), and that
nothing a sender or a handler does can raise into paho. No broker."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from adapters.mqtt.commands import (
    MAX_BODY_BYTES,
    CommandRequest,
    MqttCommands,
    parse_body,
    parse_command,
)
from application.ports import ReplyTo

BASE = "doser/doser_A1B2C3"
DOSE = {"volume_ml": 12.5, "flowRate_ml_min": 30, "correlationId": "c-1"}


@pytest.mark.parametrize(
    ("suffix", "action", "target"),
    [
        ("pump-1/dose", "dose", "pump-1"),
        ("pump-1/stop", "stop", "pump-1"),
        ("emergency-stop", "emergency-stop", None),
        ("recipe/morning-feed/execute", "recipe", "morning-feed"),
        ("recipe/dose", "dose", "recipe"),  # a pump may be called "recipe"
    ],
)
def test_a_command_topic_names_its_action_and_target(
    suffix: str, action: str, target: str | None
) -> None:
    request = parse_command(BASE, f"{BASE}/cmd/{suffix}", json.dumps(DOSE).encode())

    assert request == CommandRequest(action, target, DOSE)


@pytest.mark.parametrize(
    "suffix",
    ["pump-1/prime", "pump-1", "/dose", "recipe//execute", "recipe/x", "a/b/c/d", ""],
)
def test_any_other_topic_under_cmd_is_an_unknown_command_with_its_body_kept(suffix: str) -> None:
    request = parse_command(BASE, f"{BASE}/cmd/{suffix}", b'{"correlationId": "c-9"}')

    assert request is not None
    assert (request.action, request.target) == ("unknown", None)
    assert request.error == f"unknown command topic 'cmd/{suffix}'"
    assert request.body == {"correlationId": "c-9"}  # so the answer can name it


@pytest.mark.parametrize(
    "topic",
    [
        f"{BASE}/cmd/result",  # our own answers
        f"{BASE}/status",
        "doser/doser_OTHER/cmd/pump-1/dose",
        f"{BASE}/cmdx/pump-1/dose",
    ],
)
def test_our_own_results_and_topics_outside_cmd_are_no_request(topic: str) -> None:
    assert parse_command(BASE, topic, b"{}") is None


def test_the_reply_to_of_the_message_is_carried_along() -> None:
    reply_to = ReplyTo("ops/replies/42", b"\x01\x02")

    request = parse_command(BASE, f"{BASE}/cmd/emergency-stop", b"{}", reply_to)

    assert request is not None
    assert request.reply_to == reply_to


@pytest.mark.parametrize("payload", [b"", b"  \n", b"{}"])
def test_an_empty_payload_is_an_empty_body_so_a_bare_stop_works(payload: bytes) -> None:
    assert parse_body(payload) == ({}, None)


def test_a_body_keeps_non_ascii_text() -> None:
    assert parse_body('{"note": "façade"}'.encode()) == ({"note": "façade"}, None)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"\xff\xfe{}", "body is not UTF-8"),
        (b"{", "body is not JSON: Expecting property name enclosed in double quotes at"),
        (b'{"volume_ml": 5', "body is not JSON"),
        (b"[1, 2]", "body must be a JSON object, not an array"),
        (b'"dose"', "body must be a JSON object, not a string"),
        (b"5", "body must be a JSON object, not a number"),
        (b"null", "body must be a JSON object, not null"),
        (b"true", "body must be a JSON object, not a boolean"),
        (b'{"volume_ml": NaN}', "body holds NaN, Infinity or an out-of-range number"),
        (b'{"volume_ml": Infinity}', "body holds NaN, Infinity or an out-of-range number"),
        (b'{"volume_ml": -Infinity}', "body holds NaN, Infinity or an out-of-range number"),
        (b'{"volume_ml": 1e999}', "body holds NaN, Infinity or an out-of-range number"),
        (b'{"volume_ml": ' + b"9" * 5000 + b"}", "body is not JSON this device can read"),
        (b"[" * 8_000 + b"]" * 8_000, "body is not JSON this device can read"),
    ],
)
def test_a_body_that_cannot_be_read_is_none_with_the_reason(payload: bytes, error: str) -> None:
    body, why = parse_body(payload)

    assert body is None
    assert why is not None
    assert why.startswith(error)


def test_a_body_of_exactly_16_kib_is_read_and_one_byte_more_is_refused() -> None:
    padding = "x" * (MAX_BODY_BYTES - len('{"pad": ""}'))
    largest = json.dumps({"pad": padding}).encode()
    assert len(largest) == MAX_BODY_BYTES

    assert parse_body(largest) == ({"pad": padding}, None)
    assert parse_body(largest + b" ") == (None, "body larger than 16384 bytes")


def test_a_dose_with_a_bad_body_keeps_action_and_target_for_the_answer() -> None:
    request = parse_command(BASE, f"{BASE}/cmd/pump-1/dose", b"[]")

    assert request == CommandRequest(
        "dose", "pump-1", None, "body must be a JSON object, not an array"
    )


class RecordingSession:
    """Stands in for the session: records the subscription and lets a test deliver."""

    def __init__(self) -> None:
        self.subscriptions: list[tuple[str, int]] = []
        self.deliver: Callable[[str, bytes, ReplyTo | None], None] | None = None

    def subscribe(
        self, topic_filter: str, qos: int, handler: Callable[[str, bytes, ReplyTo | None], None]
    ) -> None:
        self.subscriptions.append((topic_filter, qos))
        self.deliver = handler


def test_start_subscribes_every_command_topic_at_qos_1() -> None:
    session = RecordingSession()

    MqttCommands(session, BASE + "/", lambda _: None).start()

    assert session.subscriptions == [
        (f"{BASE}/cmd/+/+", 1),
        (f"{BASE}/cmd/emergency-stop", 1),
        (f"{BASE}/cmd/recipe/+/execute", 1),
    ]  # not cmd/#, which would bring our own cmd/result back


def test_messages_reach_the_handler_as_requests_and_our_results_do_not() -> None:
    session, received = RecordingSession(), list[CommandRequest]()
    MqttCommands(session, BASE, received.append).start()
    assert session.deliver is not None

    session.deliver(f"{BASE}/cmd/result", b'{"ok": true}', None)
    session.deliver(f"{BASE}/cmd/pump-1/stop", b"", None)

    assert received == [CommandRequest("stop", "pump-1", {})]


def test_a_failing_handler_is_logged_and_never_raised_into_paho(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = RecordingSession()

    def broken(_: CommandRequest) -> None:
        raise RuntimeError("handler bug")

    MqttCommands(session, BASE, broken).start()
    assert session.deliver is not None

    with caplog.at_level(logging.ERROR, logger="adapters.mqtt.commands"):
        session.deliver(f"{BASE}/cmd/emergency-stop", b"", None)

    assert [record.exc_info[0] for record in caplog.records if record.exc_info] == [RuntimeError]
