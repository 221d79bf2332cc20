"""Expiry and gate closure release escrow even when no transaction is waiting."""

import pytest

from chain import clock
from chain.models import Account, Block
from tests.trading.harness import sell
from trading import selectors
from trading.models import Order, OrderStatus
from trading.services import order_place

pytestmark = pytest.mark.django_db


def test_an_expired_order_gets_a_block_of_its_own(users, produce, monkeypatch):
    seller = users["solar_somchai"].wallet
    slot = selectors.slots_open(count=2)[1]
    expires_ms = clock.now_ms() + 60_000
    placed = order_place(wallet=seller, **sell(slot, kwh=2, price=3_000_000, expires_ms=expires_ms))
    produce()
    assert Account.objects.get(address=seller.address).escrow_wh == 2000
    assert produce() is None  # nothing waits and nothing is due yet

    monkeypatch.setattr(clock, "now_ms", lambda: expires_ms + 1)
    block = produce()

    assert block is not None and block.tx_count == 0
    assert Order.objects.get(order_id=placed.hash).status == OrderStatus.EXPIRED
    assert Account.objects.get(address=seller.address).escrow_wh == 0
    assert Block.objects.count() == 2
    assert produce() is None  # and nothing is due after it
