import random
import time

import pytest

from grid.services import grid_report_tick

ROLES = ("anonymous", "producer", "consumer", "regulator", "staff")
USERNAMES = {"producer": "wind_korat", "consumer": "home_malee", "regulator": "erc_auditor", "staff": "admin"}


@pytest.fixture
def client_as(login_as):
    return lambda role: login_as(USERNAMES.get(role))


@pytest.fixture
def reported(chain, produce):
    """Two simulated reports of every region, committed in blocks 1 and 2 (EGAT's node key)."""
    rng = random.Random(5)
    now_ms = time.time_ns() // 1_000_000
    txs = []
    for ago_ms in (2000, 1000):  # two different seconds
        txs.append(grid_report_tick(now_ms=now_ms - ago_ms, rng=rng))
        assert produce() is not None
    return txs
