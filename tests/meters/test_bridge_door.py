"""Once the readings waiting in the bridge's inbox take what its next batch may admit (the room
the worker measured when it took its batch, less that batch), arrivals are answered from the
MQTT thread at once: read after the batch being admitted, they would be refused anyway, later.
A block that leaves room lets in as many again as it left."""

import time
from dataclasses import dataclass

import meters.bridge as bridge_module
from chain.services import admission
from meters.bridge import NO_ROOM, OUT_OF_TURN, MeterBridge
from meters.topics import RETRY_AFTER_MS, headend_message, headend_topic, readings_topic

TOPIC = readings_topic("a" * 64)
READING = b'{"sender": "' + b"a" * 64 + b'", "nonce": 1, "signature": "00"}'  # one reading


@dataclass
class Message:
    topic: str
    payload: bytes


def test_arrivals_past_the_next_batchs_room_are_answered_at_once_until_a_block_leaves_room(monkeypatch):
    bridge = MeterBridge("mqtt://127.0.0.1:1")  # not started: nothing drains the inbox
    answered = []
    monkeypatch.setattr(bridge, "_refuse_unread", lambda topic, body, code, message: answered.append(code))
    bridge.newest_room = admission.RoomAtCommit(7, 500, 1000)  # as the room thread read it
    bridge.inbox_room = (2, 7)  # the worker's batch left room for two more, at height 7

    for _ in range(3):
        bridge._on_message(None, None, Message(TOPIC, READING))
    assert (bridge.inbox.qsize(), answered) == (2, ["mempool_full"]), "block 7 is what was measured"
    assert bridge.room_wanted.is_set(), "the room thread is asked to read the note again"
    # Room for the two waiting and two more, past the mempool's reserve (its last tenth, 2 of 20).
    bridge.newest_room = admission.RoomAtCommit(8, 6, 20)
    for _ in range(3):
        bridge._on_message(None, None, Message(TOPIC, READING))
    assert (bridge.inbox.qsize(), answered) == (4, ["mempool_full"] * 2), "as much as the block left"
    assert bridge.inbox_room == (4, 8)


def test_a_block_that_emptied_the_mempool_lets_in_its_limit_less_the_batch_being_admitted(monkeypatch):
    """An empty mempool takes any batch, but the batch after the one being admitted finds
    only the limit less that one: let in more, the surplus would be read and refused late."""
    bridge = MeterBridge("mqtt://127.0.0.1:1")
    answered = []
    monkeypatch.setattr(bridge, "_refuse_unread", lambda topic, body, code, message: answered.append(code))
    bridge.newest_room = admission.RoomAtCommit(8, admission.MAX_BATCH, 5)
    bridge.inbox_room = (0, 7)
    bridge.admitting = 3  # the worker's batch, not yet in the mempool
    for _ in range(3):
        bridge._on_message(None, None, Message(TOPIC, READING))
    assert (bridge.inbox.qsize(), answered) == (2, ["mempool_full"])
    assert bridge.inbox_room == (2, 8)


def test_the_room_thread_reads_the_note_the_newest_block_left_when_asked(monkeypatch):
    """The MQTT thread never waits on Redis: a thread of its own reads the note for it."""
    notes = [admission.RoomAtCommit(9, 0, 1000), admission.RoomAtCommit(8, 40, 1000)]
    monkeypatch.setattr(
        admission, "newer_block_room", lambda height: notes.pop() if len(notes) > 1 else notes[0]
    )
    bridge = MeterBridge("mqtt://127.0.0.1:1")
    bridge.room_reader.start()
    try:
        assert bridge._newest_room() is None  # nothing read yet: the wish is taken
        for expected in (8, 9):
            deadline = time.monotonic() + 5
            while (
                bridge.newest_room is None or bridge.newest_room.height < expected
            ) and time.monotonic() < deadline:
                time.sleep(0.005)
                bridge._newest_room()
            assert bridge.newest_room.height == expected
    finally:
        bridge.stopping.set()
        bridge.room_reader.join(timeout=5)
    assert not bridge.room_reader.is_alive()


def test_before_a_batch_measured_the_room_readings_wait_in_the_inbox(monkeypatch):
    bridge = MeterBridge("mqtt://127.0.0.1:1")
    answered = []
    monkeypatch.setattr(bridge, "_refuse_unread", lambda topic, body, code, message: answered.append(code))
    for _ in range(3):
        bridge._on_message(None, None, Message(TOPIC, READING))
    assert (bridge.inbox.qsize(), answered) == (3, [])


def test_a_headends_message_past_the_room_is_read_and_refused_on_arrival(monkeypatch):
    """Read, its readings refused for room keep their meters' turns (unread, they could not),
    and it no longer waits for the batch being admitted: one answer, each reading by index."""
    bridge = MeterBridge("mqtt://127.0.0.1:1")
    answers = []
    monkeypatch.setattr(bridge, "_answer_headend", lambda headend, body: answers.append((headend, body)))
    bridge.inbox_room = (0, 7)
    first, told = "a" * 64, "b" * 64
    bridge.turns.told_back("pea_headend_7", told, 1, 2_000)  # to send again from nonce 1 in 2 s
    readings = [
        f'{{"sender": "{first}", "nonce": 1, "signature": "00"}}',
        f'{{"sender": "{told}", "nonce": 2, "signature": "00"}}',  # before its meter's turn
    ]
    message = headend_message("b-1", readings).encode()
    bridge._on_message(None, None, Message(headend_topic("pea_headend_7"), message))

    assert bridge.inbox.qsize() == 0
    ((headend, body),) = answers
    assert (headend, body["batch"], body["accepted"]) == ("pea_headend_7", "b-1", [])
    by_index = {refused["index"]: refused for refused in body["rejected"]}
    assert (by_index[0]["code"], by_index[0]["message"]) == NO_ROOM
    assert by_index[0]["retry_after_ms"] >= RETRY_AFTER_MS
    assert (by_index[1]["code"], by_index[1]["message"]) == OUT_OF_TURN
    assert 1_900 <= by_index[1]["retry_after_ms"] <= 2_000
    assert ("pea_headend_7", first) in bridge.turns.told, "its meter keeps the turn it was given"

    bridge.inbox_room = (5, 7)  # room again: let in, to be read by the worker
    bridge._on_message(None, None, Message(headend_topic("pea_headend_7"), message))
    assert (bridge.inbox.qsize(), len(answers)) == (1, 1)


def test_a_meters_readings_that_all_come_before_its_turn_are_sent_back_on_arrival(monkeypatch):
    """Read first, they waited for the batch being admitted; the wait told is what is left of
    the turn. A message from the turn's nonce is let in, to be read and admitted."""
    bridge = MeterBridge("mqtt://127.0.0.1:1")
    told = []
    monkeypatch.setattr(bridge, "_reply", lambda meter, outcome, body: told.append((meter, outcome, body)))
    meter = "a" * 64
    bridge.turns.told_back("", meter, 1, 2_000)  # told to send again from nonce 1 in two seconds
    later = b'[{"sender": "' + meter.encode() + b'", "nonce": 2, "signature": "00"}]'
    bridge._on_message(None, None, Message(TOPIC, later))
    assert bridge.inbox.qsize() == 0
    ((to, outcome, body),) = told
    assert (to, outcome, body["nonces"], body["message"]) == (meter, "rejected", [2], OUT_OF_TURN[1])
    assert 1_900 <= body["retry_after_ms"] <= 2_000

    bridge._on_message(None, None, Message(TOPIC, READING))  # nonce 1: its turn
    assert (bridge.inbox.qsize(), len(told)) == (1, 1)
    bridge._on_message(None, None, Message(readings_topic("b" * 64), READING))  # a meter never told
    assert (bridge.inbox.qsize(), len(told)) == (2, 1)


def test_the_bridge_leaves_the_mempools_reserve_to_light_senders(monkeypatch):
    """Its last tenth is admission's for accounts with little waiting: a meter with a backlog
    let in there would be refused only once its batch was read, 136 to 178 ms after it arrived
    at the median (one ``bench.meters`` run at three times the knee), and a trader's order in a
    flood of readings would find the mempool full."""
    bridge = MeterBridge("mqtt://127.0.0.1:1")
    monkeypatch.setattr(admission, "room_seen", None)  # no height noted: any block with room ends it
    monkeypatch.setattr(bridge_module, "intake_room", lambda: admission.IntakeRoom(150, 1000, 7))
    assert bridge._room() == admission.IntakeRoom(50, 900, 7)
    assert bridge.shed_until == 0.0

    monkeypatch.setattr(bridge_module, "intake_room", lambda: admission.IntakeRoom(100, 1000, 7))
    assert bridge._room().room == 0
    assert bridge._shedding(time.monotonic()), "no room left outside the reserve: shed"
    bridge.newest_room = admission.RoomAtCommit(8, 100, 1000)  # a block, but no room past the reserve
    assert bridge._shedding(time.monotonic())
    bridge.newest_room = admission.RoomAtCommit(9, 101, 1000)
    assert not bridge._shedding(time.monotonic())


def test_a_batch_that_holds_its_room_is_taken_without_waiting_out_the_flush(monkeypatch):
    """Past the room, nothing more would be admitted: waiting for more only held the batch."""
    bridge = MeterBridge("mqtt://127.0.0.1:1", flush_s=30)
    monkeypatch.setattr(bridge, "_refuse_unread", lambda *args: None)
    bridge.inbox_room = (2, 7)
    for _ in range(3):
        bridge._on_message(None, None, Message(TOPIC, READING))
    assert bridge.inbox.qsize() == 2, "the third was answered on arrival"
    started = time.monotonic()
    assert len(bridge._collect()) == 2
    assert time.monotonic() - started < 10, "taken at once, not after the 30 s flush"
