"""SIGKILL a process while it writes the NVS as fast as it can: after reopening, the
device triple is whole (name, location and seq agree) and holds every printed commit."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.storage.nvs import SqliteNvs

pytestmark = pytest.mark.slow
SRC = Path(__file__).resolve().parents[2] / "src"
WRITER = """
import sys
from pathlib import Path
from adapters.storage.nvs import SqliteNvs

nvs = SqliteNvs(Path(sys.argv[1]))
i = int(nvs.get("device", "seq") or 0)
print("open", flush=True)
while True:
    i += 1
    nvs.set_many("device", {"name": f"n{i}", "location": f"l{i}", "seq": i})
    print(i, flush=True)
"""


def spawn_writer(path: Path) -> subprocess.Popen[str]:
    pythonpath = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        env={**os.environ, "PYTHONPATH": pythonpath},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after_commits(path: Path, commits: int) -> int:
    """Run a writer, SIGKILL it once it printed ``commits`` commits; the last one printed."""
    child = spawn_writer(path)
    assert child.stdout is not None
    try:
        printed: list[int] = []
        deadline = time.monotonic() + 30
        while len(printed) < commits:
            line = child.stdout.readline()
            assert line, f"writer died: {child.stderr.read() if child.stderr else ''}"
            if line != "open\n":
                printed.append(int(line))
            assert time.monotonic() < deadline, "writer too slow"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        printed += [int(word) for word in child.stdout.read().split() if word != "open"]
        return printed[-1]
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        child.stdout.close()
        if child.stderr:
            child.stderr.close()


def test_a_killed_writer_leaves_every_committed_set_many_whole(tmp_path: Path) -> None:
    path = tmp_path / "nvs.sqlite3"
    rng = random.Random(20261121)
    for _ in range(5):
        last_printed = kill_after_commits(path, rng.randint(1, 200))
        nvs = SqliteNvs(path)
        device = nvs.get_all("device")
        nvs.close()
        seq = device["seq"]
        assert isinstance(seq, int)
        assert device == {"name": f"n{seq}", "location": f"l{seq}", "seq": seq}
        # Every printed commit is on disk; at most one more committed but was not printed.
        assert last_printed <= seq <= last_printed + 1


def test_a_writer_killed_while_creating_the_file_leaves_a_usable_store(tmp_path: Path) -> None:
    for attempt in range(5):
        path = tmp_path / f"nvs{attempt}.sqlite3"
        child = spawn_writer(path)
        try:
            time.sleep(0.02 * attempt)  # anywhere from interpreter start-up to first commits
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                child.wait(timeout=10)
            child.communicate()
        nvs = SqliteNvs(path)
        device = nvs.get_all("device")
        nvs.set_many("device", {"name": "pump-1"})
        nvs.close()
        if device:
            seq = device["seq"]
            assert device == {"name": f"n{seq}", "location": f"l{seq}", "seq": seq}
