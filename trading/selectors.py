"""The market's read path: order book depth, orders, fills, trades, overview, prices.

Everything the trading page, the REST API and the market stream show comes
from here. Amounts stay integers (units of 10^-6 token, Wh, units per kWh);
templates format them.
"""

import time
from dataclasses import dataclass

from django.db.models import Count, F, Max, Q, Sum

from chain.models import ChainHead
from trading.ledger.auction import uniform_clearing
from trading.ledger.book import Book
from trading.ledger.rules import MarketRules, rules_of
from trading.models import Agreement, CallClearing, LineUsage, Order, OrderStatus, Side, Trade

MAX_LIMIT = 500


def market_rules() -> MarketRules:
    return rules_of(ChainHead.objects.only("params").get().params)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def slots_open(*, count: int = 8, now_ms: int | None = None) -> list[int]:
    """The next ``count`` delivery slots (Unix ms) that still take orders."""
    rules = market_rules()
    first = rules.first_open_slot_ms(_now_ms() if now_ms is None else now_ms)
    return [first + i * rules.slot_ms for i in range(count)]


def order_book_depth(*, slot_ms: int, zone: str | None = None, levels: int = 20) -> dict:
    """Open orders of a slot (and zone) aggregated by price: best first on each side.

    Each level: price_per_kwh, energy_wh (remaining, summed) and the number of orders.
    The levels hold the orders anyone may trade with; ``deals`` lists the private deals
    (orders that name their counterparty), at most ``levels`` per side, best first.
    """
    open_orders = Order.objects.filter(open_slot_ms=slot_ms)
    if zone:
        open_orders = open_orders.filter(zone=zone)
    deals = open_orders.exclude(counterparty="").values(
        "order_id", "side", "price_per_kwh", "remaining_wh", "owner", "counterparty"
    )
    open_orders = open_orders.filter(counterparty="")
    grouped = open_orders.values("side", "price_per_kwh").annotate(
        energy_wh=Sum("remaining_wh"), orders=Count("order_id")
    )
    bids = grouped.filter(side=Side.BUY).order_by("-price_per_kwh")[:levels]
    asks = grouped.filter(side=Side.SELL).order_by("price_per_kwh")[:levels]

    def levels_of(rows):
        return [
            {"price_per_kwh": r["price_per_kwh"], "energy_wh": r["energy_wh"], "orders": r["orders"]}
            for r in rows
        ]

    return {
        "slot_ms": slot_ms,
        "zone": zone,
        "bids": levels_of(bids),
        "asks": levels_of(asks),
        "deals": [
            *deals.filter(side=Side.SELL).order_by("price_per_kwh", "placed_height", "seq")[:levels],
            *deals.filter(side=Side.BUY).order_by("-price_per_kwh", "placed_height", "seq")[:levels],
        ],
    }


def asks_reachable(*, slot_ms: int, zone: str, rules: MarketRules, levels: int = 20) -> list[dict]:
    """Asks of other zones a buy in ``zone`` could take now: the route the matcher would use.

    Private deals are left out: only the account each names may take it.

    Per (seller zone, price) level, cheapest delivered first: the first route
    from the seller's zone with room on every path after this slot's recorded
    line usage (as trading.ledger.book picks it), its wheeling fees per kWh and
    the delivered price (price + fees). The grid operator's limits and a
    frequency pause are the grid's and are not applied here: the fill may still
    take a dearer route or none.
    """
    free = {key: path.capacity_wh_per_slot for key, path in rules.paths.items()}
    for usage in LineUsage.objects.filter(delivery_slot_ms=slot_ms):
        free[(usage.zone_a, usage.zone_b)] = usage.capacity_wh - usage.used_wh
    book = Book(rules.routes, free)
    if zone in rules.call_auction_zones:
        return []  # a call is one zone (trading.ledger.auction)
    grouped = (
        Order.objects.filter(open_slot_ms=slot_ms, side=Side.SELL, counterparty="")
        .exclude(zone=zone)
        .exclude(zone__in=rules.call_auction_zones)
        .values("zone", "price_per_kwh")
        .annotate(energy_wh=Sum("remaining_wh"), orders=Count("order_id"))
        .order_by("price_per_kwh", "zone")[:MAX_LIMIT]
    )
    rows = []
    for level in grouped:
        route, _room = book.open_route(level["zone"], zone)
        if route is not None:
            fee = route.fee_per_kwh
            rows.append(
                level
                | {
                    "route": route.zones,
                    "fee_per_kwh": fee,
                    "delivered_per_kwh": level["price_per_kwh"] + fee,
                }
            )
    rows.sort(key=lambda row: (row["delivered_per_kwh"], row["price_per_kwh"], row["zone"]))
    return rows[:levels]


@dataclass(frozen=True)
class _Level:
    """A price level of one side of a call, as uniform_clearing reads an order."""

    order_id: str
    owner: str
    price_per_kwh: int
    remaining_wh: int
    placed_height: int = 0
    seq: int = 0


def call_of(*, slot_ms: int, zone: str, rules: MarketRules) -> dict | None:
    """A call-auction zone's call for ``slot_ms``: how it cleared, else how it would clear now.

    None for a zone that matches continuously and has no clearing for the slot. While
    the call is open, ``indicative_price`` and ``indicative_wh`` are what the auction
    rule gives the orders waiting now (0 when no bid meets an ask); levels stand for
    orders, which gives the same price and volume (trading.ledger.auction).
    """
    cleared = CallClearing.objects.filter(delivery_slot_ms=slot_ms, zone=zone).first()
    if cleared is None and zone not in rules.call_auction_zones:
        return None
    call = {
        "gate_ms": slot_ms - rules.gate_closure_ms,
        "cleared": cleared,
        "indicative_price": None,
        "indicative_wh": None,
    }
    if cleared is None:
        grouped = (
            Order.objects.filter(open_slot_ms=slot_ms, zone=zone)
            .values("side", "price_per_kwh")
            .annotate(energy_wh=Sum("remaining_wh"))
        )
        sides = {Side.BUY: [], Side.SELL: []}
        for level in grouped:
            key = f"{level['side']}:{level['price_per_kwh']}"
            sides[level["side"]].append(_Level(key, key, level["price_per_kwh"], level["energy_wh"]))
        clearing = uniform_clearing(sides[Side.BUY], sides[Side.SELL])
        call.update(indicative_price=clearing.price_per_kwh, indicative_wh=clearing.matched_wh)
    return call


def agreements_of(*, address: str, limit: int = 100):
    """The standing agreements ``address`` is a party to, newest first."""
    return Agreement.objects.filter(Q(seller=address) | Q(buyer=address)).order_by("-created_height")[:limit]


def orders_of(*, address: str, status: str | None = None, limit: int = 100):
    """An account's orders, newest first; ``status`` "open" for the ones still on the book."""
    orders = Order.objects.filter(owner=address)
    if status:
        orders = orders.filter(status=status)
    return orders.order_by("-placed_height", "-seq")[: min(limit, MAX_LIMIT)]


def orders_open_of(*, address: str, limit: int = 100):
    return orders_of(address=address, status=OrderStatus.OPEN, limit=limit)


def deals_offered_to(*, address: str, limit: int = 100):
    """Open private deals that name ``address`` as the only account they trade with, soonest slot first."""
    deals = Order.objects.filter(counterparty=address, open_slot_ms__gt=0)
    return deals.order_by("delivery_slot_ms", "placed_height", "seq")[: min(limit, MAX_LIMIT)]


def order_find(*, order_id: str) -> Order | None:
    return Order.objects.filter(order_id=order_id).first()


def trades_recent(
    *, slot_ms: int | None = None, zone: str | None = None, account: str | None = None, limit: int = 50
):
    """Trades newest first. ``zone`` matches either side's zone, ``account`` either party."""
    trades = Trade.objects.all()
    if slot_ms is not None:
        trades = trades.filter(delivery_slot_ms=slot_ms)
    if zone:
        trades = trades.filter(Q(buyer_zone=zone) | Q(seller_zone=zone))
    if account:
        trades = trades.filter(Q(buyer=account) | Q(seller=account))
    return trades.order_by("-height", "-seq")[: min(limit, MAX_LIMIT)]


def fills_of(*, address: str, limit: int = 50):
    """An account's fills as buyer or seller, newest first."""
    return trades_recent(account=address, limit=limit)


def account_market_totals(*, address: str) -> dict:
    """What an account earned and spent on the market, and its carbon credits (g CO2 avoided).

    A sale earns only once its slot is settled, and only for what the seller's meters
    delivered; until then its proceeds are held. A purchase costs its price and fee less
    the refund of any shortfall.
    """
    settled = Q(settled_height__gt=0)
    sold = Trade.objects.filter(seller=address).aggregate(
        wh=Sum("energy_wh"),
        delivered_wh=Sum("delivered_wh", filter=settled),
        earned=Sum(F("paid_tokens") - F("refund_tokens"), filter=settled),
        held=Sum("paid_tokens", filter=~settled),
    )
    bought = Trade.objects.filter(buyer=address).aggregate(
        wh=Sum("energy_wh"),
        tokens=Sum("paid_tokens"),
        fees=Sum("wheeling_fee_tokens"),
        refunds=Sum("refund_tokens"),
        carbon_g=Sum("carbon_g"),
        renewable_wh=Sum("energy_wh", filter=~Q(source="grid")),
    )
    return {
        "sold_wh": sold["wh"] or 0,
        "sold_delivered_wh": sold["delivered_wh"] or 0,
        "earned_tokens": sold["earned"] or 0,
        "held_tokens": sold["held"] or 0,
        "bought_wh": bought["wh"] or 0,
        "spent_tokens": (bought["tokens"] or 0) + (bought["fees"] or 0) - (bought["refunds"] or 0),
        "refunded_tokens": bought["refunds"] or 0,
        "wheeling_fee_tokens": bought["fees"] or 0,
        "renewable_bought_wh": bought["renewable_wh"] or 0,
        "carbon_credits_g": bought["carbon_g"] or 0,
    }


def market_overview(*, now_ms: int | None = None, slots: int = 8) -> dict:
    """Upcoming slots with their open volume and traded volume, and the last price per zone.

    A trade's zone here is the buyer's: where the energy is delivered.
    """
    open_slots = slots_open(count=slots, now_ms=now_ms)
    open_volume = {
        (row["delivery_slot_ms"], row["side"]): row
        for row in Order.objects.filter(open_slot_ms__in=open_slots)
        .values("delivery_slot_ms", "side")
        .annotate(energy_wh=Sum("remaining_wh"), orders=Count("order_id"))
    }
    traded = {
        row["delivery_slot_ms"]: row
        for row in Trade.objects.filter(delivery_slot_ms__in=open_slots)
        .values("delivery_slot_ms")
        .annotate(energy_wh=Sum("energy_wh"), trades=Count("trade_id"), last_height=Max("height"))
    }
    last_prices = {
        slot: price
        for slot, price in Trade.objects.filter(delivery_slot_ms__in=open_slots)
        .order_by("delivery_slot_ms", "-height", "-seq")
        .distinct("delivery_slot_ms")
        .values_list("delivery_slot_ms", "price_per_kwh")
    }
    rows = []
    for slot in open_slots:
        bid = open_volume.get((slot, Side.BUY), {})
        ask = open_volume.get((slot, Side.SELL), {})
        rows.append(
            {
                "slot_ms": slot,
                "bid_wh": bid.get("energy_wh", 0),
                "bid_orders": bid.get("orders", 0),
                "ask_wh": ask.get("energy_wh", 0),
                "ask_orders": ask.get("orders", 0),
                "traded_wh": traded.get(slot, {}).get("energy_wh", 0),
                "trades": traded.get(slot, {}).get("trades", 0),
                "last_price_per_kwh": last_prices.get(slot),
            }
        )
    zones = [
        {"zone": zone, "last_price_per_kwh": price, "last_trade_height": height}
        for zone, price, height in Trade.objects.order_by("buyer_zone", "-height", "-seq")
        .distinct("buyer_zone")
        .values_list("buyer_zone", "price_per_kwh", "height")
    ]
    return {"slots": rows, "zones": zones}


def price_series(*, slot_ms: int, zone: str | None = None, limit: int = MAX_LIMIT) -> list[dict]:
    """Trades of a slot oldest first, as points for a price chart."""
    trades = Trade.objects.filter(delivery_slot_ms=slot_ms)
    if zone:
        trades = trades.filter(Q(buyer_zone=zone) | Q(seller_zone=zone))
    newest = trades.order_by("-height", "-seq").values("timestamp_ms", "price_per_kwh", "energy_wh")[:limit]
    return list(reversed(newest))
