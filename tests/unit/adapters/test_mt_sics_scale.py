"""The MT-SICS scale adapter against a scripted serial port: the replies a simulator
rarely gives (units, refusals, silence after a command) and staleness on a fake clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import serial

from adapters.scale.mt_sics import MtSicsScale
from domain.errors import ScaleFault, ScaleUnavailable

GREETING = {"@": ['I4 A "B123456789"'], "SIR": ["S S      1.00 g"]}


class ScriptedBalance:
    """A fake serial port: each command written is recorded and answered with the lines
    ``replies`` lists for it; ``send`` pushes a line unprompted."""

    def __init__(self, replies: dict[str, list[str]]) -> None:
        self.replies = replies
        self.written: list[str] = []
        self._rx = bytearray()
        self._cond = threading.Condition()

    @property
    def in_waiting(self) -> int:
        with self._cond:
            return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        with self._cond:
            self._cond.wait_for(lambda: bool(self._rx), timeout=0.01)
            data = bytes(self._rx[:size])
            del self._rx[:size]
            return data

    def write(self, data: bytes, /) -> int:
        for command in data.decode("ascii").split("\r\n")[:-1]:
            self.written.append(command)
            for line in self.replies.get(command, []):
                self.send(line)
        return len(data)

    def send(self, line: str) -> None:
        with self._cond:
            self._rx += line.encode("ascii") + b"\r\n"
            self._cond.notify_all()

    def close(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


MakeScale = Callable[..., tuple[MtSicsScale, ScriptedBalance]]


@pytest.fixture
def make_scale() -> Iterator[MakeScale]:
    opened: list[MtSicsScale] = []

    def make(
        replies: dict[str, list[str]], clock: Callable[[], float] = time.monotonic
    ) -> tuple[MtSicsScale, ScriptedBalance]:
        balance = ScriptedBalance(GREETING | replies)
        scale = MtSicsScale(
            "scripted",
            stale_after_s=1.0,
            reply_timeout_s=0.5,
            read_timeout_s=0.01,
            monotonic=clock,
            serial_factory=lambda _port, _baud, _timeout: balance,
        )
        opened.append(scale)
        return scale, balance

    yield make
    for scale in opened:
        scale.close()


def wait_for(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {timeout_s} s"
        time.sleep(0.005)


def weighs(scale: MtSicsScale, grams: float) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return scale.latest().grams == grams
        except (ScaleFault, ScaleUnavailable):
            return False  # not yet: the reader has not seen the new line

    return check


def test_open_resets_then_starts_the_stream_and_close_stops_it(make_scale: MakeScale) -> None:
    scale, balance = make_scale({})
    scale.open()
    assert scale.latest().grams == 1.0
    scale.close()
    assert balance.written == ["@", "SIR", "SI"]


def test_a_reading_older_than_the_staleness_bound_is_unavailable(make_scale: MakeScale) -> None:
    clock = FakeClock()
    scale, balance = make_scale({}, clock)
    scale.open()
    clock.now += 1.01
    with pytest.raises(ScaleUnavailable, match=r"no weight for 1\.01 s"):
        scale.latest()
    balance.send("S D      2.50 g")
    wait_for(weighs(scale, 2.5))


def test_weights_in_a_unit_we_do_not_convert_are_a_unit_fault(make_scale: MakeScale) -> None:
    scale, balance = make_scale({})
    scale.open()
    balance.send("S S      0.20 lb")

    def unit_fault() -> bool:
        try:
            scale.latest()
        except ScaleFault as fault:
            return fault.reason == "unit"
        return False

    wait_for(unit_fault)
    balance.send("S S      3.00 g")
    wait_for(weighs(scale, 3.0))


@pytest.mark.parametrize(
    ("reply", "reason"),
    [("T I", "unstable"), ("T +", "overload"), ("T -", "underload"), ("EL", "rejected"),
     ("ES", "rejected"), ("T S 1.0 oz", "unit")],
)  # fmt: skip
def test_a_tare_the_balance_refuses_raises_the_matching_fault_and_restarts_the_stream(
    make_scale: MakeScale, reply: str, reason: str
) -> None:
    scale, balance = make_scale({"T": [reply]})
    scale.open()
    with pytest.raises(ScaleFault) as refused:
        scale.tare(timeout_s=0.5)
    assert refused.value.reason == reason
    assert balance.written[-2:] == ["T", "SIR"]


def test_a_zero_in_overload_raises_an_overload_fault(make_scale: MakeScale) -> None:
    scale, _ = make_scale({"Z": ["Z +"]})
    scale.open()
    with pytest.raises(ScaleFault) as refused:
        scale.zero(timeout_s=0.5)
    assert refused.value.reason == "overload"


def test_an_unanswered_tare_is_cancelled_with_a_reset_before_raising(
    make_scale: MakeScale,
) -> None:
    scale, balance = make_scale({})
    scale.open()
    with pytest.raises(ScaleUnavailable, match=r"no answer within 0\.1 s"):
        scale.tare(timeout_s=0.1)
    assert balance.written[-3:] == ["T", "@", "SIR"]


def test_a_balance_without_sir_fails_open_and_leaves_the_link_down(
    make_scale: MakeScale,
) -> None:
    scale, _ = make_scale({"SIR": ["ES"]})
    with pytest.raises(ScaleFault) as refused:
        scale.open()
    assert refused.value.reason == "rejected"
    assert not scale.connected


def test_a_port_that_will_not_open_is_unavailable() -> None:
    def refuse(_port: str, _baud: int, _timeout: float) -> ScriptedBalance:
        raise serial.SerialException("could not open port /dev/ttyUSB7")

    scale = MtSicsScale("/dev/ttyUSB7", serial_factory=refuse)
    with pytest.raises(ScaleUnavailable, match="ttyUSB7"):
        scale.open()
    scale.close()
