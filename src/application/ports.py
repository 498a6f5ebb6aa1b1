"""Ports: what the use cases need from the world, named for their role in dosing.

Adapters in ``adapters/`` implement these; ``adapters/fakes/`` has in-memory versions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.events import DoseEvent, DoseOutcome
from domain.journal import DoseRecord
from domain.led import LedFrame, Rgb
from domain.motion import ControllerStatus
from domain.recipe import Recipe
from domain.recipe_run import RecipeRunRecord
from domain.registration import DeviceRegistration
from domain.scale import ScaleReading, WeighRunView
from domain.schedule import Schedule, ScheduleRunRecord
from domain.status import SystemSnapshot
from domain.telemetry import MessageKind, OutboxEntry, Severity


class MotionController(Protocol):
    """A motion controller driving pump axes over one serial line (Grbl 1.1, FluidNC).

    Only the control-plane thread calls the streaming methods; ``feed_hold`` may be called
    from any thread (it is a real-time command that bypasses the stream).
    Every method raises ``ControllerUnavailable`` when the link is down or silent,
    ``ControllerFault`` when the controller is in alarm where that matters.
    """

    def open(self) -> None:
        """Open the link, wake the controller (soft reset) and wait for its banner."""

    def close(self) -> None:
        """Close the link. Idempotent."""

    def start_move(self, distances_mm: Mapping[str, float], feed_mm_min: float) -> None:
        """Send one relative coordinated move and a completion marker.

        ``distances_mm`` maps axis letter to travel (mm); ``feed_mm_min`` is the path feed
        (mm/min). Returns once the controller accepted the move (planned, not done).
        Raises ``ControllerRejected`` with the controller's error number.
        """

    def queue_move(self, distances_mm: Mapping[str, float], feed_mm_min: float) -> None:
        """Send one relative move with no completion marker, behind whatever is planned
        (a continuous run's next bounded segment). Returns once the controller accepted it
        (planned); the planner joins it to the previous move without stopping.
        Raises as ``start_move``.
        """

    def motion_done(self) -> bool:
        """True once the controller confirmed every queued move finished (Grbl ``G4 P0``)."""

    def status(self) -> ControllerStatus:
        """Ask for and return a fresh status report (Grbl ``?``)."""

    def feed_hold(self) -> None:
        """Real-time feed hold (Grbl ``!``): decelerate to rest, keep position. Thread-safe."""

    def cycle_start(self) -> None:
        """Real-time cycle start / resume after a feed hold (Grbl ``~``)."""

    def flush(self) -> None:
        """Discard planned motion after a completed hold (Grbl soft reset, 0x18) and wait for
        the controller to come back idle with its position kept."""

    def unlock(self) -> None:
        """Clear an alarm lock (Grbl ``$X``)."""


class DoseJournal(Protocol):
    """Durable record of every dose: the intent before the motor starts, the outcome after."""

    def dose_started(self, record: DoseRecord) -> None:
        """Record a dose about to start (``record.outcome`` is RUNNING), or one a safety
        rule refused (``REFUSED``, already ended, 0 ml). Committed (fsync) on return."""

    def dose_ended(
        self,
        dose_id: str,
        *,
        actual_ml: float,
        outcome: DoseOutcome,
        ended_at: datetime,
        reason: str = "",
        actual_upper_ml: float | None = None,
    ) -> None:
        """Record how a dose ended; ``actual_ml`` in ml. ``actual_upper_ml`` (ml) only when
        the actual volume is uncertain (then ``actual_ml`` is the least that flowed)."""

    def dose_progress(self, dose_id: str, *, dispensed_ml: float) -> None:
        """Record how much a running dose has dispensed so far (ml); no-op once ended."""

    def unfinished(self) -> list[DoseRecord]:
        """Doses still ``running`` in the journal (left by a crash at start-up), oldest
        first."""

    def get(self, dose_id: str) -> DoseRecord | None:
        """One dose by id, or None."""

    def dispensed_since(self, since: datetime, *, pump_id: str | None = None) -> float:
        """Volume (ml) dispensed by doses started at or after ``since`` (one pump, or all):
        the actual volume of ended doses (the upper bound where uncertain) and, for a dose
        still running, the larger of its request and its progress (it may still flow)."""

    def history(self, *, limit: int, since: datetime | None = None) -> list[DoseRecord]:
        """Doses newest first, at most ``limit``, started at or after ``since`` if given."""


class Clock(Protocol):
    """Wall clock (timezone-aware UTC) and a monotonic clock (s)."""

    def now(self) -> datetime:
        """Current UTC time, timezone-aware."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes back."""

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` (s)."""


class StatusBoard(Protocol):
    """Where the control plane publishes its latest immutable snapshot for readers."""

    def publish(self, snapshot: SystemSnapshot) -> None:
        """Replace the latest snapshot."""

    def latest(self) -> SystemSnapshot:
        """The latest snapshot."""


# A value the non-volatile store keeps, with its type (as ESP32 NVS: str, int, float, bool,
# blob).
NvsValue = str | int | float | bool | bytes


class NonVolatileStore(Protocol):
    """NVS-like key-value store: namespaces of typed values that survive power loss.

    Writes are atomic per call (all keys of one ``set_many`` or none); reads of one
    ``get_all`` see one consistent state. Raises ``OSError``/storage errors on failure.
    """

    def get(self, namespace: str, key: str) -> NvsValue | None:
        """The value stored under ``namespace``/``key``, or None."""

    def get_all(self, namespace: str) -> dict[str, NvsValue]:
        """Every key of ``namespace`` with its value, read in one transaction."""

    def set_many(self, namespace: str, values: Mapping[str, NvsValue]) -> None:
        """Store every key of ``values`` in one atomic commit."""

    def erase(self, namespace: str, key: str) -> None:
        """Remove ``key`` (no error when absent)."""


class BrokerSession(Protocol):
    """One MQTT session with the monitoring broker, the same client reused across
    reconnects (clean session, Last Will ``offline`` retained on the availability topic).

    ``connect`` and ``wait_lost`` are called by the connection supervisor's thread only;
    ``register`` and ``disconnect`` may be called from any thread.
    """

    def connect(self, timeout_s: float) -> str:
        """Open the transport (TCP, TLS, WebSocket handshake), send CONNECT and wait for a
        successful CONNACK, then publish ``online`` (retained). Returns the local IP
        address of the connection. Raises ``BrokerUnavailable`` with the reason (refused
        with the broker's reason code, unreachable, handshake or CONNACK timed out after
        ``timeout_s`` s)."""

    def wait_lost(self, timeout_s: float) -> str | None:
        """Block up to ``timeout_s`` (s); the reason if the session dropped, else None."""

    def register(self, registration: DeviceRegistration) -> None:
        """Publish the registration message (QoS 1, not retained). Raises
        ``BrokerUnavailable`` when not connected."""

    def disconnect(self) -> None:
        """Publish ``offline`` (retained) and disconnect cleanly; idempotent. (A clean
        DISCONNECT makes the broker drop the Last Will, so it is published by hand.)"""


class NetworkIdentity(Protocol):
    """The device's addresses as the operating system reports them."""

    def mac_for(self, local_ip: str) -> str:
        """MAC (``AA:BB:CC:DD:EE:FF``) of the interface holding ``local_ip``; for a
        loopback address, the first interface with a real MAC. Raises ``LookupError``."""

    def device_mac(self) -> str:
        """The MAC that names the device (client id): the first non-loopback interface
        with a real MAC, in interface-name order. Raises ``LookupError`` if none."""


class Sleeper(Protocol):
    """Waiting that shutdown can cut short."""

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (s); True if shutdown was requested (at once then)."""

    @property
    def stopping(self) -> bool:
        """True once shutdown was requested."""


class Outbox(Protocol):
    """Durable queue of events and alarms waiting for the broker's acknowledgement.

    ``append`` commits before it returns (a crash right after loses nothing); entries leave
    only through ``acknowledge``. ``seq`` is monotonic per device and never reused, also
    across restarts. Raises storage errors (``OSError``, ``sqlite3.Error``) on failure.
    """

    def append(self, kind: MessageKind, payload: Mapping[str, Any]) -> int:
        """Store a message (``payload`` is JSON-able); returns its ``seq``."""

    def pending(
        self, limit: int, *, alarms_first: bool = False, exclude: Collection[int] = ()
    ) -> list[OutboxEntry]:
        """Up to ``limit`` stored entries in ``seq`` order (alarms before events when
        ``alarms_first``), leaving out the ``exclude`` seqs (those in flight)."""

    def acknowledge(self, seq: int) -> None:
        """The broker acknowledged ``seq`` (PUBACK/PUBCOMP): remove it. Idempotent."""

    def depth(self) -> int:
        """How many entries are stored."""


class TelemetryLink(Protocol):
    """The telemetry side of the MQTT session (topics per DESIGN §5 are the adapter's).

    Every ``publish_*``/``send`` returns False without publishing when the session is not
    connected. ``generation`` changes on every new connection, so a drainer knows that
    what it had in flight must be sent again.
    """

    @property
    def generation(self) -> int:
        """0 while never connected; +1 on each successful connect."""

    @property
    def connected(self) -> bool:
        """Whether a session is up now."""

    def send(self, entry: OutboxEntry, on_acked: Callable[[], None]) -> bool:
        """Publish an outbox entry (QoS from its kind, not retained); ``on_acked`` runs on
        the network thread once the broker acknowledged it (PUBACK for QoS 1, PUBCOMP for
        QoS 2)."""

    def publish_status(self, status: Mapping[str, Any]) -> bool:
        """System status, latest value only (retained, QoS 0)."""

    def publish_pump_status(self, pump_id: str, status: Mapping[str, Any]) -> bool:
        """One pump's status, on change (retained, QoS 1)."""

    def publish_queue_status(self, status: Mapping[str, Any]) -> bool:
        """Outbox health (QoS 0, not retained)."""

    def publish_scale_weight(self, weight: Mapping[str, Any]) -> bool:
        """The scale's weight while dispensing by weight (QoS 0, not retained)."""

    def publish_command_result(
        self, result: Mapping[str, Any], reply_to: ReplyTo | None = None
    ) -> bool:
        """A command's ``{"correlationId","ok","error"}`` on the result topic, or on the
        MQTT 5 response topic (with its correlation data) when the command gave one."""


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """Where an MQTT 5 command asked its result to go: response topic and correlation data."""

    topic: str
    correlation_data: bytes | None = None


class DoseEventSink(Protocol):
    """Where the control plane hands each dose event after journaling it (telemetry)."""

    def record(self, event: DoseEvent, at: datetime) -> None:
        """``at``: when it happened (UTC). Must not block on the network."""


class RecipeEventSink(Protocol):
    """Where the recipe conductor reports runs starting and ending (telemetry, the
    ``{b}/recipe/start`` and ``{b}/recipe/complete`` topics). Must not block on the
    network; never raises."""

    def recipe_started(self, record: RecipeRunRecord) -> None:
        """A run's pre-flight passed and its first step is about to start."""

    def recipe_ended(self, record: RecipeRunRecord, at: datetime) -> None:
        """A run reached a final state (completed, aborted, failed, interrupted) at ``at``."""


class WeighEventSink(Protocol):
    """Where a dispense by weight reports its end (telemetry, ``{b}/weight/complete``).
    Must not block on the network; never raises."""

    def weight_completed(self, run: WeighRunView, at: datetime) -> None:
        """``run`` ended (its ``result`` is set) at ``at`` (UTC)."""


class HostMetrics(Protocol):
    """Facts about the daemon's own process."""

    def memory_kib(self) -> int:
        """Resident memory (KiB)."""


class AlarmSink(Protocol):
    """Where alarms go (the outbox: QoS 2 on the wire, first in an emergency)."""

    def raise_alarm(
        self, alarm_type: str, message: str, severity: Severity, **details: Any
    ) -> None:
        """Queue an alarm; never raises."""


class RecipeBook(Protocol):
    """The stored recipes (SQLite ``recipes.db``). Raises storage errors on failure."""

    def all(self) -> list[Recipe]:
        """Every recipe, by name."""

    def get(self, recipe_id: str) -> Recipe | None:
        """One recipe by id, or None."""

    def save(self, recipe: Recipe) -> bool:
        """Insert or replace ``recipe`` (by id), committed on return; True if it was new."""

    def delete(self, recipe_id: str) -> bool:
        """Remove a recipe; False when there was none."""


class RecipeRunLog(Protocol):
    """Durable record of recipe runs: written when a run starts, at every step boundary and
    when it ends, so a crash leaves an honest "interrupted at step N". Committed (fsync)
    on return; raises storage errors on failure."""

    def save(self, record: RecipeRunRecord) -> None:
        """Insert or replace the run's row (by ``run_id``)."""

    def get(self, run_id: str) -> RecipeRunRecord | None:
        """One run by id, or None."""

    def unfinished(self) -> list[RecipeRunRecord]:
        """Runs not in a final state (left by a crash at start-up), oldest first."""

    def recent(self, *, limit: int) -> list[RecipeRunRecord]:
        """Runs newest first, at most ``limit``."""


class ScheduleBook(Protocol):
    """The stored schedules and the slots they fired (SQLite ``schedules.db``).

    ``claim`` is the idempotency guarantee: a (schedule, slot) pair is claimed at most once,
    ever, also across restarts, so the same slot never doses twice. Every write commits
    (fsync) before it returns; raises storage errors on failure.
    """

    def all(self) -> list[Schedule]:
        """Every schedule, oldest first."""

    def get(self, schedule_id: str) -> Schedule | None:
        """One schedule by id, or None."""

    def save(self, schedule: Schedule) -> None:
        """Insert or replace ``schedule`` (by id); its ``checked_until`` and ``last_run``
        only ever move forward, so a replace racing the executor never reopens slots
        already decided."""

    def delete(self, schedule_id: str) -> bool:
        """Remove a schedule and its run history; False when there was none."""

    def claim(self, run: ScheduleRunRecord, *, checked_until: datetime) -> bool:
        """In one transaction: record ``run`` for its (schedule, slot) unless that pair is
        already recorded, and move the schedule's ``checked_until`` (and ``last_run`` for a
        run that doses) forward. False (nothing written) when the slot was already
        claimed or the schedule no longer exists."""

    def mark_checked(self, schedule_id: str, checked_until: datetime) -> None:
        """Every slot up to ``checked_until`` (UTC) has been decided."""

    def finish(
        self, schedule_id: str, slot: datetime, *, status: str, detail: str, reference: str = ""
    ) -> None:
        """Record how a claimed run went: ``status`` (``started``, ``refused``, ``failed``,
        ``skipped``), ``detail`` for people, ``reference`` the dose or recipe run id."""

    def runs(self, schedule_id: str, *, limit: int) -> list[ScheduleRunRecord]:
        """The schedule's recorded runs, newest slot first."""


class CronCalendar(Protocol):
    """Evaluates 5-field cron expressions in an IANA time zone (a well-kept cron library;
    DST handled as cronie does: a job at a fixed time that falls in a skipped hour fires
    once right after the jump, one in a repeated hour fires once; a job whose minute or
    hour field starts with ``*`` follows the wall clock, so it does not fire in the skipped
    hour and fires in both passes of the repeated one)."""

    def validate(self, expression: str, timezone: str) -> None:
        """Raise ``InvalidSchedule`` (``field`` ``cron`` or ``timezone``) unless both are
        usable."""

    def slots(
        self, expression: str, timezone: str, after: datetime, until: datetime, *, limit: int
    ) -> list[datetime]:
        """The firing instants (timezone-aware UTC) strictly after ``after`` and at or
        before ``until``, oldest first, at most ``limit`` (the newest ``limit`` when there
        are more)."""

    def next_slot(self, expression: str, timezone: str, after: datetime) -> datetime:
        """The first firing instant (UTC) strictly after ``after``."""


class Scale(Protocol):
    """A laboratory scale on a serial line (Mettler Toledo MT-SICS), read continuously.

    Only the control-plane thread calls these. The adapter keeps the newest streamed
    reading (MT-SICS ``SIR``), so ``latest`` never waits on the wire; ``tare`` and ``zero``
    wait for the scale's answer up to ``timeout_s`` (s). Every method raises
    ``ScaleUnavailable`` when the link is down or the scale stays silent, ``ScaleFault``
    when the scale answers that it cannot (overload, not stable in time, rejected).
    """

    def open(self) -> None:
        """Open the link, check the scale answers, and start streaming weights."""

    def close(self) -> None:
        """Stop streaming and close the link. Idempotent."""

    def latest(self) -> ScaleReading:
        """The newest reading; raises ``ScaleUnavailable`` when none arrived within the
        adapter's staleness bound (a silent scale is never read as a frozen weight)."""

    def tare(self, timeout_s: float) -> float:
        """Tare (MT-SICS ``T``): the scale waits for a stable weight and stores it as the
        tare; later readings are net of it. Returns the tare weight (g)."""

    def zero(self, timeout_s: float) -> None:
        """Zero (MT-SICS ``Z``): the scale sets a new zero at the next stable weight."""


class StatusLights(Protocol):
    """Status LEDs (WS2812B over SPI, the Linux sysfs LED class). Only the LED render
    thread calls ``show``; ``close`` may also come from shutdown on another thread, so
    adapters make it idempotent and safe against a ``show`` in progress.

    ``blinks_by_itself``: True when the device blinks a cue on its own (the sysfs timer
    trigger), so ``show`` is needed only when the frame changes; False when every blink
    phase must be written (WS2812B: the renderer sends each phase's colours).
    """

    blinks_by_itself: bool

    def show(self, frame: LedFrame, pixels: tuple[Rgb, ...]) -> None:
        """Show ``frame``; ``pixels`` are its colours now (blinking cues resolved). Both
        have one entry per LED. Raises ``OSError`` when the device cannot be written."""

    def close(self) -> None:
        """Leave the LEDs dark and release the device. Idempotent."""
