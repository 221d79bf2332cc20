"""The simulator's tick and the operator's limit as services: who signs, what reaches the chain."""

import random
import time

import pytest

from chain.ledger.errors import Refused
from chain.ledger.genesis import demo_key
from chain.models import ChainTx, MempoolTx
from chain.node import node_key_write
from grid.models import RegionStatus
from grid.services import grid_report_tick, path_limit_set
from trading.selectors import slots_open

pytestmark = pytest.mark.django_db


def test_a_tick_reports_every_region_signed_by_the_node_key(chain, produce, node_key):
    tx = grid_report_tick(rng=random.Random(1))
    assert tx.sender == node_key.verify_key.encode().hex()
    produce()
    assert ChainTx.objects.get(hash=tx.hash).ok
    assert RegionStatus.objects.count() == 6


def test_reports_keep_coming_newer_even_within_one_millisecond(chain, produce):
    first = grid_report_tick(now_ms=time.time_ns() // 1_000_000 - 1000, rng=random.Random(1))
    produce()
    second = grid_report_tick(now_ms=first.payload["time_ms"], rng=random.Random(2))
    produce()
    assert second.payload["time_ms"] == first.payload["time_ms"] + 1
    assert all(t.ok for t in ChainTx.objects.filter(kind="grid_report"))


def test_a_site_whose_key_is_no_authority_reports_nothing(chain):
    node_key_write(demo_key("solar_somchai"))
    assert grid_report_tick(rng=random.Random(1)) is None
    assert not MempoolTx.objects.exists()


def test_a_limit_refused_by_the_payload_check_says_why(chain):
    with pytest.raises(Refused) as refused:
        path_limit_set(zone_a="north", zone_b="south", from_slot=slots_open(count=1)[0], congested=True)
    assert refused.value.code == "unknown_path"
    assert not MempoolTx.objects.exists()


def test_reports_do_not_pile_up_while_no_block_comes(chain):
    for _ in range(3):
        assert grid_report_tick(rng=random.Random(1)) is not None
    assert grid_report_tick(rng=random.Random(1)) is None
    assert MempoolTx.objects.filter(kind="grid_report").count() == 3
