"""Fixtures: the demo chain with the demo meters registered (signed by MEA/PEA demo keys) and a reading."""

import time

import pytest

from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.services.mempool import next_nonce
from meters.services import demo_meter_key, demo_meters_register

MINUTE_MS = 60_000


def last_minute() -> tuple[int, int]:
    """The last whole minute before now: a window that lies in one slot and is not in the future."""
    end = time.time_ns() // 1_000_000 // MINUTE_MS * MINUTE_MS
    return end - MINUTE_MS, end


def signed_reading(chain_id: str, username: str, *, start, end, export_wh=0, import_wh=0, nonce=None):
    key = demo_meter_key(username)
    payload = {"window_start_ms": start, "window_end_ms": end, "import_wh": import_wh, "export_wh": export_wh}
    if nonce is None:
        nonce = next_nonce(address_of(key))
    return sign_transaction(key, chain_id=chain_id, nonce=nonce, kind="meter_reading", payload=payload)


@pytest.fixture
def meters(chain, produce):
    """The demo meters, registered in block 1; returns username -> meter address."""
    assert demo_meters_register() == 6
    produce()
    from meters.services import DEMO_METERS

    return {name: address_of(demo_meter_key(name)) for name in DEMO_METERS}
