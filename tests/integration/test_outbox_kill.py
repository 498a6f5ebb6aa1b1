"""SIGKILL a process while it appends to the outbox as fast as it can: after reopening, every
seq it printed (so ``append`` had returned) is stored whole, seqs rise, none is reused."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.storage.outbox import SqliteOutbox
from domain.telemetry import MessageKind

pytestmark = pytest.mark.slow
SRC = Path(__file__).resolve().parents[2] / "src"
# Prints "a <seq>" after each append returned and, with a drain argument, "k <seq>" after
# acknowledging the oldest entry every other append. Each row's payload names its run and
# its place in the run, and carries ~2 KB of multi-byte text, so a torn row would show.
WRITER = """
import sys
from pathlib import Path
from adapters.storage.outbox import SqliteOutbox
from domain.telemetry import MessageKind

outbox = SqliteOutbox(Path(sys.argv[1]))
run, drain = sys.argv[2], len(sys.argv) > 3
print("open", flush=True)
n = 0
while True:
    n += 1
    kind = MessageKind.ALARM if n % 3 == 0 else MessageKind.DISPENSE_EVENT
    seq = outbox.append(kind, {"run": run, "n": n, "text": f"{run}/{n} " + "é☃" * 700})
    print("a", seq, flush=True)
    if drain and n % 2 == 0:
        (oldest,) = outbox.pending(1)
        outbox.acknowledge(oldest.seq)
        print("k", oldest.seq, flush=True)
"""


def kill_after_appends(path: Path, run: str, appends: int, *, drain: bool) -> list[str]:
    """Run a writer, SIGKILL it once it printed ``appends`` appends; every line it printed."""
    pythonpath = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    args = [sys.executable, "-c", WRITER, str(path), run] + (["drain"] if drain else [])
    child = subprocess.Popen(
        args,
        env={**os.environ, "PYTHONPATH": pythonpath},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        printed: list[str] = []
        deadline = time.monotonic() + 30
        while sum(line.startswith("a ") for line in printed) < appends:
            line = child.stdout.readline()
            assert line, f"writer died: {child.stderr.read() if child.stderr else ''}"
            printed.append(line.strip())
            assert time.monotonic() < deadline, "writer too slow"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        # What it printed between our last read and the kill; the last line may be cut.
        tail = child.stdout.read()
        printed += [line for line in tail.splitlines(keepends=True) if line.endswith("\n")]
        return [line.strip() for line in printed if line.strip() != "open"]
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        child.stdout.close()
        if child.stderr:
            child.stderr.close()


def payload(run: str, n: int) -> dict[str, object]:
    """What the writer appends as the ``n``-th entry of ``run``."""
    return {"run": run, "n": n, "text": f"{run}/{n} " + "é☃" * 700}


def printed_seqs(lines: list[str], tag: str) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.split()[0] == tag]


def assert_rows_whole(outbox: SqliteOutbox) -> list[int]:
    """Every stored row is a whole payload of its run, runs in order; the stored seqs."""
    entries = outbox.pending(1_000_000)
    stored = [entry.seq for entry in entries]
    assert stored == sorted(set(stored))
    places = [(entry.payload["run"], entry.payload["n"]) for entry in entries]
    assert places == sorted(places)
    for entry in entries:
        run, n = entry.payload["run"], entry.payload["n"]
        assert entry.payload == payload(run, n)
        assert entry.kind is (MessageKind.ALARM if n % 3 == 0 else MessageKind.DISPENSE_EVENT)
    return stored


def test_a_killed_appender_loses_no_append_that_returned(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    rng = random.Random(20261121)
    appended: list[int] = []
    for run in ("r1", "r2", "r3"):
        lines = kill_after_appends(path, run, rng.randint(1, 300), drain=False)
        printed = printed_seqs(lines, "a")
        assert printed == sorted(set(printed))
        assert not appended or printed[0] > appended[-1]
        appended += printed
        outbox = SqliteOutbox(path)
        stored = assert_rows_whole(outbox)
        outbox.close()
        # Every printed seq is there; at most one more committed but was not printed.
        assert stored[: len(appended)] == appended
        assert len(stored) - len(appended) <= 1
        # Runs append to one another without a gap or a reused seq.
        assert stored == list(range(1, len(stored) + 1))
        appended = stored


def test_a_killed_appender_that_acknowledges_never_gets_a_seq_back(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    rng = random.Random(20261122)
    highest = 0
    for run in ("r1", "r2", "r3"):
        lines = kill_after_appends(path, run, rng.randint(2, 300), drain=True)
        appended, acknowledged = printed_seqs(lines, "a"), printed_seqs(lines, "k")
        assert appended[0] > highest
        outbox = SqliteOutbox(path)
        stored = set(assert_rows_whole(outbox))
        assert not stored & set(acknowledged)
        # An acknowledge may have committed without its line printed: that of the oldest.
        missing = set(appended) - set(acknowledged) - stored
        assert len(missing) <= 1
        assert all(seq < min(stored, default=seq + 1) for seq in missing)
        # Whatever committed before the kill, unprinted or since acknowledged, a new append
        # after reopening gets a seq above all of it.
        highest = outbox.append(MessageKind.DISPENSE_EVENT, payload(run, 0))
        outbox.acknowledge(highest)
        outbox.close()
        assert highest > max(appended)
