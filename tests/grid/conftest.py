import random

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
    txs = []
    for _ in range(2):
        txs.append(grid_report_tick(rng=rng))
        assert produce() is not None
    return txs
