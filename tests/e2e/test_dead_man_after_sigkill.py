"""The dead man of continuous runs, on the real ``doser`` process: a run is sent as bounded
moves renewed while the daemon lives, so a killed daemon's pump stops on its own within
``safety.dead_man_s`` (2 s here), while a living daemon's run goes on as long as asked.

The Grbl simulator runs in the test process (``OutlivingGrbl``) and outlives the daemon;
the run-on time is measured on its axis: from the SIGKILL to the axis's last movement.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.crash_rig import DoserProcess, OutlivingGrbl
from support.daemon_harness import wait_for

pytestmark = pytest.mark.slow

DEAD_MAN_S = 2.0
MARGIN_S = 0.5
FLOW_ML_MIN = 60.0  # 1200 mm/min at 0.05 ml/mm: 20 mm/s, 1 s segments of 20 mm
ML_PER_MM = DoserProcess.ML_PER_MM
TOLERANCE_ML = 0.001 * ML_PER_MM  # 0.001 mm, the MPos resolution


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[OutlivingGrbl, DoserProcess]]:
    with OutlivingGrbl(tmp_path / "grbl") as grbl:
        doser = DoserProcess(tmp_path, tmp_path / "grbl", dead_man_s=DEAD_MAN_S)
        try:
            doser.start()
            wait_idle(doser)
            yield grbl, doser
        finally:
            doser.stop()


def wait_idle(doser: DoserProcess) -> None:
    wait_for(
        lambda: doser.call("GET", "/api/status")[1]["controller"]["state"] == "Idle",
        10,
        "an idle controller",
    )


def start_run(doser: DoserProcess) -> str:
    status, body = doser.call("POST", "/api/pump/X/start", {"flowRate": FLOW_ML_MIN})
    assert status == 202, body
    return str(body["doseId"])


@pytest.mark.timeout(90)
def test_a_killed_daemons_continuous_run_stops_within_the_dead_man_time(
    rig: tuple[OutlivingGrbl, DoserProcess],
) -> None:
    grbl, doser = rig
    run_ons = []
    # Killed at three phases of the 1 s renewal cycle: right after a renewal is the worst.
    for kill_after_s in (2.2, 2.55, 2.9):
        start_mm = grbl.position_mm()
        run_id = start_run(doser)
        time.sleep(kill_after_s)
        assert grbl.state_name() == "Run"
        killed_at = time.monotonic()
        doser.kill()
        stopped_at = grbl.wait_still(still_s=0.5, timeout_s=DEAD_MAN_S + 10)
        run_ons.append(stopped_at - killed_at)

        doser.start()  # the run is settled like any dose a crash cut short
        wait_idle(doser)
        [row] = [d for d in doser.history() if d["doseId"] == run_id]
        travelled_ml = (grbl.position_mm() - start_mm) * ML_PER_MM
        assert (row["kind"], row["outcome"], row["uncertain"]) == (
            "continuous",
            "interrupted",
            False,
        ), row
        assert abs(row["actualVolume"] - travelled_ml) <= TOLERANCE_ML, (row, travelled_ml)
    print(
        f"\ndead man ({DEAD_MAN_S:g} s): the axis ran on "
        + ", ".join(f"{s:.2f}" for s in run_ons)
        + f" s after SIGKILL (max {max(run_ons):.2f} s)"
    )
    assert max(run_ons) <= DEAD_MAN_S + MARGIN_S


@pytest.mark.timeout(60)
def test_a_living_daemons_run_goes_on_past_the_dead_man_time_until_stopped(
    rig: tuple[OutlivingGrbl, DoserProcess],
) -> None:
    grbl, doser = rig
    start_mm = grbl.position_mm()
    run_id = start_run(doser)
    began = time.monotonic()
    longest_still_s, last_mm, moved_at = 0.0, start_mm, began
    while time.monotonic() - began < 2 * DEAD_MAN_S + 0.5:
        time.sleep(0.01)
        now_mm = grbl.position_mm()
        if now_mm != last_mm:
            longest_still_s = max(longest_still_s, time.monotonic() - moved_at)
            last_mm, moved_at = now_mm, time.monotonic()
    assert grbl.state_name() == "Run", "the run ended without a stop"
    # a renewal that came late would have let the axis decelerate to rest
    assert time.monotonic() - moved_at < 0.1 and longest_still_s < 0.2, longest_still_s

    status, body = doser.call("POST", "/api/pump/X/stop")
    assert (status, body) == (200, {"stopped": True, "pump": "X"})
    grbl.wait_still()
    [row] = [d for d in doser.history() if d["doseId"] == run_id]
    travelled_ml = (grbl.position_mm() - start_mm) * ML_PER_MM
    assert (row["kind"], row["outcome"]) == ("continuous", "stopped"), row
    assert abs(row["actualVolume"] - travelled_ml) <= TOLERANCE_ML, (row, travelled_ml)
    # at 1 ml/s for 4.5 s, less what acceleration and the feed hold take
    assert travelled_ml > 0.9 * FLOW_ML_MIN / 60 * (2 * DEAD_MAN_S + 0.5)
    print(f"\ncontinuous run stopped after {time.monotonic() - began:.2f} s: {travelled_ml:.3f} ml")
