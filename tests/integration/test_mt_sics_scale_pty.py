"""The real MT-SICS scale adapter against the simulated balance over a real pty."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.scale.mt_sics import MtSicsScale
from adapters.sim.mt_sics import ScaleConfig
from adapters.sim.scale_pty import PtyScaleSimulator
from domain.errors import ScaleFault, ScaleUnavailable
from domain.scale import ReadingStatus, ScaleReading

pytestmark = pytest.mark.slow

# A quick balance, so each test takes a fraction of a second.
QUICK = ScaleConfig(
    settling_time_s=0.02, stability_window_s=0.1, stable_timeout_s=0.4, stream_interval_s=0.02
)
STALE_AFTER_S = 0.3


class Pan:
    """What lies on the simulated pan (g), optionally wobbling (a pump still pouring)."""

    def __init__(self) -> None:
        self.grams = 0.0
        self.wobble_g = 0.0

    def __call__(self, t: float) -> float:
        return self.grams + self.wobble_g * math.sin(2 * math.pi * 3 * t)


@pytest.fixture
def pan() -> Pan:
    return Pan()


@pytest.fixture
def sim(tmp_path: Path, pan: Pan) -> Iterator[PtyScaleSimulator]:
    with PtyScaleSimulator(tmp_path / "scale", config=QUICK, load=pan) as simulator:
        yield simulator


@pytest.fixture
def scale(sim: PtyScaleSimulator) -> Iterator[MtSicsScale]:
    adapter = MtSicsScale(sim.port, stale_after_s=STALE_AFTER_S, reply_timeout_s=1.0)
    adapter.open()
    yield adapter
    adapter.close()


def wait_for(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {timeout_s} s"
        time.sleep(0.01)


def reads(scale: MtSicsScale, grams: float) -> Callable[[], bool]:
    def check() -> bool:
        reading = scale.latest()
        return reading.stable and reading.grams == pytest.approx(grams, abs=0.011)

    return check


def unavailable(scale: MtSicsScale) -> bool:
    try:
        scale.latest()
    except ScaleUnavailable:
        return True
    return False


def test_open_resets_the_balance_and_starts_the_stream(scale: MtSicsScale) -> None:
    assert scale.serial_number == "B123456789"
    first = scale.latest()
    assert first.in_range and first.grams == pytest.approx(0.0, abs=0.011)
    wait_for(lambda: scale.latest().at_s > first.at_s)


def test_the_latest_reading_follows_a_changing_load(scale: MtSicsScale, pan: Pan) -> None:
    pan.grams = 42.0
    wait_for(reads(scale, 42.0))
    pan.grams = 17.5
    wait_for(reads(scale, 17.5))


def test_tare_returns_the_tare_weight_and_later_readings_are_net(
    scale: MtSicsScale, sim: PtyScaleSimulator, pan: Pan
) -> None:
    pan.grams = 35.21
    wait_for(reads(scale, 35.21))
    assert scale.tare(timeout_s=2.0) == pytest.approx(35.21, abs=0.011)
    assert sim.tare_g() == pytest.approx(35.21, abs=0.011)
    wait_for(reads(scale, 0.0))
    pan.grams += 10.0
    wait_for(reads(scale, 10.0))


def test_zero_makes_the_load_read_zero(scale: MtSicsScale, pan: Pan) -> None:
    pan.grams = 5.0
    wait_for(reads(scale, 5.0))
    scale.zero(timeout_s=2.0)
    wait_for(reads(scale, 0.0))


def test_tare_is_refused_as_unstable_while_the_load_keeps_changing(
    scale: MtSicsScale, sim: PtyScaleSimulator, pan: Pan
) -> None:
    pan.grams, pan.wobble_g = 50.0, 1.0
    with pytest.raises(ScaleFault) as refused:
        scale.tare(timeout_s=2.0)  # the balance answers T I after its 0.4 s
    assert refused.value.reason == "unstable"
    assert sim.tare_g() == 0.0
    fresh = scale.latest()
    wait_for(lambda: scale.latest().at_s > fresh.at_s)  # the stream still runs


def test_an_overloaded_pan_reads_overload_and_refuses_a_tare(scale: MtSicsScale, pan: Pan) -> None:
    pan.grams = 500.0
    wait_for(lambda: scale.latest().status is ReadingStatus.OVERLOAD)
    assert math.isnan(scale.latest().grams)
    with pytest.raises(ScaleFault) as refused:
        scale.tare(timeout_s=1.0)
    assert refused.value.reason == "overload"


def test_a_silent_balance_makes_latest_raise_within_the_staleness_bound(
    scale: MtSicsScale, sim: PtyScaleSimulator
) -> None:
    scale.latest()
    sim.set_silent(True)
    pulled = time.monotonic()
    wait_for(lambda: unavailable(scale), timeout_s=STALE_AFTER_S + 0.5)
    assert time.monotonic() - pulled >= STALE_AFTER_S - 0.05
    sim.set_silent(False)  # plugged back: the balance never stopped streaming
    wait_for(lambda: not unavailable(scale))


def test_a_tare_the_balance_never_answers_raises_unavailable(
    scale: MtSicsScale, sim: PtyScaleSimulator
) -> None:
    sim.set_silent(True)
    started = time.monotonic()
    with pytest.raises(ScaleUnavailable):
        scale.tare(timeout_s=0.3)
    assert time.monotonic() - started < 1.0


def test_garbage_on_the_line_is_counted_and_the_stream_goes_on(
    scale: MtSicsScale, sim: PtyScaleSimulator, pan: Pan
) -> None:
    sim.inject_garbage(b"\xff\xfe\x00 noise\r\n")
    sim.inject_garbage(b"S Q 12.00 g\r\n")
    sim.inject_garbage(b"S S   12.3")  # a cut line: glued to the next one, both are lost
    wait_for(lambda: scale.garbage_lines >= 3)
    pan.grams = 12.0
    wait_for(reads(scale, 12.0))
    assert scale.connected


def test_a_vanished_port_takes_the_link_down(scale: MtSicsScale, sim: PtyScaleSimulator) -> None:
    sim.stop()
    wait_for(lambda: not scale.connected)
    with pytest.raises(ScaleUnavailable):
        scale.latest()
    with pytest.raises(ScaleUnavailable):
        scale.tare(timeout_s=0.5)


def test_close_is_idempotent_stops_the_stream_and_reopen_works(
    scale: MtSicsScale, sim: PtyScaleSimulator
) -> None:
    scale.close()
    scale.close()
    with pytest.raises(ScaleUnavailable):
        scale.latest()
    wait_for(lambda: not sim.with_engine(lambda engine: engine.streaming))
    scale.open()
    reading: ScaleReading = scale.latest()
    assert reading.in_range


def test_open_fails_when_the_balance_does_not_answer(sim: PtyScaleSimulator) -> None:
    sim.set_silent(True)
    adapter = MtSicsScale(sim.port, reply_timeout_s=0.3)
    with pytest.raises(ScaleUnavailable):
        adapter.open()
    assert not adapter.connected
    adapter.close()
