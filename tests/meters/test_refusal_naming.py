"""Readings refused for want of room are named by their nonces, read without checking the rest."""

from types import SimpleNamespace

import pytest

from chain.services.admission import SENDER_BUSY, BatchRejected
from meters import bridge as bridge_module
from meters.bridge import MeterBridge, nonces_of
from meters.topics import METER_MAX_READINGS, RETRY_AFTER_MS


@pytest.mark.parametrize(
    ("body", "nonces"),
    [
        (b'{"sender": "ab", "nonce": 7, "kind": "meter_reading"}', [7]),
        (b'{"nonce": 0}', [0]),
        (b'[{"nonce": 3}, {"nonce": 4}]', [3, 4]),  # a meter's backlog in one message
        (b"[" + b",".join([b'{"nonce": 1}'] * METER_MAX_READINGS) + b"]", [1] * METER_MAX_READINGS),
        (b"[" + b",".join([b'{"nonce": 1}'] * (METER_MAX_READINGS + 1)) + b"]", None),
        (b"[]", None),
        (b'[{"nonce": 3}, 4]', None),
        (b'[{"nonce": 3}, {"nonce": "4"}]', None),
        (b'{"nonce": -1}', None),
        (b'{"nonce": true}', None),
        (b'{"nonce": 7.0}', None),
        (b'{"nonce": "7"}', None),
        (b"7", None),
        (b"not json", None),
        (b"[" * 100_000, None),  # nested past the parser's recursion limit
    ],
)
def test_a_messages_nonces_or_none(body, nonces):
    assert nonces_of(body) == nonces


def test_a_meters_readings_behind_one_refused_for_room_go_back_with_it(monkeypatch):
    """Admitted without it, they would be held for a predecessor told to wait its turn, longer
    than a hold lasts: dropped, and the meter's later readings refused for the gap. Another
    meter's reading in the same batch is admitted."""
    bridge = MeterBridge("mqtt://127.0.0.1:1")  # never connected
    answers = []
    monkeypatch.setattr(bridge, "_reply", lambda meter, outcome, body: answers.append((meter, outcome, body)))
    a, b = "a" * 64, "b" * 64
    pending = [(a, {"sender": a, "nonce": n}) for n in (5, 6)] + [(b, {"sender": b, "nonce": 1})]
    pending.append((a, {"sender": a, "nonce": 7}))
    submitted = []

    def readings_submit(wires):
        submitted.append([(w["sender"][0], w["nonce"]) for w in wires])
        if len(submitted) == 1:
            raise BatchRejected([{"index": 0, "code": SENDER_BUSY, "message": "Busy; retry."}])
        return [SimpleNamespace(hash=f"h{w['nonce']}") for w in wires]

    monkeypatch.setattr(bridge_module, "readings_submit", readings_submit)
    bridge._admit(pending)
    assert submitted == [[("a", 5), ("a", 6), ("b", 1), ("a", 7)], [("b", 1)]]
    refused = [body for meter, outcome, body in answers if outcome == "rejected"]
    assert [(body["nonces"], body["code"]) for body in refused] == [([5, 6, 7], SENDER_BUSY)]
    assert refused[0]["retry_after_ms"] >= RETRY_AFTER_MS
    assert (b, "accepted", {"hash": "h1"}) in answers
