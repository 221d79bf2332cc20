"""A reading refused for want of room is named by its nonce, read without checking the rest."""

import pytest

from meters.bridge import nonce_of


@pytest.mark.parametrize(
    ("body", "nonce"),
    [
        (b'{"sender": "ab", "nonce": 7, "kind": "meter_reading"}', 7),
        (b'{"nonce": 0}', 0),
        (b'{"nonce": -1}', None),
        (b'{"nonce": true}', None),
        (b'{"nonce": 7.0}', None),
        (b'{"nonce": "7"}', None),
        (b"[7]", None),
        (b"not json", None),
        (b"[" * 100_000, None),  # nested past the parser's recursion limit
    ],
)
def test_a_readings_nonce_or_none(body, nonce):
    assert nonce_of(body) == nonce
