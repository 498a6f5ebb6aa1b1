"""Telemetry and commands over PahoBrokerSession against a real mosquitto: outbox entries on
their topics with their QoS, acknowledgement callbacks, retained status, generations across
broker restarts, command subscriptions held across reconnects, and what paho re-sends
after a connection died with a message unacknowledged. The tests that take ``protocol``
run under MQTT 3.1.1 and 5."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import paho.mqtt.publish as paho_publish
import pytest

from adapters.mqtt.commands import CommandRequest, MqttCommands
from adapters.mqtt.session import PahoBrokerSession
from adapters.mqtt.telemetry import MqttTelemetry
from application.ports import ReplyTo
from domain.telemetry import MessageKind, OutboxEntry
from support.mosquitto import HOST, Mosquitto, free_port
from support.mqtt_subscriber import Subscriber

pytestmark = pytest.mark.slow

BASE = "doser/doser_A1B2C3"
TIMEOUT_S = 2.0
WAIT_S = 10.0  # a ceiling for "it arrives", not a speed target


class QosObserver(Subscriber):
    """A ``Subscriber`` at QoS 2 that also notes the QoS each message arrived with (the
    lower of the publisher's and the subscription's, so here the publisher's)."""

    def __init__(self, broker: Mosquitto, topic_filter: str) -> None:
        super().__init__(broker.host, broker.port, topic_filter, qos=2, durable=False)
        self.qos_by_payload: dict[str, int] = {}

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.qos_by_payload[msg.payload.decode("utf-8")] = msg.qos
        super()._on_message(client, userdata, msg)


class Relay:
    """A TCP relay between the session and the broker that can swallow what the session
    sends (``swallow``) and cut every connection (``cut``): a link that dies after a
    PUBLISH left the device but before the broker got it."""

    def __init__(self, broker_port: int) -> None:
        self._broker_port = broker_port
        self._listener = socket.create_server((HOST, 0))
        self.port = int(self._listener.getsockname()[1])
        self.swallow = threading.Event()
        self.swallowed = threading.Event()  # some bytes were dropped
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        for pair in self._pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self._pairs.clear()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        self._accepting.join(WAIT_S)
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                device, _ = self._listener.accept()
            except OSError:
                return  # closed
            broker = socket.create_connection((HOST, self._broker_port))
            self._pairs.append((device, broker))
            threading.Thread(target=self._copy, args=(device, broker, True), daemon=True).start()
            threading.Thread(target=self._copy, args=(broker, device, False), daemon=True).start()

    def _copy(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                if upstream and self.swallow.is_set():
                    self.swallowed.set()
                    continue
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def entry(kind: MessageKind, seq: int = 7) -> OutboxEntry:
    payload = {"eventType": "dispenseComplete", "pump": "pump-1", "note": "façade"}
    return OutboxEntry(seq, kind, payload)


def send_command(broker: Mosquitto, topic: str, body: dict[str, Any]) -> None:
    """Another client publishes one command (QoS 1) and waits for its PUBACK."""
    paho_publish.single(topic, json.dumps(body), qos=1, hostname=broker.host, port=broker.port)


def next_request(requests: queue.Queue[CommandRequest]) -> CommandRequest:
    try:
        return requests.get(timeout=WAIT_S)
    except queue.Empty:
        raise AssertionError(f"no command reached the handler within {WAIT_S} s") from None


@pytest.mark.parametrize("kind", [MessageKind.DISPENSE_COMPLETE, MessageKind.ALARM])
def test_an_outbox_entry_arrives_as_json_on_its_kind_topic_with_its_qos(
    mosquitto: Mosquitto,
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
    kind: MessageKind,
) -> None:
    session = make_session(mosquitto.tcp_url, protocol=protocol)
    telemetry = MqttTelemetry(session, BASE)
    session.connect(TIMEOUT_S)
    sent = entry(kind)

    with QosObserver(mosquitto, f"{BASE}/#") as observer:
        assert telemetry.send(sent, lambda: None)
        message = observer.wait_for(lambda m: m.topic == f"{BASE}/{kind.value}")

    assert json.loads(message.payload) == sent.message()
    assert "façade" in message.payload  # UTF-8 as is, not \u00e7 escapes
    assert not message.retain
    assert observer.qos_by_payload[message.payload] == kind.qos


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_on_acked_runs_on_the_network_thread_once_the_message_is_done(
    mosquitto: Mosquitto, protocol: str, make_session: Callable[..., PahoBrokerSession], qos: int
) -> None:
    session = make_session(mosquitto.tcp_url, protocol=protocol)
    session.connect(TIMEOUT_S)
    acked_on: queue.Queue[threading.Thread] = queue.Queue()

    published = session.publish(
        f"{BASE}/probe",
        "x",
        qos=qos,
        retain=False,
        on_acked=lambda: acked_on.put(threading.current_thread()),
    )

    assert published
    assert acked_on.get(timeout=WAIT_S) is not threading.current_thread()


def test_every_one_of_many_concurrent_publishes_gets_its_own_acknowledgement(
    mosquitto: Mosquitto, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(mosquitto.tcp_url)
    session.connect(TIMEOUT_S)
    acked: queue.Queue[int] = queue.Queue()

    def publish_range(first: int, qos: int) -> None:
        for n in range(first, first + 200):
            assert session.publish(
                f"{BASE}/load", str(n), qos=qos, retain=False, on_acked=lambda n=n: acked.put(n)
            )

    threads = [
        threading.Thread(target=publish_range, args=(0, 1)),
        threading.Thread(target=publish_range, args=(200, 2)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)

    seen = sorted(acked.get(timeout=WAIT_S) for _ in range(400))
    assert seen == list(range(400))
    assert acked.empty()


def test_nothing_is_sent_while_not_connected(
    mosquitto: Mosquitto, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(mosquitto.tcp_url)
    telemetry = MqttTelemetry(session, BASE)

    def attempts() -> list[bool]:
        return [
            telemetry.send(entry(MessageKind.ALARM), lambda: None),
            telemetry.publish_status({"state": "idle"}),
            telemetry.publish_pump_status("pump-1", {"state": "idle"}),
            telemetry.publish_queue_status({"depth": 0}),
            telemetry.publish_command_result({"correlationId": "c-1", "ok": True}),
        ]

    assert (telemetry.connected, telemetry.generation) == (False, 0)
    assert attempts() == [False] * 5
    session.connect(TIMEOUT_S)
    session.disconnect()
    assert not telemetry.connected
    assert attempts() == [False] * 5


def test_generation_counts_connections_across_a_broker_restart(
    mosquitto: Mosquitto, protocol: str, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(mosquitto.tcp_url, protocol=protocol)
    telemetry = MqttTelemetry(session, BASE)
    assert telemetry.generation == 0

    session.connect(TIMEOUT_S)
    assert (telemetry.connected, telemetry.generation) == (True, 1)

    mosquitto.restart()
    assert session.wait_lost(WAIT_S)
    assert (telemetry.connected, telemetry.generation) == (False, 1)

    session.connect(TIMEOUT_S)
    assert (telemetry.connected, telemetry.generation) == (True, 2)
    assert telemetry.publish_status({"state": "idle"})


def test_system_and_pump_status_are_retained_for_a_late_subscriber(
    mosquitto: Mosquitto, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(mosquitto.tcp_url)
    telemetry = MqttTelemetry(session, BASE)
    session.connect(TIMEOUT_S)
    with Subscriber(mosquitto.host, mosquitto.port, f"{BASE}/#", durable=False) as early:
        telemetry.publish_status({"state": "dispensing"})
        telemetry.publish_pump_status("pump-1", {"state": "dosing"})
        early.wait_for(lambda m: m.topic == f"{BASE}/pump/pump-1/status")

    with Subscriber(mosquitto.host, mosquitto.port, f"{BASE}/#", durable=False) as late:
        status = late.wait_for(lambda m: m.topic == f"{BASE}/status")
        pump = late.wait_for(lambda m: m.topic == f"{BASE}/pump/pump-1/status")

    assert (json.loads(status.payload), status.retain) == ({"state": "dispensing"}, True)
    assert (json.loads(pump.payload), pump.retain) == ({"state": "dosing"}, True)


def test_queue_status_and_command_results_are_neither_retained_nor_misrouted(
    mosquitto: Mosquitto, protocol: str, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(mosquitto.tcp_url, protocol=protocol)
    telemetry = MqttTelemetry(session, BASE)
    session.connect(TIMEOUT_S)
    result = {"correlationId": "c-1", "ok": True, "error": None}

    with QosObserver(mosquitto, "#") as observer:
        telemetry.publish_queue_status({"depth": 3})
        telemetry.publish_command_result(result)
        telemetry.publish_command_result(result, ReplyTo("ops/replies/42"))
        queue_status = observer.wait_for(lambda m: m.topic == f"{BASE}/queue/status")
        answer = observer.wait_for(lambda m: m.topic == f"{BASE}/cmd/result")
        replied = observer.wait_for(lambda m: m.topic == "ops/replies/42")

    assert json.loads(queue_status.payload) == {"depth": 3}
    assert json.loads(answer.payload) == json.loads(replied.payload) == result
    assert not (queue_status.retain or answer.retain or replied.retain)
    assert observer.qos_by_payload[answer.payload] == 1


def test_a_command_still_reaches_the_handler_after_the_broker_restarts(
    mosquitto_factory: Callable[..., Mosquitto],
    protocol: str,
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    # Not persistent: after the restart only the session's own re-subscription can route it.
    broker = mosquitto_factory(persistent=False)
    session = make_session(broker.tcp_url, protocol=protocol)
    requests: queue.Queue[CommandRequest] = queue.Queue()
    MqttCommands(session, BASE, requests.put).start()
    session.connect(TIMEOUT_S)

    send_command(broker, f"{BASE}/cmd/pump-1/dose", {"volume_ml": 5, "correlationId": "c-1"})
    first = next_request(requests)

    broker.restart()
    assert session.wait_lost(WAIT_S)
    session.connect(TIMEOUT_S)
    send_command(broker, f"{BASE}/cmd/emergency-stop", {"correlationId": "c-2"})
    second = next_request(requests)

    assert first == CommandRequest("dose", "pump-1", {"volume_ml": 5, "correlationId": "c-1"})
    assert second == CommandRequest("emergency-stop", None, {"correlationId": "c-2"})


def test_a_subscription_made_while_connected_takes_effect_at_once(
    mosquitto: Mosquitto, protocol: str, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(mosquitto.tcp_url, protocol=protocol)
    session.connect(TIMEOUT_S)
    requests: queue.Queue[CommandRequest] = queue.Queue()

    MqttCommands(session, BASE, requests.put).start()

    # The SUBSCRIBE is not waited for: offer the command until it is routed.
    for attempt in range(int(WAIT_S / 0.2)):
        send_command(mosquitto, f"{BASE}/cmd/pump-1/stop", {"correlationId": f"c-{attempt}"})
        try:
            request = requests.get(timeout=0.2)
            break
        except queue.Empty:
            continue
    else:
        raise AssertionError("the command never reached the handler")
    assert (request.action, request.target, request.error) == ("stop", "pump-1", None)


def test_a_handler_that_raises_does_not_stop_later_deliveries(
    mosquitto: Mosquitto, protocol: str, make_session: Callable[..., PahoBrokerSession]
) -> None:
    session = make_session(mosquitto.tcp_url, protocol=protocol)
    delivered: queue.Queue[bytes] = queue.Queue()

    def handler(topic: str, payload: bytes, reply_to: ReplyTo | None) -> None:
        delivered.put(payload)
        if payload == b'{"n": 1}':
            raise RuntimeError("handler bug")

    session.subscribe(f"{BASE}/cmd/#", 1, handler)
    session.connect(TIMEOUT_S)

    send_command(mosquitto, f"{BASE}/cmd/pump-1/dose", {"n": 1})
    send_command(mosquitto, f"{BASE}/cmd/pump-1/dose", {"n": 2})

    assert delivered.get(timeout=WAIT_S) == b'{"n": 1}'
    assert delivered.get(timeout=WAIT_S) == b'{"n": 2}'
    assert session.connected
    assert session.wait_lost(0.3) is None


def test_paho_resends_a_message_the_broker_never_acknowledged_but_drops_its_callback(
    mosquitto: Mosquitto, protocol: str, make_session: Callable[..., PahoBrokerSession]
) -> None:
    relay = Relay(mosquitto.port)
    try:
        session = make_session(f"mqtt://{HOST}:{relay.port}", protocol=protocol)
        session.connect(TIMEOUT_S)
        with Subscriber(mosquitto.host, mosquitto.port, f"{BASE}/alarm", qos=2) as observer:
            old_acked, new_acked = threading.Event(), threading.Event()
            relay.swallow.set()
            assert session.publish(
                f"{BASE}/alarm", "lost-in-transit", qos=1, retain=False, on_acked=old_acked.set
            )
            assert relay.swallowed.wait(WAIT_S)  # the PUBLISH left the device, never arrived
            relay.cut()
            assert session.wait_lost(WAIT_S)
            relay.swallow.clear()

            session.connect(TIMEOUT_S)  # paho re-sends after the CONNACK, DUP set
            assert session.publish(
                f"{BASE}/alarm", "after", qos=1, retain=False, on_acked=new_acked.set
            )
            observer.wait_for(lambda m: m.payload == "after")
            assert new_acked.wait(WAIT_S)

        # In order per topic: the re-sent copy came first, exactly once (no caller resend
        # here); its acknowledgement came too, but the old connection's callback is gone.
        payloads = [m.payload for m in observer.messages if m.topic == f"{BASE}/alarm"]
        assert payloads == ["lost-in-transit", "after"]
        assert not old_acked.is_set()
    finally:
        relay.close()


def test_before_any_connection_a_subscription_is_remembered_and_a_publish_refused(
    make_session: Callable[..., PahoBrokerSession],
) -> None:
    session = make_session(f"mqtt://{HOST}:{free_port()}")

    session.subscribe(f"{BASE}/cmd/#", 1, lambda *_: None)

    assert not session.publish(f"{BASE}/status", "{}", qos=0, retain=True)
