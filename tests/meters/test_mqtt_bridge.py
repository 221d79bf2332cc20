"""MQTT end to end through the real Mosquitto: publish, bridge, admission, block, minted balance.

The bridge runs in this process (its own thread and database connection, hence
transactional_db); the broker is the machine's Mosquitto at GTX_MQTT_URL.
"""

import json
import queue
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings

import meters.bridge as bridge_module
from chain.models import Account, ChainHead, HeldTx, MempoolTx
from chain.services import admission
from meters.bridge import TOPIC_MISMATCH, MeterBridge
from meters.models import Meter
from meters.topics import (
    HEADEND_MAX_READINGS,
    METER_MAX_READINGS,
    RETRY_AFTER_MS,
    broker_address,
    headend_answer_topic,
    headend_message,
    headend_topic,
    readings_topic,
)
from tests.meters.conftest import last_minute, signed_reading

WAIT_S = 30  # generous: only how long a broken bridge takes to fail the test


#: Topics of this test run only: other sites on this machine's broker publish under gridtokenx/.
ROOT = f"gtx-test-{uuid.uuid4().hex[:8]}/meters"


@pytest.fixture
def bridge(transactional_db):
    bridge = MeterBridge(
        settings.GTX_MQTT_URL, client_id=f"test-bridge-{uuid.uuid4().hex[:8]}", topic_root=ROOT
    )
    bridge.start()
    yield bridge
    bridge.stop()


@pytest.fixture
def replies():
    """A client listening to every reply of the meters; yields (publish, next_reply)."""
    inbox: queue.Queue = queue.Queue()
    subscribed = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: inbox.put((m.topic.rsplit("/", 1)[1], json.loads(m.payload)))
    client.on_subscribe = lambda *args: subscribed.put(True)
    client.connect(*broker_address(settings.GTX_MQTT_URL))
    client.loop_start()
    client.subscribe(
        [(f"{ROOT}/+/accepted", 1), (f"{ROOT}/+/rejected", 1), (headend_answer_topic("+", ROOT), 1)]
    )
    subscribed.get(timeout=WAIT_S)

    def publish(topic: str, body) -> None:
        client.publish(topic, body if isinstance(body, bytes) else json.dumps(body), qos=1).wait_for_publish(
            WAIT_S
        )

    yield publish, lambda: inbox.get(timeout=WAIT_S)
    client.loop_stop()
    client.disconnect()


def told_to_wait_at_first(body: dict) -> bool:
    """The wait a bridge that refused only a few readings tells: RETRY_AFTER_MS, or a turn soon
    after it (at least 100 readings a second are let back)."""
    wait = bridge_module.RETRY_AFTER_MS
    return wait <= body["retry_after_ms"] <= wait + 100


def test_a_published_reading_is_minted_and_bad_messages_change_nothing(
    bridge, meters, produce, replies, users
):
    publish, next_reply = replies
    chain_id = ChainHead.objects.get().chain_id
    meter = meters["solar_somchai"]
    start, end = last_minute()
    owner = users["solar_somchai"].wallet.address
    before = Account.objects.get(address=owner)

    publish(readings_topic(meter, ROOT), b"{not json")
    outcome, body = next_reply()
    assert (outcome, body["hash"], body["code"]) == ("rejected", "", "malformed_json")
    forged = {**signed_reading(chain_id, "solar_somchai", start=start, end=end, export_wh=9_999).to_wire()}
    forged["payload"] = {**forged["payload"], "export_wh": 1}  # changed after signing
    publish(readings_topic(meter, ROOT), forged)
    outcome, body = next_reply()
    assert (outcome, body["code"]) == ("rejected", "bad_signature")
    other = signed_reading(chain_id, "wind_korat", start=start, end=end, export_wh=5).to_wire()
    publish(readings_topic(meter, ROOT), other)
    outcome, body = next_reply()
    assert (outcome, body["code"]) == ("rejected", TOPIC_MISMATCH)
    assert not MempoolTx.objects.exists()

    good = signed_reading(chain_id, "solar_somchai", start=start, end=end, export_wh=150)
    publish(readings_topic(meter, ROOT), good.to_wire())
    assert next_reply() == ("accepted", {"hash": good.hash})
    produce()

    after = Account.objects.get(address=owner)
    assert (after.energy_wh - before.energy_wh, after.balance - before.balance) == (150, 150_000)
    assert Meter.objects.get(meter_id=meter).minted_wh_total == 150
    assert bridge.worker.is_alive()
    assert (bridge.accepted, bridge.rejected) == (1, 3)


def test_a_replayed_reading_is_refused_with_its_reason(bridge, meters, produce, replies):
    publish, next_reply = replies
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    tx = signed_reading(chain_id, "home_malee", start=start, end=end, import_wh=300)
    publish(readings_topic(meters["home_malee"], ROOT), tx.to_wire())
    assert next_reply()[0] == "accepted"
    produce()
    publish(readings_topic(meters["home_malee"], ROOT), tx.to_wire())
    outcome, body = next_reply()
    assert (outcome, body["code"], body["hash"]) == ("rejected", "duplicate", tx.hash)
    # Another reading with the same nonce: refused for it, and told the nonce to go on from.
    replay = signed_reading(chain_id, "home_malee", start=start, end=end, import_wh=301, nonce=tx.nonce)
    publish(readings_topic(meters["home_malee"], ROOT), replay.to_wire())
    outcome, body = next_reply()
    assert (outcome, body["code"], body["expected_nonce"]) == ("rejected", "nonce_replayed", tx.nonce + 1)


@pytest.mark.parametrize("headend", ["", "demo_headend"])
def test_the_demo_simulator_reports_through_the_bridge(bridge, meters, produce, replies, headend):
    """Each demo meter publishes its own readings; with `meter_simulator --headend` one message
    carries them all, as a utility's head-end would, and is answered once. Every meter mints."""
    import time

    from meters.simulator import simulator_tick

    publish, next_reply = replies
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(*broker_address(settings.GTX_MQTT_URL))
    client.loop_start()
    try:
        now_ms = time.time_ns() // 1_000_000
        published = simulator_tick(client, now_ms=now_ms, root=ROOT, headend=headend)
        assert published >= 6  # every demo meter, at least its last minute
        # The client stays up until answered.
        answers = [next_reply() for _ in range(1 if headend else published)]
    finally:
        client.loop_stop()
        client.disconnect()
    if headend:
        [(outcome, answer)] = answers
        assert (outcome, answer["batch"], answer["rejected"]) == ("answers", f"{now_ms}-0", [])
        assert len(answer["accepted"]) == published
    else:
        assert [outcome for outcome, _ in answers] == ["accepted"] * published
    produce()
    for meter in Meter.objects.filter(meter_id__in=meters.values()):
        assert meter.readings >= 1 and meter.last_window_end_ms == now_ms // 60_000 * 60_000


def test_with_the_mempool_full_a_reading_is_answered_at_once_and_the_next_unread(
    bridge, meters, replies, monkeypatch
):
    """Overload: no holding readings while the mempool is full. A reading that finds no room
    left is answered mempool_full with retry_after_ms without reaching admission, and for a
    moment after, readings are answered so unread."""

    publish, next_reply = replies
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    monkeypatch.setattr(admission, "intake_limit", lambda head: 1)  # room for one waiting
    submitted = []
    real_submit = bridge_module.readings_submit
    monkeypatch.setattr(
        bridge_module,
        "readings_submit",
        lambda wires, hold_gaps: submitted.append(1) or real_submit(wires=wires, hold_gaps=hold_gaps),
    )
    bridge.shed_s = 30  # the moment lasts the whole test

    first = signed_reading(chain_id, "home_malee", start=start, end=end, import_wh=300)
    publish(readings_topic(meters["home_malee"], ROOT), first.to_wire())
    assert next_reply() == ("accepted", {"hash": first.hash})
    for name in ("solar_somchai", "wind_korat"):
        reading = signed_reading(chain_id, name, start=start, end=end, export_wh=100)
        publish(readings_topic(meters[name], ROOT), reading.to_wire())
        outcome, body = next_reply()
        # Named by its nonce (its meter's topic says whose), not hashed: refusing is cheap.
        assert (outcome, body["nonces"], body["code"]) == ("rejected", [reading.nonce], "mempool_full")
        assert "hash" not in body
        assert told_to_wait_at_first(body)
    # A message with no nonce to name it by is read, and refused for its own fault.
    publish(readings_topic(meters["wind_korat"], ROOT), b'{"nonce": "1", "kind": "meter_reading"')
    outcome, body = next_reply()
    assert (outcome, body["hash"], body["code"]) == ("rejected", "", "malformed_json")
    assert "retry_after_ms" not in body
    # Only the first reading reached admission.
    assert len(submitted) == 1
    assert list(MempoolTx.objects.values_list("hash", flat=True)) == [first.hash]


def test_a_reading_refused_for_its_senders_room_is_told_to_retry(bridge, meters, replies, monkeypatch):
    """Admission refused it for want of room (here its sender's), not for itself: the meter is told
    to send it again after a while, as for a full mempool, not refused for good."""
    publish, next_reply = replies
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    busy = admission.BatchRejected([{"index": 0, "code": admission.SENDER_BUSY, "message": "Busy; retry."}])

    def refused(wires, hold_gaps):
        raise busy

    monkeypatch.setattr(bridge_module, "readings_submit", refused)
    reading = signed_reading(chain_id, "solar_somchai", start=start, end=end, export_wh=100)
    publish(readings_topic(meters["solar_somchai"], ROOT), reading.to_wire())
    outcome, body = next_reply()
    assert (outcome, body["nonces"], body["code"]) == ("rejected", [reading.nonce], admission.SENDER_BUSY)
    assert told_to_wait_at_first(body)


@pytest.mark.parametrize(
    "limit",
    [
        {"max_wait_s": 0},  # every reading has waited too long by the time it is collected
        {"inbox_max": 0},  # every reading finds the inbox full: answered from the MQTT thread
    ],
)
def test_a_reading_the_bridge_cannot_take_in_time_is_answered_busy(bridge, meters, replies, limit):
    publish, next_reply = replies
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    for name, value in limit.items():
        setattr(bridge, name, value)
    reading = signed_reading(chain_id, "solar_somchai", start=start, end=end, export_wh=100)
    publish(readings_topic(meters["solar_somchai"], ROOT), reading.to_wire())
    outcome, body = next_reply()
    assert (outcome, body["nonces"], body["code"]) == ("rejected", [reading.nonce], "intake_busy")
    assert body["retry_after_ms"] > 0
    assert not MempoolTx.objects.exists()


def _two_readings(name: str) -> tuple:
    """A meter's readings of the last two minutes, in nonce order (10 and 20 Wh exported)."""
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    first = signed_reading(chain_id, name, start=start - 60_000, end=end - 60_000, export_wh=10)
    return first, signed_reading(chain_id, name, start=start, end=end, export_wh=20, nonce=first.nonce + 1)


def test_a_reading_ahead_of_its_predecessor_is_sent_back_to_wait_for_it_not_held(
    bridge, meters, produce, replies
):
    """A reading whose predecessor the bridge has not seen (refused and not sent again yet, or
    lost) is not held: held, it was answered accepted and dropped if the hold ended first, and
    the meter never sent it again. It is told to wait, and its meter's next reading that comes
    before the predecessor waits with it; both are minted once the meter sends from the first."""
    publish, next_reply = replies
    meter = meters["solar_somchai"]
    first, second = _two_readings("solar_somchai")
    publish(readings_topic(meter, ROOT), second.to_wire())
    outcome, body = next_reply()
    assert (outcome, body["nonces"], body["message"]) == (
        "rejected",
        [second.nonce],
        bridge_module.OUT_OF_TURN[1],
    )
    assert body["retry_after_ms"] >= RETRY_AFTER_MS
    assert not HeldTx.objects.exists() and not MempoolTx.objects.exists()
    publish(readings_topic(meter, ROOT), second.to_wire())  # again before its turn: refused on arrival
    outcome, again = next_reply()
    assert (outcome, again["nonces"], again["message"]) == (
        "rejected",
        [second.nonce],
        bridge_module.OUT_OF_TURN[1],
    )
    assert again["retry_after_ms"] <= body["retry_after_ms"]
    backlog = ("[" + ",".join(_encoded(r) for r in (first, second)) + "]").encode()
    publish(readings_topic(meter, ROOT), backlog)
    assert [next_reply(), next_reply()] == [("accepted", {"hash": r.hash}) for r in (first, second)]
    produce()
    assert Meter.objects.get(meter_id=meter).minted_wh_total == 30
    assert not HeldTx.objects.exists()


def test_a_reading_sent_before_its_meters_turn_goes_back_to_wait_with_it(
    bridge, meters, produce, replies, monkeypatch
):
    """The bridge told a meter to send a reading again when its turn comes; the meter's next
    reading, sent before it heard, is told to wait for that turn too, not held: a hold is
    shorter than a turn can be, and a reading dropped from it was lost though accepted."""
    publish, next_reply = replies
    meter = meters["solar_somchai"]
    first, second = _two_readings("solar_somchai")
    bridge.shed_s = 0  # no moment of answering unread: each message is read
    real_limit = admission.intake_limit
    monkeypatch.setattr(admission, "intake_limit", lambda head: 1)  # room for one waiting
    start, end = last_minute()
    other = signed_reading(
        ChainHead.objects.get().chain_id, "home_malee", start=start, end=end, import_wh=300
    )
    publish(readings_topic(meters["home_malee"], ROOT), other.to_wire())
    assert next_reply() == ("accepted", {"hash": other.hash})
    publish(readings_topic(meter, ROOT), first.to_wire())
    outcome, told = next_reply()
    assert (outcome, told["nonces"], told["code"]) == ("rejected", [first.nonce], "mempool_full")
    monkeypatch.setattr(admission, "intake_limit", real_limit)  # room again
    bridge.inbox_room = None  # as a block that made room would have said
    publish(readings_topic(meter, ROOT), second.to_wire())
    outcome, body = next_reply()
    assert (outcome, body["nonces"], body["message"]) == (
        "rejected",
        [second.nonce],
        bridge_module.OUT_OF_TURN[1],
    )
    assert RETRY_AFTER_MS <= body["retry_after_ms"] <= told["retry_after_ms"]
    assert not HeldTx.objects.exists()
    # The meter sends both from the first when told, as one message; told to wait again (the
    # bridge's inbox is shared with the rest of a busy machine), it waits and sends them again.
    backlog = ("[" + ",".join(_encoded(r) for r in (first, second)) + "]").encode()
    answers = []
    for _ in range(5):
        publish(readings_topic(meter, ROOT), backlog)
        answers.append(next_reply())
        outcome, body = answers[-1]
        if outcome == "accepted":
            answers.append(next_reply())
            break
        time.sleep(body["retry_after_ms"] / 1000)
    assert answers[-2:] == [("accepted", {"hash": r.hash}) for r in (first, second)], answers
    assert all(body.get("message") != bridge_module.OUT_OF_TURN[1] for _, body in answers), answers
    produce()
    assert Meter.objects.get(meter_id=meter).minted_wh_total == 30


def _backlog(chain_id: str, name: str, count: int) -> list:
    """A meter's readings of the last ``count`` minutes, in nonce order."""
    start, end = last_minute()
    first = signed_reading(chain_id, name, start=start, end=end, export_wh=10)
    return [
        signed_reading(
            chain_id,
            name,
            start=start - (count - 1 - i) * 60_000,
            end=end - (count - 1 - i) * 60_000,
            export_wh=10 + i,
            nonce=first.nonce + i,
        )
        for i in range(count)
    ]


def test_a_meters_backlog_in_one_message_is_minted_and_each_reading_answered(
    bridge, meters, produce, replies
):
    publish, next_reply = replies
    meter = meters["solar_somchai"]
    backlog = _backlog(ChainHead.objects.get().chain_id, "solar_somchai", 3)
    publish(readings_topic(meter, ROOT), ("[" + ",".join(_encoded(r) for r in backlog) + "]").encode())
    answers = [next_reply() for _ in backlog]
    assert sorted((outcome, body["hash"]) for outcome, body in answers) == sorted(
        ("accepted", r.hash) for r in backlog
    )
    produce()
    assert Meter.objects.get(meter_id=meter).minted_wh_total == 10 + 11 + 12


def test_with_the_mempool_full_a_meters_backlog_is_refused_unread_in_one_answer(
    bridge, meters, replies, monkeypatch
):
    publish, next_reply = replies
    bridge.shed_s = 30  # the moment lasts the whole test
    _one_waiting(1, meters, replies, monkeypatch)  # no room left
    backlog = _backlog(ChainHead.objects.get().chain_id, "wind_korat", 3)
    for _ in range(2):  # the first finds no room left, the second the bridge shedding
        publish(
            readings_topic(meters["wind_korat"], ROOT),
            ("[" + ",".join(_encoded(r) for r in backlog) + "]").encode(),
        )
        outcome, body = next_reply()
        assert (outcome, body["code"], body["nonces"]) == (
            "rejected",
            "mempool_full",
            [r.nonce for r in backlog],
        )
        assert told_to_wait_at_first(body)
    assert MempoolTx.objects.count() == 1


def test_a_meters_readings_past_the_room_left_are_told_to_retry_in_one_answer(
    bridge, meters, replies, monkeypatch
):
    publish, next_reply = replies
    _one_waiting(2, meters, replies, monkeypatch)  # room for one more
    backlog = _backlog(ChainHead.objects.get().chain_id, "wind_korat", 3)
    publish(
        readings_topic(meters["wind_korat"], ROOT),
        ("[" + ",".join(_encoded(r) for r in backlog) + "]").encode(),
    )
    answers = dict([next_reply(), next_reply()])
    assert answers["accepted"] == {"hash": backlog[0].hash}
    assert (answers["rejected"]["code"], answers["rejected"]["nonces"]) == (
        "mempool_full",
        [r.nonce for r in backlog[1:]],
    )
    assert MempoolTx.objects.count() == 2


@pytest.mark.parametrize(
    ("readings", "code"),
    [
        (lambda mine, other: [mine[0], other], TOPIC_MISMATCH),  # another meter's reading in it
        (lambda mine, other: [], "malformed"),
        (lambda mine, other: mine * (METER_MAX_READINGS // 2 + 1), "malformed"),
    ],
)
def test_a_meters_message_not_all_its_own_readings_is_refused_whole(bridge, meters, replies, readings, code):
    publish, next_reply = replies
    chain_id = ChainHead.objects.get().chain_id
    mine = _backlog(chain_id, "solar_somchai", 2)
    other = _backlog(chain_id, "wind_korat", 1)[0]
    body = "[" + ",".join(_encoded(r) for r in readings(mine, other)) + "]"
    publish(readings_topic(meters["solar_somchai"], ROOT), body.encode())
    outcome, answer = next_reply()
    assert (outcome, answer["code"]) == ("rejected", code)
    assert "retry_after_ms" not in answer
    assert not MempoolTx.objects.exists()


def _encoded(tx) -> str:
    return json.dumps(tx.to_wire())


def test_a_headend_message_is_answered_once_with_each_readings_outcome(bridge, meters, produce, replies):
    """A utility's head-end sends many meters' readings in one message, each signed by its
    meter: one answer says which were taken and why the others were not; the good ones mint."""
    publish, next_reply = replies
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    solar = signed_reading(chain_id, "solar_somchai", start=start, end=end, export_wh=100)
    forged = signed_reading(chain_id, "home_malee", start=start, end=end, import_wh=300).to_wire()
    forged["payload"] = {**forged["payload"], "import_wh": 1}  # changed after signing
    wind = signed_reading(chain_id, "wind_korat", start=start, end=end, export_wh=40)
    body = headend_message("pea-0001", [_encoded(solar), json.dumps(forged), _encoded(wind)])

    publish(headend_topic("pea_headend_7", ROOT), body.encode())
    outcome, answer = next_reply()
    assert (outcome, answer["batch"], answer["accepted"]) == ("answers", "pea-0001", [solar.hash, wind.hash])
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [(1, "bad_signature")]
    produce()
    minted = dict(
        Meter.objects.filter(meter_id__in=meters.values()).values_list("meter_id", "minted_wh_total")
    )
    assert (minted[meters["solar_somchai"]], minted[meters["wind_korat"]]) == (100, 40)
    assert minted[meters["home_malee"]] == 0


def test_a_headend_reading_ahead_of_its_predecessor_is_told_to_wait_not_held(
    bridge, meters, produce, replies
):
    """Through a head-end as from a meter: a reading whose predecessor has not come is answered
    to wait (its index, the wait, the out-of-turn message), not held; the meter's other
    readings in the message are taken."""
    publish, next_reply = replies
    first, second = _two_readings("solar_somchai")
    start, end = last_minute()
    wind = signed_reading(ChainHead.objects.get().chain_id, "wind_korat", start=start, end=end, export_wh=40)
    publish(
        headend_topic("pea_headend_7", ROOT),
        headend_message("pea-2", [_encoded(second), _encoded(wind)]).encode(),
    )
    outcome, answer = next_reply()
    assert (outcome, answer["accepted"]) == ("answers", [wind.hash])
    [told] = answer["rejected"]
    assert (told["index"], told["message"]) == (0, bridge_module.OUT_OF_TURN[1])
    assert told["retry_after_ms"] >= RETRY_AFTER_MS
    assert not HeldTx.objects.exists()
    publish(
        headend_topic("pea_headend_7", ROOT),
        headend_message("pea-3", [_encoded(first), _encoded(second)]).encode(),
    )
    outcome, answer = next_reply()
    assert (outcome, answer["accepted"], answer["rejected"]) == ("answers", [first.hash, second.hash], [])
    produce()
    assert Meter.objects.get(meter_id=meters["solar_somchai"]).minted_wh_total == 30


@pytest.mark.parametrize(
    ("body", "batch", "code"),
    [
        (b"{not json", "", "malformed_json"),
        (b'{"readings":[],"batch":"b1"}', "", "malformed"),  # the batch id must come first
        (b'{"batch":"b 1","readings":[{}]}', "", "malformed"),
        (b'{"batch":"b2","readings":[]}', "b2", "malformed"),
        (b'{"batch":"b3","readings":[{}],"extra":1}', "b3", "malformed"),
        (
            b'{"batch":"b4","readings":[' + b",".join([b"{}"] * (HEADEND_MAX_READINGS + 1)) + b"]}",
            "b4",
            "malformed",
        ),
    ],
)
def test_a_malformed_headend_message_is_answered_whole_and_changes_nothing(
    bridge, meters, replies, body, batch, code
):
    publish, next_reply = replies
    publish(headend_topic("pea_headend_7", ROOT), body)
    outcome, answer = next_reply()
    assert (outcome, answer["batch"], answer["code"]) == ("answers", batch, code)
    assert "retry_after_ms" not in answer
    assert not MempoolTx.objects.exists()
    assert bridge.worker.is_alive()


def test_the_shed_moment_ends_however_many_batches_come_during_it(bridge, monkeypatch):
    """Batches read from the inbox while shedding are answered unread without making the moment
    longer: under a steady flood it was renewed by every batch and never ended."""
    monkeypatch.setattr(bridge, "_newest_room", lambda: None)  # no block since
    bridge.shed_until = until = time.monotonic() + 60

    assert bridge._room().room == 0
    assert bridge.shed_until == until


def test_a_block_that_leaves_room_ends_the_shedding_at_once(bridge, monkeypatch):
    """The site noted the room its newest block left (admission.room_after_commit): readings are
    read again then, not after a fixed moment that outlasted the blocks and let the mempool run dry."""
    noted = [admission.RoomAtCommit(7, 0, 500)]  # as the room thread last read it
    monkeypatch.setattr(bridge, "_newest_room", lambda: noted[0])
    monkeypatch.setattr(admission, "room_seen", admission.RoomSeen(7, 0, admission.monotonic_ms()))
    bridge.shed_s = 60
    bridge._shed()
    assert bridge.shed_height == 7
    now = time.monotonic()
    assert bridge._shedding(now)  # the same block: still no room
    noted[0] = admission.RoomAtCommit(8, 0, 500)
    assert bridge._shedding(now)  # a block, but it left no room
    noted[0] = admission.RoomAtCommit(9, 250, 500)
    assert not bridge._shedding(now)
    noted[0] = admission.RoomAtCommit(9, 0, 500)
    assert not bridge._shedding(now)  # and it stays open


def _one_waiting(room: int, meters, replies, monkeypatch) -> tuple:
    """Intake's room set to ``room`` with one reading waiting (accepted); two more readings
    for a head-end's message. Returns (the one waiting, the two)."""

    publish, next_reply = replies
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    monkeypatch.setattr(admission, "intake_limit", lambda head: room)
    first = signed_reading(chain_id, "home_malee", start=start, end=end, import_wh=300)
    publish(readings_topic(meters["home_malee"], ROOT), first.to_wire())
    assert next_reply() == ("accepted", {"hash": first.hash})
    readings = [
        signed_reading(chain_id, n, start=start, end=end, export_wh=10)
        for n in ("solar_somchai", "wind_korat")
    ]
    return first, readings


def test_a_headend_message_larger_than_the_room_left_has_what_fits_admitted_and_the_rest_told_to_retry(
    bridge, meters, replies, monkeypatch
):
    """The bridge's batch gathers many meters' readings: it admits what fits in the room intake
    has left, rather than having admission refuse the batch whole (under overload the mempool
    would then fill only when it ran empty), and tells the rest to retry."""
    publish, next_reply = replies
    first, readings = _one_waiting(2, meters, replies, monkeypatch)  # room for one more
    publish(
        headend_topic("pea_headend_7", ROOT), headend_message("b-1", [_encoded(r) for r in readings]).encode()
    )
    outcome, answer = next_reply()
    assert (outcome, answer["batch"], answer["accepted"]) == ("answers", "b-1", [readings[0].hash])
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [(1, "mempool_full")]
    assert told_to_wait_at_first(answer["rejected"][0])
    assert set(MempoolTx.objects.values_list("hash", flat=True)) == {first.hash, readings[0].hash}


def test_with_the_mempool_full_headend_messages_are_answered_on_arrival(bridge, meters, replies, monkeypatch):
    """Past the room the last batch left, a head-end's message is read and refused from the MQTT
    thread as it arrives, each reading by index, so that its meters keep their turns; while the
    bridge sheds, one answer refuses a whole message, made without reading it."""
    publish, next_reply = replies
    first, readings = _one_waiting(1, meters, replies, monkeypatch)  # no room left
    message = headend_message("b-1", [_encoded(r) for r in readings]).encode()
    publish(headend_topic("pea_headend_7", ROOT), message)
    outcome, answer = next_reply()
    assert (outcome, answer["batch"], answer["accepted"]) == ("answers", "b-1", [])
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [(0, "mempool_full"), (1, "mempool_full")]
    assert all(told_to_wait_at_first(r) for r in answer["rejected"])
    assert {("pea_headend_7", r.sender) for r in readings} <= set(bridge.turns.told)

    bridge.shed_s = 30  # the moment lasts the rest of the test
    bridge._shed()  # as the worker does when intake has no room
    publish(
        headend_topic("pea_headend_7", ROOT), headend_message("b-2", [_encoded(r) for r in readings]).encode()
    )
    outcome, answer = next_reply()
    assert (outcome, answer["batch"], answer["code"]) == ("answers", "b-2", "mempool_full")
    assert answer["retry_after_ms"] == RETRY_AFTER_MS
    assert list(MempoolTx.objects.values_list("hash", flat=True)) == [first.hash]


def test_a_headend_message_with_more_readings_than_the_inbox_has_room_for_is_answered_busy(
    bridge, meters, replies
):
    """The inbox's room counts readings, not messages: a head-end's message of two finds no room
    for one, and is refused whole from the MQTT thread, unread."""
    publish, next_reply = replies
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    bridge.inbox_max = 1
    readings = [
        signed_reading(chain_id, n, start=start, end=end, export_wh=10)
        for n in ("solar_somchai", "wind_korat")
    ]
    publish(
        headend_topic("pea_headend_7", ROOT), headend_message("b-9", [_encoded(r) for r in readings]).encode()
    )
    outcome, answer = next_reply()
    assert (outcome, answer["batch"], answer["code"]) == ("answers", "b-9", "intake_busy")
    assert answer["retry_after_ms"] > 0
    assert not MempoolTx.objects.exists()


def test_the_simulator_refuses_a_headend_name_it_could_not_publish_under():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="headend"):
        call_command("meter_simulator", "--once", "--headend", "pea/#")
