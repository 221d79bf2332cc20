"""The demo market: two demo accounts keep a small, live order book going.

Bangkok Community Solar quotes solar sells in Bangkok; Rayong Factory bids
from the East (the East-Bangkok path carries their trades, paying its
wheeling fee). Some quotes cross, so the trade tape moves. Only `make run`
turns this on (GTX_DEMO_MARKET=1); it never runs on a real network.
"""

import logging
import random

from chain.ledger.errors import Refused
from chain.models import Wallet
from trading import selectors
from trading.models import Order
from trading.services import order_place

log = logging.getLogger(__name__)

SELLER, SELLER_ZONE = "bkk_community_solar", "bangkok"
BUYER, BUYER_ZONE = "factory_rayong", "east"
MAX_OPEN_PER_SLOT = 6
SLOTS = 3


def demo_market_tick(rng: random.Random | None = None) -> int:
    """Place a few quotes for the next open slots; returns how many were admitted."""
    rng = rng or random.Random()
    wallets = {
        w.user.username: w
        for w in Wallet.objects.select_related("user").filter(user__username__in=[SELLER, BUYER])
    }
    if len(wallets) < 2:
        return 0
    placed = 0
    for slot in selectors.slots_open(count=SLOTS):
        for username, side, zone, low, high in (
            (SELLER, "sell", SELLER_ZONE, 3_300_000, 4_000_000),
            (BUYER, "buy", BUYER_ZONE, 3_000_000, 3_700_000),
        ):
            wallet = wallets[username]
            if Order.objects.filter(owner=wallet.address, open_slot_ms=slot).count() >= MAX_OPEN_PER_SLOT:
                continue
            price = rng.randrange(low, high + 1, 50_000)
            extra = {"source": "solar"} if side == "sell" else {"sources": "any"}
            try:
                order_place(
                    wallet=wallet,
                    side=side,
                    energy_wh=rng.randrange(5, 41) * 1000,
                    price_per_kwh=price,
                    zone=zone,
                    delivery_slot=slot,
                    **extra,
                )
                placed += 1
            except Refused as exc:
                log.info("demo market: %s skipped a quote: %s", username, exc.message)
    return placed
