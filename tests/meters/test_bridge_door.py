"""The bridge refuses readings on arrival, from its MQTT thread, once its inbox holds the room
intake measured last: they would be refused after the batch anyway, only later. A block that
leaves room opens it again."""

from dataclasses import dataclass

from chain.services import admission
from meters.bridge import MeterBridge
from meters.topics import readings_topic

TOPIC = readings_topic("a" * 64)
READING = b'{"sender": "' + b"a" * 64 + b'", "nonce": 1, "signature": "00"}'  # one reading


@dataclass
class Message:
    topic: str
    payload: bytes


def test_readings_past_the_room_left_are_refused_on_arrival_until_a_block_leaves_room(monkeypatch):
    bridge = MeterBridge("mqtt://127.0.0.1:1")  # not started: nothing drains the inbox
    answered = []
    monkeypatch.setattr(bridge, "_refuse_unread", lambda topic, body, code, message: answered.append(code))
    seen = admission.RoomSeen(height=7, left=2, at_ms=admission.monotonic_ms())
    monkeypatch.setattr(admission, "room_seen", seen)
    newest_block = [None]  # the room the newest block left: none newer yet
    monkeypatch.setattr(admission, "room_after_newer_block", lambda height: newest_block[0])

    for _ in range(3):
        bridge._on_message(None, None, Message(TOPIC, READING))
    assert (bridge.inbox.qsize(), answered) == (2, ["mempool_full"])
    bridge.room_checked_at -= 1  # past ROOM_CHECK_S: the note is read again
    bridge._on_message(None, None, Message(TOPIC, READING))
    assert (bridge.inbox.qsize(), answered) == (2, ["mempool_full"] * 2), "shedding until a block"

    newest_block[0] = 500
    bridge.room_checked_at -= 1
    bridge._on_message(None, None, Message(TOPIC, READING))
    assert (bridge.inbox.qsize(), answered) == (3, ["mempool_full"] * 2), "the old measure is moot"


def test_without_a_recent_measure_readings_wait_in_the_inbox_for_intake(monkeypatch, settings):
    bridge = MeterBridge("mqtt://127.0.0.1:1")
    answered = []
    monkeypatch.setattr(bridge, "_refuse_unread", lambda topic, body, code, message: answered.append(code))
    old = admission.monotonic_ms() - settings.GTX_INTAKE_SHED_MS
    monkeypatch.setattr(admission, "room_seen", admission.RoomSeen(height=7, left=0, at_ms=old))
    for _ in range(3):
        bridge._on_message(None, None, Message(TOPIC, READING))
    assert (bridge.inbox.qsize(), answered) == (3, [])
