"""The MQTT bridge: signed meter readings from the broker into admission.

Meters publish a signed meter_reading transaction (its wire JSON, as for
POST /api/v1/meters/readings/) to ``gridtokenx/meters/<meter>/readings``, or a backlog of
their own as one list (up to METER_MAX_READINGS). The
bridge collects what arrives for up to ``flush_s`` (or ``batch_max`` messages),
admits the batch through meters.services.readings_submit, and answers each meter
on ``gridtokenx/meters/<meter>/accepted`` ({"hash"}) or
``gridtokenx/meters/<meter>/rejected`` ({"hash", "code", "message"}; with ``nonce_replayed``,
also ``expected_nonce``).

Admission takes a batch whole or not at all, so the bridge first cuts its batch to the room
intake has left (``intake_room``: the rest is answered ``mempool_full`` with
``retry_after_ms``), and a batch refused for some of its messages is retried without them
until what is left is admitted. A bad message
(not strict JSON: chain.ledger.wire, not a reading, wrong topic, bad signature, replayed...) is logged
and answered; it never stops the bridge and never changes state.

Under overload the bridge answers at once rather than holding readings: the readings past the
room intake has left are answered ``rejected`` (``mempool_full``, ``retry_after_ms`` as
``RetrySchedule`` gives each its turn; named by their nonces, one answer a message), and after
it found no room, or once its inbox holds what the next batch may admit, every reading is
answered so unread, as the API's door does (chain.api.shed), until the site commits a block that
leaves room (for ``shed_s`` at most). A meter told to wait keeps its turn: its later readings
wait with it (``TurnsKept``). A reading that finds ``inbox_max`` readings waiting in the
bridge's inbox, or waited there longer than ``max_wait_s``, is answered ``intake_busy`` without
being admitted: what the bridge admits is never older than that, however fast meters publish,
and those answers come from the MQTT thread, not after a batch being admitted.

A head-end's message (``<root>/headends/<headend>/readings``: ``{"batch": id, "readings":
[...]}``, up to HEADEND_MAX_READINGS readings each signed by its meter) joins the same batches
and is answered once on ``<root>/headends/<headend>/answers``: ``{"batch", "accepted": [hash],
"rejected": [{"index", "hash", "code", "message"}]}`` (no hash, and ``retry_after_ms``, when
refused for want of room), or ``{"batch", "code", "message"}`` for
the whole message (malformed; or, with ``retry_after_ms``, no room), so under overload one
refusal answers a thousand readings, made without reading them.
"""

import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections, connection

from chain.ledger import errors
from chain.ledger.wire import json_decode
from chain.services import admission
from chain.services.admission import FOR_WANT_OF_ROOM, INTAKE_BUSY, MEMPOOL_FULL, BatchRejected, intake_room
from meters.mqtt_client import BufferedClient
from meters.services import readings_submit
from meters.topics import (
    HEADEND_BATCH_ID,
    HEADEND_MAX_BYTES,
    HEADEND_MAX_READINGS,
    METER_MAX_BYTES,
    METER_MAX_READINGS,
    OUT_OF_TURN_MESSAGE,
    RETRY_AFTER_MS,
    TOPIC_ROOT,
    broker_address,
    headend_answer_topic,
    headend_batch_id,
    headend_of_topic,
    headend_topic,
    meter_of_topic,
    readings_topic,
    reply_topic,
)

log = logging.getLogger(__name__)

TOPIC_MISMATCH = "topic_mismatch"
BRIDGE_ERROR = "bridge_error"
#: The longest wait a refusal tells (RetrySchedule): readings carry 15-minute windows, and a meter
#: that waits its turn costs nothing, where one that comes back early costs a refusal.
RETRY_CEILING_MS = 30_000
#: Seconds between two reads of the room a block left, while the bridge refuses on arrival (one
#: Redis round trip, in a thread of its own).
ROOM_CHECK_S = 0.01
BUSY_MESSAGE = "The bridge is busy: the reading could not be admitted in time; retry."
#: The answer to a reading intake has no room for (the meter or head-end sends it again).
NO_ROOM = (MEMPOOL_FULL, "The site has no room for this reading now; retry.")
#: The answer to a reading that came before its meter's turn (TurnsKept).
OUT_OF_TURN = (MEMPOOL_FULL, OUT_OF_TURN_MESSAGE)
METER_SHAPE = "A meter's message is one signed reading (a JSON object), or a list of them."
HEADEND_SHAPE = (
    'A head-end message is {"batch": "<id>", "readings": [signed meter_reading, ...]}, '
    "its batch id first (1 to 64 letters, digits, '_', '.', ':' or '-')."
)


def decode_message(topic: str, body: bytes) -> tuple[str, list[dict] | None, tuple[str, str] | None]:
    """(meter from the topic, the readings' wire dicts or None, the refusal (code, message) or None).

    A meter's message is one signed reading, or a list of up to METER_MAX_READINGS of its own:
    its backlog, sent as one message after an outage or a wait it was told to keep."""
    meter = meter_of_topic(topic)
    if len(body) > METER_MAX_BYTES:
        return meter, None, (errors.MALFORMED, f"A meter's message takes at most {METER_MAX_BYTES} bytes.")
    try:
        message = json_decode(body)
    except errors.LedgerError as exc:
        return meter, None, (exc.code, exc.message)
    wires = message if isinstance(message, list) else [message]
    if not wires or not all(isinstance(wire, dict) for wire in wires):
        return meter, None, (errors.MALFORMED, METER_SHAPE)
    if len(wires) > METER_MAX_READINGS:
        return (
            meter,
            None,
            (errors.MALFORMED, f"A meter's message holds at most {METER_MAX_READINGS} readings."),
        )
    if any(wire.get("sender") != meter for wire in wires):
        return meter, None, (TOPIC_MISMATCH, "The transaction's sender is not the meter of the topic.")
    return meter, wires, None


def decode_headend_message(body: bytes) -> tuple[str, list | None, tuple[str, str] | None]:
    """(the batch id or "", the readings' wire dicts or None, the refusal (code, message) or None)."""
    batch_id = headend_batch_id(body)
    if len(body) > HEADEND_MAX_BYTES:
        return (
            batch_id,
            None,
            (errors.MALFORMED, f"A head-end message takes at most {HEADEND_MAX_BYTES} bytes."),
        )
    try:
        message = json_decode(body)
    except errors.LedgerError as exc:
        return batch_id, None, (exc.code, exc.message)
    readings = message.get("readings") if isinstance(message, dict) else None
    if (
        not batch_id
        or set(message) != {"batch", "readings"}
        or not isinstance(message["batch"], str)
        or not HEADEND_BATCH_ID.fullmatch(message["batch"])
        or not isinstance(readings, list)
        or not readings
    ):
        return batch_id, None, (errors.MALFORMED, HEADEND_SHAPE)
    if len(readings) > HEADEND_MAX_READINGS:
        return (
            batch_id,
            None,
            (errors.MALFORMED, f"A head-end message holds at most {HEADEND_MAX_READINGS} readings."),
        )
    return batch_id, readings, None


def nonces_of(body: bytes) -> list[int] | None:
    """The nonces of a meter's message (one reading or a list of them), read without checking the
    rest: what names readings refused for want of room (a meter knows its readings by their
    nonces). None when the body has no such shape: the message is then read in full and refused
    for its own fault, if it has one."""
    if len(body) > METER_MAX_BYTES:
        return None
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    wires = message if type(message) is list else [message]
    if not 0 < len(wires) <= METER_MAX_READINGS or any(type(wire) is not dict for wire in wires):
        return None
    nonces = [wire.get("nonce") for wire in wires]
    return nonces if all(type(nonce) is int and nonce >= 0 for nonce in nonces) else None


class RefusalLog:
    """The bridge's log of refused readings, bounded whatever the rate of refusals.

    Under overload a meter is told to retry several times a second: a line for each was 218,000
    lines (44 MB) in one 60 s benchmark, written on the cores the site needed. A reading refused
    to be sent again is counted; one refused for itself (bad JSON, signature, replay: a fault of
    the meter's, or an attacker's) is logged, at most ``lines_per_interval`` of them an interval.
    Every ``interval_s`` with refusals, one line sums them up by code (one an answer: a meter's
    message, however many readings it names), with the wait meters are told to keep (``wait_ms``).
    """

    def __init__(
        self, interval_s: float = 10.0, lines_per_interval: int = 20, wait_ms: Callable[[], int] | None = None
    ):
        self.interval_s, self.lines_per_interval = interval_s, lines_per_interval
        self.wait_ms = wait_ms
        self.lock = threading.Lock()  # refusals come from the MQTT thread and the worker
        self._reset(time.monotonic())

    def _reset(self, now: float) -> None:
        self.started, self.lines, self.counts = now, 0, {}

    def refused(self, meter: str, code: str, message: str, *, retry: bool) -> None:
        with self.lock:
            now = time.monotonic()
            if now - self.started >= self.interval_s:
                if self.counts:
                    summary = ", ".join(f"{code} {count}" for code, count in sorted(self.counts.items()))
                    if self.wait_ms is not None:
                        summary += f"; told to wait {self.wait_ms()} ms"
                    log.info("meters bridge: refused in the last %.0f s: %s", now - self.started, summary)
                self._reset(now)
            self.counts[code] = self.counts.get(code, 0) + 1
            if retry or self.lines >= self.lines_per_interval:
                return
            self.lines += 1
        log.info("meters bridge: refused a reading of %s: %s %s", meter or "?", code, message)


class RetrySchedule:
    """When readings refused for want of room come back (``retry_after_ms``): each in its turn,
    at the rate the site takes them, as tickets at a counter.

    Each refusal is given the next free moment of a schedule that lets readings back at
    ``headroom`` times the rate the bridge admitted them in its last windows of ``window_s``
    with refusals (at least ``min_rate`` a second), and moves the schedule on by as many
    readings as it names. The wait is at least ``floor_ms`` and at most ``ceiling_ms``. Once
    the schedule has caught up with the clock, a refusal waits ``floor_ms`` again; after a
    quiet spell (two windows), refusals are not spaced until a window has measured the rate.

    A wait that was the same for every refusal sent the meters back together. With 250 ms,
    192,227 refusals answered 90,000 single readings in one ``bench.meters`` run at three times
    what the site mints, and the site minted a tenth of what it can. Doubled under lasting
    overload up to 2 s, the bridge still answered 1,118,633 readings refused for 63,994 minted
    (20 s at 6,500 readings/s): the bridge, the broker and the meters spent the cores on
    refusals. The headroom keeps the site's mempool full when meters come back with more than
    they were refused, and lets the measured rate grow when the site can take more.
    """

    def __init__(
        self,
        *,
        floor_ms: int = RETRY_AFTER_MS,
        ceiling_ms: int = RETRY_CEILING_MS,
        window_s: float = 1.0,
        min_rate: int = 100,
        headroom: float = 1.5,
        clock=time.monotonic,
    ):
        self.floor_s, self.ceiling_s, self.window_s = floor_ms / 1000, ceiling_ms / 1000, window_s
        self.min_rate, self.headroom, self.clock = min_rate, headroom, clock
        #: Readings a second the schedule lets back (None: nothing measured yet, no spacing).
        self.rate: float | None = None
        #: The next free moment (monotonic).
        self.next_due = 0.0
        self.lock = threading.Lock()  # refusals come from the MQTT thread and the worker
        self._start(clock())

    def _start(self, now: float) -> None:
        self.started, self.admitted_n, self.refused_n = now, 0, 0

    def _roll(self, now: float) -> None:
        """Under the lock: a window over with refusals in it measures the rate readings are let back."""
        elapsed = now - self.started
        if elapsed < self.window_s:
            return
        measured = self.headroom * self.admitted_n / elapsed
        if elapsed >= 2 * self.window_s:
            self.rate = None  # a quiet spell: what was measured before it says nothing of now
        elif self.refused_n:
            measured = max(self.min_rate, measured)
            self.rate = measured if self.rate is None else (self.rate + measured) / 2
        elif self.rate is not None:
            self.rate = max(self.rate, measured)  # all that came was taken: the site may take more
        self._start(now)

    def admitted(self, readings: int) -> None:
        with self.lock:
            self._roll(self.clock())
            self.admitted_n += readings

    def retry_after_ms(self, readings: int = 1) -> int:
        """The wait of a refusal naming ``readings`` readings, which it takes its turn for."""
        now = self.clock()
        with self.lock:
            self._roll(now)
            self.refused_n += readings
            due = min(max(self.next_due, now + self.floor_s), now + self.ceiling_s)
            if self.rate is not None:
                self.next_due = due + readings / self.rate
            return round((due - now) * 1000)

    def queue_ms(self) -> int:
        """How long a refusal now would wait."""
        with self.lock:
            return round(min(max(self.next_due - self.clock(), self.floor_s), self.ceiling_s) * 1000)


class TurnsKept:
    """The meters told to send their readings again from a nonce, until that turn is due: a later
    reading of theirs that comes first is sent back to wait with it, not admitted.

    Admitted, it was held for the readings before it (PROTOCOL.md §7), and a hold
    (GTX_HOLD_SECONDS) can be shorter than a turn: it was dropped, though answered accepted, and
    every later reading of the meter refused for the gap. A meter that sends a reading before it
    heard that the one before was refused does so; in one ``bench.meters`` run at three times
    what the site mints, 2,487 readings were lost so. Since, a reading the turns kept here let
    through finds its predecessor missing at admission and is sent back too
    (``MeterBridge._admit``), but only after it was read and verified. A meter is forgotten once
    it sends from its nonce again, or ``grace_s`` after its turn; at most ``limit`` are kept, the
    oldest forgotten first.

    A turn binds the way it was told: the meter's own topic (``channel`` ""), or the head-end
    its readings came through. Readings refused for room are not verified, so one published on
    a head-end's topic in another meter's name would otherwise hold back that meter's own
    readings for a turn and a grace.
    """

    def __init__(self, *, grace_s: float = 5.0, limit: int = 100_000):
        self.grace_s, self.limit = grace_s, limit
        #: (channel, meter) -> (the first nonce told to wait, when its turn is due, monotonic)
        self.told: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()
        self.lock = threading.Lock()  # told from the MQTT thread and the worker

    def told_back(self, channel: str, meter, nonce, wait_ms: int) -> None:
        if type(meter) is not str or type(nonce) is not int:
            return
        due = time.monotonic() + wait_ms / 1000
        with self.lock:
            earlier = self.told.pop((channel, meter), None)
            if earlier is not None:
                nonce, due = min(nonce, earlier[0]), max(due, earlier[1])
            self.told[(channel, meter)] = (nonce, due)
            while len(self.told) > self.limit:
                self.told.popitem(last=False)

    def _turn_left_ms(self, told: tuple[int, float] | None, now: float) -> int | None:
        """What is left of the turn ``told`` (at least RETRY_AFTER_MS), or None: none kept, or the
        turn and its grace are over."""
        if told is None or now >= told[1] + self.grace_s:
            return None
        return max(RETRY_AFTER_MS, round((told[1] - now) * 1000))

    def _early_wait_ms(self, told: tuple[int, float] | None, nonce: int, now: float) -> int | None:
        """What is left of the turn ``told`` for a reading of ``nonce`` that comes before it, or
        None: in turn (from the nonce told, or the turn and its grace are over)."""
        if told is not None and nonce <= told[0]:
            return None
        return self._turn_left_ms(told, now)

    def early_wait_ms(self, channel: str, meter: str, nonces: list[int]) -> int | None:
        """The wait of a message of ``meter``'s readings ``nonces`` that all come before its turn,
        or None: some may be in turn, and the message is read (``out_of_turn`` decides)."""
        with self.lock:
            told = self.told.get((channel, meter))
        return self._early_wait_ms(told, min(nonces), time.monotonic())

    def waits(self, items: list, otherwise: Callable[[], int]) -> list:
        """``items`` ((source, wire)) each with the wait of its meter's turn, or ``otherwise()``
        where none is kept: readings ahead of a predecessor that has not come, sent back to
        wait for it."""
        now = time.monotonic()
        by_meter: dict[tuple, int] = {}  # one wait a meter: its readings go back together
        waited = []
        for source, wire in items:
            key = (source[0].headend if isinstance(source, tuple) else "", wire.get("sender"))
            if key not in by_meter:
                with self.lock:
                    wait = self._turn_left_ms(self.told.get(key), now)
                by_meter[key] = wait if wait is not None else otherwise()
            waited.append((source, wire, by_meter[key]))
        return waited

    def out_of_turn(self, pending: list) -> tuple[list, list]:
        """``pending`` ((source, wire), in order; a source is a meter, or (head-end answer,
        index)) split into those in turn and those that come before their meter's turn, each of
        these as (source, wire, the turn's wait in ms)."""
        now = time.monotonic()
        in_turn, early = [], []
        with self.lock:
            for source, wire in pending:
                meter, nonce = wire.get("sender"), wire.get("nonce")
                key = (source[0].headend if isinstance(source, tuple) else "", meter)
                told = self.told.get(key) if type(meter) is str and type(nonce) is int else None
                wait = self._early_wait_ms(told, nonce, now)
                if wait is not None:
                    early.append((source, wire, wait))
                    continue
                if told is not None:
                    del self.told[key]  # sent again from its nonce (or gave up): in turn
                in_turn.append((source, wire))
        return in_turn, early


@dataclass
class HeadEndAnswer:
    """What one head-end message is answered, filled in as its readings are admitted or refused."""

    headend: str
    batch: str
    accepted: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    def body(self) -> dict:
        return {"batch": self.batch, "accepted": self.accepted, "rejected": self.rejected}


def tx_hash_of(wire: dict) -> str:
    from chain.ledger.errors import LedgerError
    from chain.ledger.tx import parse_transaction

    try:
        return parse_transaction(wire).hash
    except (LedgerError, ValueError, TypeError):
        return ""


class MeterBridge:
    """Subscribes, batches, admits, answers. ``start()`` then ``stop()``; or ``run_forever()``."""

    def __init__(
        self,
        url: str,
        *,
        batch_max: int = 1000,
        flush_s: float = 0.05,
        client_id: str = "",
        topic_root: str = TOPIC_ROOT,
        max_wait_s: float = 1.0,
        shed_s: float = 0.25,
        inbox_max: int = 1000,
    ):
        self.host, self.port = broker_address(url)
        self.topic_root = topic_root
        self.batch_max, self.flush_s = batch_max, flush_s
        self.max_wait_s, self.shed_s, self.inbox_max = max_wait_s, shed_s, inbox_max
        #: (arrival on the monotonic clock, topic, body, readings it holds)
        self.inbox: queue.Queue = queue.Queue()
        #: Readings in the inbox (a head-end's message holds many): changed by both threads.
        self.waiting = 0
        self.waiting_lock = threading.Lock()
        self.stopping = threading.Event()
        self.accepted = self.rejected = 0
        #: Until when (monotonic) readings are answered unread (NO_ROOM).
        self.shed_until = 0.0
        #: The head when intake last found no room (None: unknown): a newer block that makes
        #: room ends the shedding.
        self.shed_height: int | None = None
        #: What the next batch may admit, as the worker last measured or a newer block left it
        #: (readings, the head's height then), or None: once the inbox holds that many, readings
        #: are answered on arrival.
        self.inbox_room: tuple[int, int | None] | None = None
        #: The note the site's newest block left (admission.newer_block_room), as the room
        #: thread last read it, outside the mempool's reserve (``newest_room``'s setter); it
        #: reads again every ROOM_CHECK_S while ``room_wanted`` is set.
        self._newest_note: admission.RoomAtCommit | None = None
        self.room_wanted = threading.Event()
        #: Readings of the batch being admitted (not yet in the mempool, or not for long).
        self.admitting = 0
        self.schedule = RetrySchedule()
        self.turns = TurnsKept(grace_s=settings.GTX_HOLD_SECONDS)
        self.refusal_log = RefusalLog(wait_ms=self.schedule.queue_ms)
        self.client = BufferedClient(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.worker = threading.Thread(target=self._work, name="meters-bridge", daemon=True)
        self.room_reader = threading.Thread(target=self._read_room, name="meters-bridge-room", daemon=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        topics = [readings_topic("+", self.topic_root), headend_topic("+", self.topic_root)]
        # QoS 0 towards the bridge: the broker never holds back or drops a backlog for it (its
        # queue limit is for QoS 1 and 2); a meter that hears no answer sends its reading again.
        client.subscribe([(topic, 0) for topic in topics])  # again after every reconnect
        log.info("meters bridge: subscribed to %s on %s:%s", " and ".join(topics), self.host, self.port)

    def _on_message(self, client, userdata, message) -> None:
        """Into the inbox; or, while the mempool is full or the inbox has no room for its readings
        (``inbox_max``), answered here at once: a refusal never waits behind a batch being admitted."""
        now = time.monotonic()
        by_meter = headend_of_topic(message.topic, self.topic_root) is None
        if by_meter and self.turns.told and self._sent_before_its_turn(message):
            return
        if self._shedding(now):
            self._refuse_unread(message.topic, message.payload, *NO_ROOM)
            return
        if self._inbox_holds_the_room(now):
            if by_meter:
                self._refuse_unread(message.topic, message.payload, *NO_ROOM)
            else:
                self._refuse_headend_read(message.topic, message.payload)
            return
        weight = self._weight(message.payload)
        with self.waiting_lock:
            room = self.waiting + weight <= self.inbox_max
            if room:
                self.waiting += weight
        if room:
            self.inbox.put((now, message.topic, message.payload, weight))
        else:
            self._refuse_unread(message.topic, message.payload, INTAKE_BUSY, BUSY_MESSAGE)

    def _sent_before_its_turn(self, message) -> bool:
        """Send a meter's readings that all come before its turn back to wait for it, at once:
        read first, they waited for the batch being admitted (130 to 290 ms at the median). The
        turn is the one told on the meter's own topic; a message in another meter's name there
        would be refused for that anyway."""
        meter = meter_of_topic(message.topic)
        if ("", meter) not in self.turns.told:
            return False
        nonces = nonces_of(message.payload)
        wait = self.turns.early_wait_ms("", meter, nonces) if nonces else None
        if wait is None:
            return False
        self._refuse(meter, "", *OUT_OF_TURN, retry=True, nonces=nonces, wait_ms=wait)
        return True

    def _inbox_holds_the_room(self, now: float) -> bool:
        """Whether the readings waiting in the inbox take all the next batch may admit: as the
        worker measured it when it took its batch, or as the newest block left it, once a block
        committed since (``_newest_room``). The rest would wait for the batch being admitted,
        then be read and refused: 110 ms at the median, 312 ms at p95, against 11 and 97 ms for
        those the full inbox answered on arrival (one ``bench.meters`` run at three times the
        knee).

        A head-end's message is then read and refused here (``_refuse_headend_read``), not
        answered unread, so that its meters refused for room keep their turns (``TurnsKept``);
        answered unread, their next readings, already on their way in the head-end's next
        messages, were held past the hold and dropped (262 in one run)."""
        measured = self.inbox_room
        if measured is None or self.waiting < measured[0]:
            return False
        newer = self._newest_room()
        if newer is not None and (measured[1] is None or newer.height > measured[1]):
            # A block made room: as much as it left, less the batch being admitted (not yet in
            # the mempool it counted, or not for long). Let in without a bound until the next
            # batch measured, the inbox filled past that, and the surplus was read after the
            # batch being admitted and refused: 129 ms at the median, 291 at p95.
            left = min(newer.left, newer.limit) - self.admitting
            self.inbox_room = (max(0, left), newer.height)
            return self.waiting >= left
        return True

    @property
    def newest_room(self) -> admission.RoomAtCommit | None:
        return self._newest_note

    @newest_room.setter
    def newest_room(self, note: admission.RoomAtCommit | None) -> None:
        """Kept outside the mempool's reserve, as ``_room`` measures (``admission.outside_reserve``):
        taken off once for each note read, not at each of the MQTT thread's looks at it."""
        if note is not None:
            left, limit = admission.outside_reserve(note.left, note.limit)
            note = note._replace(left=left, limit=limit)
        self._newest_note = note

    def _newest_room(self) -> admission.RoomAtCommit | None:
        """The note the site's newest block left, as the room thread last read it (at most
        ROOM_CHECK_S and a round trip ago), and a wish for a newer read. The MQTT thread decides
        on it without waiting on Redis: read there, the round trip held every arrival behind it
        (11 % of that thread's time under overload)."""
        self.room_wanted.set()
        return self._newest_note

    def _read_room(self) -> None:
        while not self.stopping.is_set():
            if self.room_wanted.wait(0.2):
                self.room_wanted.clear()
                self.newest_room = admission.newer_block_room(None)
                self.stopping.wait(ROOM_CHECK_S)

    def _refuse_unread(self, topic: str, body: bytes, code: str, message: str) -> None:
        """Answer a reading (or a head-end's message) that was not admitted for want of room
        (the meter or head-end sends it again)."""
        headend = headend_of_topic(topic, self.topic_root)
        if headend is not None:
            self.rejected += 1
            # Not a turn: its meters are not known, so they could not keep it (TurnsKept), and
            # the head-end's next messages, already on their way with later readings of the same
            # meters, were held past the hold and dropped (122 and 262 readings in two runs). Kept
            # for the head-end itself, the site went short while four head-ends waited (0.82 of
            # the knee). One answer refuses a whole message: the short wait costs little.
            answer = {
                "batch": headend_batch_id(body),
                "code": code,
                "message": message,
                "retry_after_ms": RETRY_AFTER_MS,
            }
            self._answer_headend(headend, answer)
            return
        nonces = nonces_of(body)
        if nonces is not None:
            self._refuse(meter_of_topic(topic), "", code, message, retry=True, nonces=nonces)
            return
        meter, wires, refusal = decode_message(topic, body)
        if refusal:
            self._refuse(meter, "", *refusal)
        else:
            for wire in wires:
                self._refuse(meter, tx_hash_of(wire), code, message, retry=True)

    def start(self) -> None:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self.worker.start()
        self.room_reader.start()

    def stop(self) -> None:
        self.stopping.set()
        self.worker.join(timeout=10)
        self.room_reader.join(timeout=10)
        self.client.loop_stop()
        self.client.disconnect()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self.stopping.wait(1):
                pass
        finally:
            self.stop()

    def _work(self) -> None:
        while not self.stopping.is_set():
            batch = self._collect()
            if not batch:
                continue
            try:
                self.handle(batch)
            except Exception:  # the bridge outlives any one batch
                log.exception("meters bridge: a batch failed")
                for topic, body in batch:
                    self._refuse_unread(topic, body, BRIDGE_ERROR, "Internal error; retry.")
            finally:
                close_old_connections()
        connection.close()  # this thread's own connection

    def _collect(self) -> list[tuple[str, bytes]]:
        """Messages of up to about ``batch_max`` readings that arrived within ``flush_s``; those that
        waited longer than ``max_wait_s`` are answered intake_busy instead."""
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        arrived, deadline = [first], time.monotonic() + self.flush_s
        readings = first[3]
        while readings < self.batch_max and not self._batch_holds_the_room(readings):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                arrived.append(self.inbox.get(timeout=left))
            except queue.Empty:
                break
            readings += arrived[-1][3]
        with self.waiting_lock:
            self.waiting -= readings
        oldest = time.monotonic() - self.max_wait_s
        batch = []
        for at, topic, body, _ in arrived:
            if at >= oldest:
                batch.append((topic, body))
            else:
                self._refuse_unread(topic, body, INTAKE_BUSY, BUSY_MESSAGE)
        return batch

    def _batch_holds_the_room(self, readings: int) -> bool:
        """Whether the batch being collected holds all it may admit (``inbox_room``), so that
        waiting out ``flush_s`` for more would only hold it: what arrives meanwhile is answered
        on arrival (``_inbox_holds_the_room``). Waited out under overload, the flush held every
        batch 50 ms, and the readings in it refused for room after it: 103 ms at the median,
        145 to 190 ms at p95 (one ``bench.meters`` run at three times the knee)."""
        measured = self.inbox_room
        return measured is not None and readings >= measured[0]

    @staticmethod
    def _weight(body: bytes) -> int:
        """About how many readings a message holds (a head-end's many): batches are bounded in readings."""
        return max(1, body.count(b'"signature"'))

    def handle(self, batch: list[tuple[str, bytes]]) -> None:
        """Admit what can be admitted of ``batch``; answer every message, each head-end's once.

        The room intake has left is read first: a message that finds none left is answered
        unread, and of the readings read, those past the room are told to retry."""
        room, limit, height = self._room()
        pending, answers = [], []
        for topic, body in batch:
            if len(pending) >= room:
                self._refuse_unread(topic, body, *NO_ROOM)
                continue
            if headend_of_topic(topic, self.topic_root) is None:
                meter, wires, refusal = decode_message(topic, body)
                if refusal:
                    self._refuse(meter, "", *refusal)
                else:
                    pending.extend((meter, wire) for wire in wires)
                continue
            read = self._read_headend(topic, body)
            if read is not None:
                answers.append(read[0])
                pending.extend(read[1])
        pending = self._in_turn(pending)
        # An empty mempool takes any batch, but the batches after it what the limit leaves.
        self.inbox_room = (max(0, min(room, limit) - len(pending)), height)
        self._refuse_for_room(pending[room:], *NO_ROOM)
        self.admitting = min(room, len(pending))
        try:
            self._admit(pending[:room])
        finally:
            self.admitting = 0
        for answer in answers:
            self._answer_headend(answer.headend, answer.body())

    def _read_headend(self, topic: str, body: bytes) -> tuple[HeadEndAnswer, list] | None:
        """A head-end's message read: its answer to fill in, and its readings as ``pending``
        holds them ((answer, index), wire); None when it was malformed (answered so whole)."""
        headend = headend_of_topic(topic, self.topic_root)
        batch_id, wires, refusal = decode_headend_message(body)
        if refusal:
            self.rejected += 1
            self._answer_headend(headend, {"batch": batch_id, "code": refusal[0], "message": refusal[1]})
            return None
        answer = HeadEndAnswer(headend, batch_id)
        return answer, [((answer, index), wire) for index, wire in enumerate(wires)]

    def _in_turn(self, pending: list) -> list:
        """Those of ``pending`` in their meter's turn; the others are sent back to wait for it."""
        pending, early = self.turns.out_of_turn(pending)
        self._refuse_early(early)
        return pending

    def _refuse_headend_read(self, topic: str, body: bytes) -> None:
        """Refuse a head-end's message for room on arrival, read, so that its readings keep their
        meters' turns (``TurnsKept``): named by index in its one answer. Left for the worker,
        it waited for the batch being admitted and was refused after it (158 ms at p95 in one
        ``bench.meters`` run with head-ends at three times the knee)."""
        read = self._read_headend(topic, body)
        if read is None:
            return
        answer, pending = read
        self._refuse_for_room(self._in_turn(pending), *NO_ROOM)
        self._answer_headend(answer.headend, answer.body())

    def _room(self) -> admission.IntakeRoom:
        """How many readings intake takes now, and may hold once not empty (``intake_room``),
        outside the mempool's reserve (``admission.outside_reserve``: its last tenth is for light
        senders, and a meter with a backlog let in there was refused only after its batch was
        read); with no room, the MQTT thread sheds for ``shed_s``."""
        if self._shedding(time.monotonic()):
            # Not shed again: the moment ends, and intake is asked again.
            return admission.IntakeRoom(0, 0, self.shed_height)
        measured = intake_room()
        room, limit = admission.outside_reserve(measured.room, measured.limit)
        if not room:
            self._shed()
        return admission.IntakeRoom(room, limit, measured.height)

    def _shed(self) -> None:
        seen = admission.room_seen  # noted by intake_room or admission as they found no room
        self.shed_height = seen.height if seen is not None else None
        self.shed_until = time.monotonic() + self.shed_s

    def _shedding(self, now: float) -> bool:
        """Whether readings are answered unread: for ``shed_s`` after intake had no room, unless
        the site committed a block since that left room (``_newest_room``). A fixed moment
        outlasted the blocks: with blocks every 100 ms and 250 ms of shedding, the mempool ran dry
        while meters were told to retry."""
        if now >= self.shed_until:
            return False
        newer = self._newest_room()
        if (
            newer is not None
            and newer.left > 0
            and (self.shed_height is None or newer.height > self.shed_height)
        ):
            self.shed_until = 0.0
            return False
        return True

    def _admit(self, pending: list) -> None:
        """Admit what can be of ``pending`` ((meter or (head-end answer, index), wire)); answer each.

        A reading ahead of its meter's next nonce is not held for its predecessor but sent back
        to wait for it, with its meter's turn (``TurnsKept.waits``): held, it was answered
        accepted and then dropped when the hold (GTX_HOLD_SECONDS) ended before the
        predecessor's turn came, and the meter, told accepted, never sent it again (10,272
        readings in one ``bench.meters`` run at three times the knee with the bridge slowed by
        a profiler)."""
        while pending:
            try:
                txs = readings_submit(wires=[wire for _, wire in pending], hold_gaps=False)
            except BatchRejected as exc:
                indexed = {p["index"]: p for p in exc.problems if p.get("index") is not None}
                if not indexed:  # the whole batch: no room now (answered at once), or malformed
                    if exc.mempool_full:  # filled since the room was read
                        self._shed()
                    if exc.retry_later:
                        self._refuse_for_room(pending, exc.code, exc.message)
                    else:
                        for source, wire in pending:
                            self._refuse(source, tx_hash_of(wire), exc.code, exc.message)
                    return
                for_room: dict[tuple[str, str], list] = {}  # its sender's room: sent again later
                gaps = []  # ahead of its meter's next nonce: sent again after its predecessor
                for index, problem in sorted(indexed.items()):
                    source, wire = pending[index]
                    if problem["code"] in FOR_WANT_OF_ROOM:
                        for_room.setdefault((problem["code"], problem["message"]), []).append(pending[index])
                    elif problem["code"] == errors.NONCE_GAP:
                        gaps.append(pending[index])
                    else:
                        self._refuse(
                            source,
                            tx_hash_of(wire),
                            problem["code"],
                            problem["message"],
                            expected_nonce=problem.get("expected_nonce"),
                        )
                for (code, message), items in for_room.items():
                    self._refuse_for_room(items, code, message)
                self._refuse_early(self.turns.waits(gaps, self.schedule.retry_after_ms))
                pending = [item for i, item in enumerate(pending) if i not in indexed]
                continue
            self.schedule.admitted(len(txs))
            for (source, _), tx in zip(pending, txs, strict=True):
                self.accepted += 1
                if isinstance(source, tuple):
                    source[0].accepted.append(tx.hash)
                else:
                    self._reply(source, "accepted", {"hash": tx.hash})
            return

    def _refuse_for_room(self, items: list, code: str, message: str, wait_ms: int | None = None) -> None:
        """Tell readings that were read ((source, wire) as ``pending`` holds them) to retry after
        ``wait_ms``, or their turn, named without hashing them (hashing the readings refused was
        most of what refusing them cost under overload): a head-end's by its index, in its
        message's one answer; a meter's by their nonces, one answer a meter."""
        nonces_by_meter: dict[str, list[int]] = {}
        for source, wire in items:
            nonce = wire.get("nonce")
            if isinstance(source, tuple):
                wait = self._refuse(source, "", code, message, retry=True, wait_ms=wait_ms)
                self.turns.told_back(source[0].headend, wire.get("sender"), nonce, wait)
            elif type(nonce) is int and nonce >= 0:
                nonces_by_meter.setdefault(source, []).append(nonce)
            else:
                self._refuse(source, tx_hash_of(wire), code, message, retry=True, wait_ms=wait_ms)
        for meter, nonces in nonces_by_meter.items():
            self._refuse(meter, "", code, message, retry=True, nonces=nonces, wait_ms=wait_ms)

    def _refuse_early(self, early: list) -> None:
        """Send back readings that came before their meter's turn (``TurnsKept.out_of_turn``),
        told to wait for that turn: they take no turn of their own."""
        by_wait: dict[int, list] = {}
        for source, wire, wait in early:
            by_wait.setdefault(wait, []).append((source, wire))
        for wait, items in by_wait.items():
            self._refuse_for_room(items, *OUT_OF_TURN, wait_ms=wait)

    def _refuse(
        self,
        source,
        tx_hash: str,
        code: str,
        message: str,
        *,
        retry: bool = False,
        nonces: list | None = None,
        wait_ms: int | None = None,
        expected_nonce: int | None = None,
    ) -> int | None:
        """Answer ``rejected``; with ``retry`` the reading was not at fault: the meter sends it
        again after ``retry_after_ms`` (``wait_ms``, or its turn in the schedule), which is
        returned. ``source`` is the meter, or (head-end answer, index). A meter's readings
        refused for want of room are named by their ``nonces``, not hashed: one answer for the
        message, and the meter's later readings wait for their turn (``TurnsKept``). A reading
        refused for its nonce is told the one its meter goes on from (``expected_nonce``)."""
        self.rejected += len(nonces) if nonces else 1
        body = {"hash": tx_hash, "code": code, "message": message}
        if nonces is not None:
            body = {"nonces": nonces, "code": code, "message": message}
        if expected_nonce is not None:
            body["expected_nonce"] = expected_nonce
        wait = None
        if retry:
            wait = (
                wait_ms if wait_ms is not None else self.schedule.retry_after_ms(len(nonces) if nonces else 1)
            )
            body["retry_after_ms"] = wait
            if nonces:
                self.turns.told_back("", source, min(nonces), wait)
        if isinstance(source, tuple):
            answer, index = source
            entry = {"index": index, **body}
            if not tx_hash:  # refused for want of room: the index names it
                del entry["hash"]
            answer.rejected.append(entry)
            return wait
        self.refusal_log.refused(source, code, message, retry=retry)
        self._reply(source, "rejected", body)
        return wait

    def _answer_headend(self, headend: str, body: dict) -> None:
        self.client.publish(headend_answer_topic(headend, self.topic_root), json.dumps(body), qos=0)

    def _reply(self, meter: str, outcome: str, body: dict) -> None:
        if meter and "+" not in meter and "#" not in meter:
            self.client.publish(reply_topic(meter, outcome, self.topic_root), json.dumps(body), qos=0)
