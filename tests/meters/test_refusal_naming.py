"""Readings refused for want of room are named by their nonces, read without checking the rest."""

import pytest

from meters import bridge as bridge_module
from meters.bridge import decode_headend_message, decode_message, nonces_of
from meters.topics import HEADEND_MAX_BYTES, METER_MAX_BYTES, METER_MAX_READINGS, readings_topic


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


def test_a_message_past_its_bytes_is_refused_before_it_is_parsed(monkeypatch):
    """Only the broker's limit (256 MB by default) bounded a message before: a meter's or a
    head-end's is refused past what its readings can take, and the parser never sees it."""
    parsed = []
    monkeypatch.setattr(bridge_module, "json_decode", lambda body: parsed.append(body) or {})
    meter = "a" * 64
    reading = b'{"sender": "' + meter.encode() + b'", "nonce": 1}'
    padded = reading + b" " * (METER_MAX_BYTES - len(reading) + 1)
    assert nonces_of(padded) is None
    assert decode_message(readings_topic(meter), padded) == (
        meter,
        None,
        ("malformed", f"A meter's message takes at most {METER_MAX_BYTES} bytes."),
    )
    headend = b'{"batch":"b-1","readings":[{}]}'
    padded = headend + b" " * (HEADEND_MAX_BYTES - len(headend) + 1)
    assert decode_headend_message(padded) == (
        "b-1",
        None,
        ("malformed", f"A head-end message takes at most {HEADEND_MAX_BYTES} bytes."),
    )
    assert not parsed
    decode_message(readings_topic(meter), padded[:METER_MAX_BYTES])  # at the limit: parsed
    assert len(parsed) == 1
