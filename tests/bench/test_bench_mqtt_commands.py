"""Benchmarks of what the monitoring system sees of the daemon process over MQTT; figures
printed with a baseline measured in the same run, only correctness asserted:

- MQTT dose command → first G-code byte on the pty (p50/p99 over 200 doses), against the
  same run's HTTP dispense → first G-code byte and a bare publish → receive round trip;
- commands answered per minute, sustained 60 s with at most 1,000 results outstanding, and
  the daemon's RSS meanwhile, against one client publishing the same messages to a
  subscriber through the same broker;
- draining a 10,000-event outbox left by an outage, against one paho client publishing
  10,000 messages of the same size to the same subscriber.

The daemon talks to the broker over WebSockets (its default); the test's clients use the
plain MQTT port, except the outbox baseline's publisher, which stands in for the daemon.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from adapters.storage.outbox import SqliteOutbox
from domain.events import DoseEnded, DoseOutcome
from domain.telemetry import MessageKind, dispense_completed
from support.bench_daemon import (
    Client,
    Inbox,
    Rig,
    connect_daemon,
    grbl_rig,
    percentile,
    publisher,
)
from support.mosquitto import Mosquitto
from support.procfs import cpu_seconds, rss_kib

pytestmark = pytest.mark.bench
DOSES = 200
SUSTAIN_S, MAX_COMMANDS, WINDOW = 60.0, 200_000, 1_000
BACKLOG = 10_000
RAW_TOPIC = "doser/bench_000000/dispense/complete"  # as long as the daemon's topic
MS = 1000.0


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with grbl_rig(tmp_path) as made:
        yield made


def test_bench_mqtt_dose_command_to_first_gcode_byte(
    rig: Rig, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    with (
        connect_daemon(rig, mosquitto, tmp_path) as (_, base, http),
        Inbox(mosquitto, f"{base}/#", "bench/#") as inbox,
        publisher(mosquitto) as client,
    ):
        rounds = [dose_round(rig, base, http, inbox, client, i) for i in range(DOSES + 5)]
    # the first 5 rounds warm up, uncounted
    mqtt_s, result_s, complete_s, http_s, bare_s = (list(c) for c in zip(*rounds[5:], strict=True))
    m50, m99 = percentile(mqtt_s, 0.5), percentile(mqtt_s, 0.99)
    h50, h99 = percentile(http_s, 0.5), percentile(http_s, 0.99)
    b50, b99 = percentile(bare_s, 0.5), percentile(bare_s, 0.99)
    print(f"\nMQTT dose command -> first G-code byte ({DOSES} doses): {_p(mqtt_s)}")
    print(f"  publish -> cmd/result received:            {_p(result_s)}")
    print(f"  publish -> dispense/complete received:     {_p(complete_s)}")
    print(
        f"  baseline HTTP dispense -> first G-code:    {_p(http_s)}  "
        f"(ratio p50 {m50 / h50:.1f}x, p99 {m99 / h99:.1f}x)"
    )
    print(
        f"  baseline bare MQTT publish -> receive:     {_p(bare_s)}  "
        f"(ratio p50 {m50 / b50:.1f}x, p99 {m99 / b99:.1f}x)"
    )


def test_bench_mqtt_commands_answered_per_minute(
    rig: Rig, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    def command(i: int) -> tuple[str, str]:
        # alternately accepted (stop on an idle pump) and refused (dose to no such pump)
        if i % 2 == 0:
            return f"{base}/cmd/X/stop", f'{{"correlationId":"c-{i:07d}"}}'
        body = f'{{"volume_ml":0.05,"flowRate_ml_min":150,"correlationId":"c-{i:07d}"}}'
        return f"{base}/cmd/Q/dose", body

    def raw(i: int) -> tuple[str, str]:
        topic, payload = command(i)
        return "bench/" + topic.removeprefix("doser/"), payload

    rss: list[tuple[float, int]] = []
    with (
        connect_daemon(rig, mosquitto, tmp_path) as (daemon, base, _),
        Inbox(mosquitto, f"{base}/cmd/result") as inbox,
        publisher(mosquitto) as client,
    ):
        cpu0 = cpu_seconds(daemon.pid)
        sample = _sampler(rss, daemon.pid)
        sent, seconds = publish_windowed(client, inbox, command, SUSTAIN_S, sample)
        sample(time.monotonic(), force=True)
        cpu = cpu_seconds(daemon.pid) - cpu0
        results = [json.loads(p) for _, _, p in inbox.since(0)]
    with Inbox(mosquitto, "bench/#") as raw_inbox, publisher(mosquitto) as raw_client:
        raw_sent, raw_s = publish_windowed(raw_client, raw_inbox, raw, 30.0, None, limit=sent)
        raw_received = len(raw_inbox)

    ids = [r.get("correlationId") for r in results]
    unique = set(ids)
    codes: dict[str, int] = {}
    for r in results:
        key = "ok" if r["ok"] else r.get("code", "?")
        codes[key] = codes.get(key, 0) + 1
    missing = sent - len(unique & {f"c-{i:07d}" for i in range(sent)})
    per_min = len(unique) / max(seconds, 1e-9) * 60
    raw_per_min = raw_received / max(raw_s, 1e-9) * 60
    print(
        f"\nMQTT commands, {seconds:.1f} s sustained, window {WINDOW}: {sent} sent, "
        f"{len(unique)} answered ({per_min:,.0f}/min), {missing} missing, "
        f"{len(ids) - len(unique)} duplicate results; by result {codes}"
    )
    print(f"  daemon CPU {cpu:.1f} s ({cpu / seconds * 100:.0f} % of a core)")
    print(
        f"  daemon RSS MiB start {rss[0][1] / 1024:.1f}, middle "
        f"{_near(rss, seconds / 2) / 1024:.1f}, end {rss[-1][1] / 1024:.1f}, max "
        f"{max(r for _, r in rss) / 1024:.1f} (every 5 s: "
        f"{' '.join(f'{r / 1024:.1f}' for _, r in rss)})"
    )
    print(
        f"  baseline raw broker, same {raw_sent} messages client -> subscriber: "
        f"{raw_received} in {raw_s:.1f} s ({raw_per_min:,.0f}/min; ratio daemon/raw "
        f"{per_min / raw_per_min:.2f}x)"
    )
    assert missing == 0, f"{missing} commands got no result"
    assert set(codes) <= {"ok", "unknown_pump"}, codes


def test_bench_outbox_drain_after_a_10000_event_outage(
    rig: Rig, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    outbox = SqliteOutbox(rig.data_dir / "outbox.sqlite3")
    for i in range(BACKLOG):
        outbox.append(MessageKind.DISPENSE_COMPLETE, dose_complete_payload(i))
    outbox.close()
    sample = json.dumps({**dose_complete_payload(0), "seq": BACKLOG})
    with Inbox(mosquitto, "doser/#", client_id="bench-observer") as inbox:
        with publisher(mosquitto, websockets=True) as client:
            # windowed: a burst of 10,000 overflows mosquitto's default queue of 1,000 QoS 1
            # messages per subscriber, which then drops the rest
            raw_sent, raw_s = publish_windowed(
                client, inbox, lambda _: (RAW_TOPIC, sample), 60.0, None, BACKLOG, window=500
            )
            raw_received = len(inbox)
        inbox.clear()
        started = time.monotonic()
        with connect_daemon(rig, mosquitto, tmp_path, wait_mqtt=False) as (daemon, base, _):
            seqs, first, last = wait_seqs(inbox, "/dispense/complete", BACKLOG, 75.0)
            rss = rss_kib(daemon.pid)
        others = {t for _, t, _ in inbox.since(0) if not t.endswith("/dispense/complete")}
    left = SqliteOutbox(rig.data_dir / "outbox.sqlite3")
    depth = left.depth()
    left.close()
    received = sum(seqs.values())
    got = sum(1 for s in range(1, BACKLOG + 1) if s in seqs)
    print(
        f"\noutbox drain, {BACKLOG} dispenseComplete ({len(sample)} B) after an outage: "
        f"{got} of {BACKLOG} seqs, {received - got} duplicates; start -> first "
        f"{(first - started) * MS:.0f} ms, start -> last {(last - started):.2f} s, "
        f"first -> last {last - first:.2f} s ({got / max(last - first, 1e-9):,.0f} msg/s)"
    )
    print(f"  daemon RSS at the end {rss / 1024:.1f} MiB; outbox depth after stop {depth}")
    print(f"  other topics seen meanwhile: {sorted(t.removeprefix(base) for t in others)}")
    print(
        f"  baseline bare paho (WebSockets, window 500) publishing {raw_sent} QoS 1: "
        f"{raw_received} arrived in {raw_s:.2f} s ({raw_received / raw_s:,.0f} msg/s; ratio "
        f"drain time {(last - first) / raw_s:.1f}x)"
    )
    assert got == BACKLOG, f"seqs missing: {BACKLOG - got}"


def dose_round(
    rig: Rig, base: str, http: Client, inbox: Inbox, client: mqtt.Client, i: int
) -> tuple[float, float, float, float, float]:
    """Seconds from publishing a dose command to its first G-code byte, its result and its
    dispense/complete; from an HTTP dispense to its first G-code byte; and of a bare publish
    to receive round trip of a message of the command's size. Each dose ends before the next."""
    cid = f"dose-{i:06d}"
    body = json.dumps({"volume_ml": 0.05, "flowRate_ml_min": 150, "correlationId": cid})
    inbox.clear()
    t0 = time.monotonic()
    client.publish(f"{base}/cmd/X/dose", body, qos=1)
    t_result, result = inbox.wait_json(f"{base}/cmd/result", correlationId=cid)
    assert result["ok"], result
    t_done, _ = inbox.wait_json(f"{base}/dispense/complete", doseId=result["doseId"])
    mqtt_gcode = rig.engine.arrivals_after(t0)[0]
    wait_idle(http)
    t1 = time.monotonic()
    status, answer = http.call(
        "POST", "/api/pump/X/dispense", {"volume": 0.05, "flowRate": 150}, rig.token
    )
    assert status == 202, answer
    http_gcode = rig.engine.arrivals_after(t1)[0]
    wait_idle(http)
    t2 = time.monotonic()
    client.publish(f"bench/ping/{i:06d}", body, qos=1)
    t_back, _ = inbox.wait_json(f"bench/ping/{i:06d}", correlationId=cid)
    return mqtt_gcode - t0, t_result - t0, t_done - t0, http_gcode - t1, t_back - t2


def publish_windowed(
    client: mqtt.Client,
    inbox: Inbox,
    message: Callable[[int], tuple[str, str]],
    duration_s: float,
    tick: Callable[[float], None] | None,
    limit: int = MAX_COMMANDS,
    window: int = WINDOW,
) -> tuple[int, float]:
    """Publish ``message(0)``, ``message(1)``, … (QoS 1) never more than ``window`` ahead
    of what ``inbox`` received, until ``limit`` are sent or ``duration_s`` passed; returns
    how many were sent and the seconds from the first publish to the last answer, waiting
    up to 15 s past ``duration_s`` for the answers still outstanding."""
    start = time.monotonic()
    deadline, sent = start + duration_s, 0
    while sent < limit and (now := time.monotonic()) < deadline:
        if tick is not None:
            tick(now)
        room = min(window - (sent - len(inbox)), limit - sent, 100)
        if room <= 0:
            inbox.wait_count(sent - window // 2, timeout_s=min(0.5, deadline - now))
            continue
        for i in range(sent, sent + room):
            client.publish(*message(i), qos=1)
        sent += room
    inbox.wait_count(sent, timeout_s=max(0.0, deadline - time.monotonic()) + 15.0)
    return sent, (inbox.last_arrival() if len(inbox) else time.monotonic()) - start


def wait_seqs(
    inbox: Inbox, suffix: str, count: int, timeout_s: float
) -> tuple[dict[int, int], float, float]:
    """Seq -> times received for messages on topics ending ``suffix``, until every seq
    1..``count`` arrived or ``timeout_s`` passed; with the first and last arrival times."""
    seqs: dict[int, int] = {}
    first = last = 0.0
    cursor, deadline = 0, time.monotonic() + timeout_s
    while len(seqs) < count and time.monotonic() < deadline:
        inbox.wait_count(cursor + 1, timeout_s=0.2)
        batch = inbox.since(cursor)
        cursor += len(batch)
        for at, topic, payload in batch:
            if topic.endswith(suffix):
                seq = json.loads(payload)["seq"]
                seqs[seq] = seqs.get(seq, 0) + 1
                first, last = first or at, at
    return seqs, first, last


def wait_idle(http: Client) -> None:
    for _ in range(2000):
        if http.call("GET", "/api/pumps")[1][0]["state"] == "idle":  # type: ignore[index]
            return
        time.sleep(0.005)
    raise AssertionError("pump X did not come back to idle")


def _sampler(samples: list[tuple[float, int]], pid: int) -> Callable[..., None]:
    """A ``tick`` that records ``pid``'s RSS at the first call, then every 5 s (and when
    ``force``d)."""
    start = time.monotonic()

    def tick(now: float, force: bool = False) -> None:
        if force or not samples or now - start >= 5.0 * len(samples):
            samples.append((now - start, rss_kib(pid)))

    return tick


def dose_complete_payload(i: int) -> dict[str, object]:
    """The ``dispenseComplete`` a 0.05 ml dose at 150 ml/min leaves in the outbox."""
    at = datetime(2026, 11, 21, 14, 0, tzinfo=UTC) + timedelta(seconds=i)
    ended = DoseEnded(uuid.uuid4().hex, "X", 0.05, 0.0499, DoseOutcome.COMPLETED)
    return dispense_completed(ended, 150.0, at - timedelta(seconds=0.02), at)


def _near(samples: list[tuple[float, int]], at: float) -> int:
    return min(samples, key=lambda s: abs(s[0] - at))[1]


def _p(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 0.5) * MS:6.2f} ms  p99 {percentile(values, 0.99) * MS:6.2f} ms"
        f"  max {max(values) * MS:6.2f} ms"
    )
