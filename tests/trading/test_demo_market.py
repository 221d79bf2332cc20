import random

from trading.demo import BUYER, SELLER, demo_market_tick
from trading.models import Order, Trade


def test_the_demo_market_keeps_quotes_on_both_sides(users, produce):
    rng = random.Random(7)
    placed = demo_market_tick(rng)
    produce()

    assert placed == 6  # a sell and a buy for each of the next three slots
    owners = set(Order.objects.values_list("owner", flat=True))
    assert owners == {users[SELLER].wallet.address, users[BUYER].wallet.address}


def test_the_demo_market_stops_quoting_a_full_slot(users, produce):
    rng = random.Random(11)
    for _ in range(8):
        demo_market_tick(rng)
        produce()
    open_per_slot = {}
    for order in Order.objects.exclude(open_slot_ms=0):
        key = (order.owner, order.open_slot_ms)
        open_per_slot[key] = open_per_slot.get(key, 0) + 1
    assert max(open_per_slot.values()) <= 6
    assert Trade.objects.exists()  # some quotes cross over the East-Bangkok path
