"""GrblController against a scripted Grbl 1.1h peer on a real pty.

The peer plays back what the firmware does on the wire: the banner only after 0x18, ``\\r\\n``
line ends, push messages and status reports between a line and its ``ok``, ``error:N``,
``ALARM:N`` (a hard/soft limit then ignores everything until a reset), the ``ok`` of an
aborted ``G4 P0`` printed before the banner, a board that reboots on its own (a banner
nobody asked for) and a port that vanishes.
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections.abc import Callable, Iterator

import pytest

from adapters.serial.grbl import GrblController, SerialPort, open_serial_port
from domain.errors import ControllerFault, ControllerRejected, ControllerUnavailable, PumpBusy
from domain.motion import ControllerState

pytestmark = pytest.mark.slow

BANNER = "Grbl 1.1h ['$' for help]"
MOVE = "G91 G1 X10.000 F200.000"


class ScriptedGrbl:
    """Grbl 1.1h's side of the wire on a pty master. One X axis moves; motion runs only when
    the test calls ``finish_motion`` (or is cut short by ``!``), so timing stays in the test.
    ``events`` logs what crossed the wire: ``rx:<line>``, ``rt:<byte>``, ``tx:<line>``."""

    def __init__(self, *, alarm_at_boot: bool = False) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.replies: dict[str, list[str]] = {}  # line -> scripted answer (default: as Grbl)
        self.before_reply: dict[str, list[str]] = {}  # line -> pushes sent before its answer
        self.critical_after: set[str] = set()  # lines after whose answer Grbl blocks (limit)
        self.ok_after_feed_hold: set[str] = set()  # lines whose ok waits for a "!"
        self.events: list[str] = []
        self.state = "Alarm" if alarm_at_boot else "Idle"
        self.hold_state = "Hold:0"
        self.mpos = [0.0, 0.0, 0.0]
        self.silent = False  # ignores everything, like a board that is not Grbl
        self.answer_status = True
        self._critical = False
        self._planned = 0.0
        self._sync_pending = False
        self._deferred_ok = False
        self._wco_due = True
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scripted-grbl", daemon=True)
        self._thread.start()

    # -- test controls -----------------------------------------------------------------

    def finish_motion(self) -> None:
        """The planned motion runs to its end; the pending ``G4 P0`` gets its ok."""
        with self._lock:
            self.mpos[0] += self._planned
            self._planned = 0.0
            self.state = "Idle"
            if self._sync_pending:
                self._sync_pending = False
                self._send("ok")

    def hard_limit(self) -> None:
        """A limit switch trips mid-move: ALARM:1, then Grbl waits for a reset."""
        with self._lock:
            self.mpos[0] += self._planned / 4
            self._planned, self.state, self._critical = 0.0, "Alarm", True
            self._send("ALARM:1", "[MSG:Reset to continue]")

    def power_cycle(self) -> None:
        """The board reboots on its own (power, watchdog, reset pin): motion and the line
        being run are lost without an ``ok``, MPos restarts at 0, the banner comes out."""
        with self._lock:
            self.state, self.mpos, self._planned = "Idle", [0.0, 0.0, 0.0], 0.0
            self._sync_pending = self._deferred_ok = self._critical = False
            self._wco_due = True
            self._send("", BANNER)

    def push(self, *lines: str) -> None:
        with self._lock:
            self._send(*lines)

    def received(self) -> list[str]:
        with self._lock:
            return [e[3:] for e in self.events if e.startswith("rx:")]

    def vanish(self) -> None:
        """The USB cable is pulled: the master side closes."""
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        self.master = -1

    def close(self) -> None:
        if self.master >= 0:
            self.vanish()
        os.close(self._slave)

    # -- the wire ----------------------------------------------------------------------

    def _send(self, *lines: str) -> None:
        for line in lines:
            self.events.append(f"tx:{line}")
            os.write(self.master, f"{line}\r\n".encode("ascii", errors="replace"))

    def _run(self) -> None:
        line = bytearray()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1024)
            except OSError:
                return
            with self._lock:
                for byte in data:
                    if self.silent:
                        continue
                    if byte in b"?!~\x18":
                        self.events.append(f"rt:{bytes([byte])!r}")
                        self._realtime(byte)
                        if byte == 0x18:
                            line.clear()
                    elif byte == ord("\n"):
                        self._on_line(line.decode().strip())
                        line.clear()
                    else:
                        line.append(byte)

    def _realtime(self, byte: int) -> None:
        if byte == ord("?") and self.answer_status and not self._critical:
            wco = "|WCO:0.000,0.000,0.000" if self._wco_due else ""
            self._wco_due = False
            x, y, z = self.mpos
            self._send(f"<{self.state}|MPos:{x:.3f},{y:.3f},{z:.3f}|FS:0,0{wco}>")
        elif byte == ord("!") and self.state == "Run":
            self.mpos[0] += self._planned / 2
            self._planned /= 2
            self.state = self.hold_state
            if self._deferred_ok:
                self._deferred_ok = False
                self._send("ok")
        elif byte == ord("~") and self.state.startswith("Hold"):
            self.state = "Run"
        elif byte == 0x18:
            self._reset()

    def _reset(self) -> None:
        if self.state in ("Run", "Hold:1"):
            self._send("ALARM:3")  # mc_reset: reset while moving loses position
            self.state = "Alarm"
        if self._sync_pending:
            self._send("ok")  # the aborted G4 P0's dwell returns and its line completes
        self._planned, self._sync_pending, self._critical = 0.0, False, False
        self._wco_due = True
        self._send("", BANNER)
        if self.state == "Alarm":
            self._send("[MSG:'$H'|'$X' to unlock]")
        else:
            self.state = "Idle"

    def _on_line(self, line: str) -> None:
        self.events.append(f"rx:{line}")
        if self._critical:
            return
        self._send(*self.before_reply.get(line, []))
        if line in self.replies:
            self._send(*self.replies[line])
        elif line == "$X":
            if self.state == "Alarm":
                self.state = "Idle"
                self._send("[MSG:Caution: Unlocked]")
            self._send("ok")
        elif self.state == "Alarm":
            self._send("error:9")
        elif line.startswith("G91 G1 X"):
            self._planned += float(line.split()[2][1:])
            self.state = "Run"
            if line in self.ok_after_feed_hold:
                self._deferred_ok = True
            else:
                self._send("ok")
        elif line == "G4 P0" and self._planned:
            self._sync_pending = True
        else:
            self._send("ok")
        if line in self.critical_after:
            self.state, self._critical = "Alarm", True


def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def peer() -> Iterator[ScriptedGrbl]:
    grbl = ScriptedGrbl()
    yield grbl
    grbl.close()


def make_controller(
    port: str, *, reset_timeout_s: float = 2.0, ack_timeout_s: float = 2.0
) -> GrblController:
    return GrblController(
        port, reset_timeout_s=reset_timeout_s, ack_timeout_s=ack_timeout_s, status_timeout_s=1.0
    )


@pytest.fixture
def grbl(peer: ScriptedGrbl) -> Iterator[GrblController]:
    controller = make_controller(peer.port)
    controller.open()
    yield controller
    controller.close()


def test_open_wakes_grbl_with_a_soft_reset_and_waits_for_its_banner(peer: ScriptedGrbl) -> None:
    controller = make_controller(peer.port)
    controller.open()
    try:
        assert controller.connected
        assert controller.banner == BANNER
        assert peer.events[0] == "rt:b'\\x18'"
        assert controller.status().state is ControllerState.IDLE
    finally:
        controller.close()


def test_open_fails_when_no_banner_comes(peer: ScriptedGrbl) -> None:
    peer.silent = True
    controller = make_controller(peer.port, reset_timeout_s=0.3)
    with pytest.raises(ControllerUnavailable, match="banner"):
        controller.open()
    assert not controller.connected
    with pytest.raises(ControllerUnavailable):
        controller.status()


def test_a_controller_in_alarm_at_start_opens_and_is_unlocked_on_request() -> None:
    peer = ScriptedGrbl(alarm_at_boot=True)
    controller = make_controller(peer.port)
    try:
        controller.open()
        assert controller.status().state is ControllerState.ALARM
        assert "[MSG:'$H'|'$X' to unlock]" in controller.messages
        controller.unlock()
        assert controller.status().state is ControllerState.IDLE
        assert "[MSG:Caution: Unlocked]" in controller.messages
    finally:
        controller.close()
        peer.close()


def test_push_messages_between_a_move_and_its_ok_are_not_taken_for_the_reply(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    peer.before_reply[MOVE] = ["[MSG:Pgm End]", "<Run|MPos:0.000,0.000,0.000|FS:200,0>"]
    grbl.start_move({"X": 10.0}, 200.0)
    wait_until(lambda: peer.received()[-2:] == [MOVE, "G4 P0"])
    assert "[MSG:Pgm End]" in grbl.messages
    assert not grbl.motion_done()


def test_a_move_is_done_only_when_its_g4_p0_is_answered(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    start = grbl.status().position("X")
    grbl.start_move({"X": 10.0}, 200.0)
    assert grbl.status().state is ControllerState.RUN
    assert not grbl.motion_done()
    peer.finish_motion()
    wait_until(grbl.motion_done)
    assert grbl.status().position("X") == start + 10.0


def test_an_error_reply_raises_rejected_with_grbls_number_and_message(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    peer.replies["G91 G1 X1.000 F0.000"] = ["error:22"]
    with pytest.raises(ControllerRejected) as refused:
        grbl.start_move({"X": 1.0}, 0.0)
    assert refused.value.number == 22
    assert "Undefined feed rate" in refused.value.message
    assert "G4 P0" not in peer.received()  # no sync after a refused move
    assert grbl.motion_done()
    assert grbl.status().state is ControllerState.IDLE


def test_a_new_move_waits_for_the_previous_moves_sync(peer: ScriptedGrbl) -> None:
    grbl = make_controller(peer.port, ack_timeout_s=0.3)
    grbl.open()
    try:
        grbl.start_move({"X": 10.0}, 200.0)
        with pytest.raises(PumpBusy):
            grbl.start_move({"X": 5.0}, 200.0)
        assert "G91 G1 X5.000 F200.000" not in peer.received()
        peer.finish_motion()
        wait_until(grbl.motion_done)
        grbl.start_move({"X": 5.0}, 200.0)
        wait_until(lambda: peer.received()[-2:] == ["G91 G1 X5.000 F200.000", "G4 P0"])
    finally:
        grbl.close()


def test_feed_hold_is_written_while_a_line_waits_for_its_ok(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    peer.ok_after_feed_hold.add(MOVE)
    mover = threading.Thread(target=grbl.start_move, args=({"X": 10.0}, 200.0))
    mover.start()
    wait_until(lambda: MOVE in peer.received())
    grbl.feed_hold()  # must not wait for the stream lock the mover holds
    mover.join(timeout=3)
    assert not mover.is_alive()
    assert grbl.status().stopped_in_hold


def test_flush_after_a_completed_hold_keeps_the_position_and_leaves_idle(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    grbl.start_move({"X": 10.0}, 200.0)
    grbl.feed_hold()
    wait_until(lambda: grbl.status().stopped_in_hold)
    held_at = grbl.status().position("X")
    grbl.flush()
    status = grbl.status()
    assert status.state is ControllerState.IDLE
    assert status.position("X") == held_at == 5.0
    assert grbl.motion_done()
    # the aborted G4 P0's late ok was not taken for the next line's reply
    grbl.start_move({"X": 1.0}, 60.0)
    assert not grbl.motion_done()
    peer.finish_motion()
    wait_until(grbl.motion_done)
    assert grbl.status().position("X") == 6.0


def test_cycle_start_resumes_a_held_move(peer: ScriptedGrbl, grbl: GrblController) -> None:
    grbl.start_move({"X": 10.0}, 200.0)
    grbl.feed_hold()
    wait_until(lambda: grbl.status().stopped_in_hold)
    grbl.cycle_start()
    wait_until(lambda: grbl.status().state is ControllerState.RUN)


def test_a_reset_while_still_decelerating_reports_the_alarm(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    peer.hold_state = "Hold:1"
    grbl.start_move({"X": 10.0}, 200.0)
    grbl.feed_hold()
    assert grbl.status().hold_complete is False
    with pytest.raises(ControllerFault) as fault:
        grbl.flush()
    assert fault.value.number == 3
    assert grbl.motion_done()


def test_a_limit_alarm_fails_the_move_and_unlock_resets_grbl_first(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    peer.replies[MOVE] = ["ALARM:2", "[MSG:Reset to continue]"]
    peer.critical_after.add(MOVE)
    with pytest.raises(ControllerFault) as fault:
        grbl.start_move({"X": 10.0}, 200.0)
    assert fault.value.number == 2
    assert grbl.last_alarm == 2
    assert grbl.status().state is ControllerState.ALARM  # Grbl ignores "?" until reset
    with pytest.raises(ControllerFault, match="unlock first"):
        grbl.start_move({"X": 1.0}, 200.0)  # refused at once: Grbl would ignore the line
    assert grbl.connected
    grbl.unlock()
    assert peer.received()[-1] == "$X"
    assert grbl.status().state is ControllerState.IDLE


def test_an_alarm_during_motion_ends_the_move(peer: ScriptedGrbl, grbl: GrblController) -> None:
    grbl.start_move({"X": 10.0}, 200.0)
    peer.hard_limit()
    wait_until(grbl.motion_done)
    assert grbl.status().state is ControllerState.ALARM
    assert grbl.last_alarm == 1
    grbl.unlock()
    status = grbl.status()
    assert status.state is ControllerState.IDLE
    assert status.position("X") == 2.5


def test_garbage_and_unsolicited_lines_are_ignored(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    peer.push("ok", "\x7f\x01 rst:0x1 (POWERON_RESET)", "<Idle|MPos:bad>", "error:bogus", "$0=10")
    wait_until(lambda: "$0=10" in grbl.messages)  # read in order: all of it was dispatched
    assert grbl.connected
    grbl.start_move({"X": 10.0}, 200.0)
    wait_until(lambda: peer.received()[-1] == "G4 P0")
    assert not grbl.motion_done()
    assert grbl.status().state is ControllerState.RUN


def test_a_controller_that_stops_answering_status_is_unavailable(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    peer.answer_status = False
    with pytest.raises(ControllerUnavailable, match="status"):
        grbl.status()


def test_a_line_without_a_reply_takes_the_link_down(peer: ScriptedGrbl) -> None:
    grbl = make_controller(peer.port, ack_timeout_s=0.3)
    grbl.open()
    try:
        peer.replies["$X"] = []
        with pytest.raises(ControllerUnavailable, match="no reply"):
            grbl.unlock()
        assert not grbl.connected
        with pytest.raises(ControllerUnavailable):
            grbl.status()
    finally:
        grbl.close()


def test_a_vanished_port_makes_every_call_unavailable_and_open_reconnects() -> None:
    peers = [ScriptedGrbl()]

    def factory(_port: str, baudrate: int, timeout: float) -> SerialPort:
        return open_serial_port(peers[-1].port, baudrate, timeout)

    grbl = GrblController("/dev/ttyUSB-pump", reset_timeout_s=2.0, serial_factory=factory)
    try:
        grbl.open()
        grbl.start_move({"X": 10.0}, 200.0)
        peers[0].vanish()
        wait_until(lambda: not grbl.connected)
        for call in (grbl.status, grbl.motion_done, grbl.feed_hold, grbl.unlock, grbl.flush):
            with pytest.raises(ControllerUnavailable, match="read failed"):
                call()
        grbl.close()
        grbl.close()
        peers.append(ScriptedGrbl())
        grbl.open()
        assert grbl.status().state is ControllerState.IDLE
        assert grbl.motion_done()
    finally:
        grbl.close()
        for peer in peers:
            peer.close()


def test_a_queued_move_is_streamed_without_a_sync_and_returns_on_its_ok(
    peer: ScriptedGrbl,
) -> None:
    grbl = make_controller(peer.port, ack_timeout_s=0.3)
    grbl.open()
    try:
        grbl.queue_move({"X": 2.5}, 300.0)
        assert peer.received()[-1] == "G91 G1 X2.500 F300.000"
        grbl.queue_move({"X": 2.5}, 300.0)
        assert "G4 P0" not in peer.received()
        assert grbl.motion_done()  # nothing to wait for: callers follow the run by status
        assert grbl.status().state is ControllerState.RUN
        grbl.start_move({"X": 2.5}, 300.0)
        wait_until(lambda: peer.received()[-1] == "G4 P0")
        assert not grbl.motion_done()
        with pytest.raises(PumpBusy):  # one line in flight: the final move's G4 P0
            grbl.queue_move({"X": 2.5}, 300.0)
        peer.finish_motion()
        wait_until(grbl.motion_done)
        assert grbl.status().position("X") == 7.5
    finally:
        grbl.close()


def test_an_unsolicited_banner_takes_the_link_down_until_open(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    grbl.queue_move({"X": 10.0}, 200.0)
    peer.power_cycle()
    wait_until(lambda: not grbl.connected)
    for call in (grbl.status, grbl.motion_done, grbl.unlock, grbl.flush):
        with pytest.raises(ControllerUnavailable, match="reset unexpectedly"):
            call()
    with pytest.raises(ControllerUnavailable, match="reset unexpectedly"):
        grbl.queue_move({"X": 1.0}, 200.0)
    with pytest.raises(ControllerUnavailable, match="reset unexpectedly"):
        grbl.start_move({"X": 1.0}, 200.0)
    grbl.open()
    assert grbl.connected
    status = grbl.status()
    assert (status.state, status.position("X")) == (ControllerState.IDLE, 0.0)


def test_a_reset_while_a_line_waits_for_its_ok_fails_that_line(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    peer.replies[MOVE] = []  # Grbl holds the ok, as with a full planner
    threading.Timer(0.2, peer.power_cycle).start()
    with pytest.raises(ControllerUnavailable, match="reset unexpectedly"):
        grbl.queue_move({"X": 10.0}, 200.0)
    assert not grbl.connected


def test_the_banners_of_our_own_soft_resets_keep_the_link_up(
    peer: ScriptedGrbl, grbl: GrblController
) -> None:
    grbl.start_move({"X": 10.0}, 200.0)
    grbl.feed_hold()
    wait_until(lambda: grbl.status().stopped_in_hold)
    grbl.flush()  # soft reset 2 (open was the first)
    peer.replies[MOVE] = ["ALARM:2", "[MSG:Reset to continue]"]
    peer.critical_after.add(MOVE)
    with pytest.raises(ControllerFault):
        grbl.start_move({"X": 10.0}, 200.0)
    grbl.unlock()  # soft reset 3, then $X
    assert peer.events.count(f"tx:{BANNER}") == 3
    assert grbl.connected
    assert grbl.status().state is ControllerState.IDLE
    grbl.queue_move({"X": 1.0}, 200.0)
    assert grbl.connected
