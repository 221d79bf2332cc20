"""Readings refused for want of room are named by their nonces, read without checking the rest."""

import pytest

from meters.bridge import nonces_of
from meters.topics import METER_MAX_READINGS


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
