"""The market's part of the GraphQL schema: orders, trades, book depth, overview, prices, new trades.

Same selectors and same values as the REST reads (trading.api); public like them.
"""

from collections.abc import AsyncGenerator
from enum import Enum

import strawberry
from channels.db import database_sync_to_async
from strawberry.types import Info

from chain.api import errors
from chain.graphql import BigInt, address_argument, bounded_limit, chain_blocks, refused
from chain.ledger.keys import is_address
from trading import selectors
from trading.models import OrderStatus as OrderStatusChoices
from trading.models import Trade as TradeRow

OrderStatus = strawberry.enum(
    Enum("OrderStatus", {value.upper(): value for value in OrderStatusChoices.values}),
    description="An order's state.",
)
MAX_BOOK_LEVELS = 100


@strawberry.type(description="An order (GET /api/v1/market/orders/{id}/); its id is the order_place hash.")
class Order:
    order_id: str
    owner: str
    side: str
    zone: str
    delivery_slot_ms: BigInt
    price_per_kwh: BigInt = strawberry.field(description="Units (10^-6 token) per kWh.")
    energy_wh: BigInt
    remaining_wh: BigInt
    source: str
    accepts: str
    counterparty: str = strawberry.field(
        description="The only account the order trades with (a private deal); empty for anyone."
    )
    max_fee_per_kwh: BigInt
    escrow_tokens: BigInt
    status: str
    placed_height: BigInt
    seq: BigInt
    placed_ms: BigInt
    expires_ms: BigInt
    closed_height: BigInt
    open_slot_ms: BigInt
    open_expires_ms: BigInt


@strawberry.type(description="A fill (GET /api/v1/market/trades/): amounts in units, energy in Wh.")
class Trade:
    trade_id: str
    height: BigInt
    seq: BigInt
    timestamp_ms: BigInt
    delivery_slot_ms: BigInt
    buy_order_id: str
    sell_order_id: str
    buyer: str
    seller: str
    taker_side: str = strawberry.field(
        description="buy or sell: the side that took the resting order; call: a call auction cleared both."
    )
    buyer_zone: str
    seller_zone: str
    source: str
    energy_wh: BigInt
    price_per_kwh: BigInt
    paid_tokens: BigInt
    wheeling_fee_tokens: BigInt
    carbon_g: BigInt
    unsettled_slot_ms: BigInt
    delivered_wh: BigInt
    refund_tokens: BigInt
    delivered_carbon_g: BigInt
    settled_height: BigInt
    route: str = strawberry.field(
        description="The zones the energy crossed, seller's first, comma-separated (one zone: within a zone)."
    )


@strawberry.type
class BookLevel:
    price_per_kwh: BigInt
    energy_wh: BigInt = strawberry.field(description="Remaining Wh of the open orders at this price.")
    orders: int


@strawberry.type(description="Open orders of a slot by price level (GET /api/v1/market/book/).")
class OrderBook:
    slot_ms: BigInt
    zone: str | None
    bids: list[BookLevel] = strawberry.field(description="Best (highest) first.")
    asks: list[BookLevel] = strawberry.field(description="Best (lowest) first.")


@strawberry.type
class SlotSummary:
    slot_ms: BigInt
    bid_wh: BigInt
    bid_orders: int
    ask_wh: BigInt
    ask_orders: int
    traded_wh: BigInt
    trades: int
    last_price_per_kwh: BigInt | None


@strawberry.type
class ZonePrice:
    zone: str
    last_price_per_kwh: BigInt
    last_trade_height: BigInt


@strawberry.type(description="GET /api/v1/market/: the next open slots and the last price per buyer zone.")
class MarketOverview:
    slots: list[SlotSummary]
    zones: list[ZonePrice]


@strawberry.type
class PricePoint:
    timestamp_ms: BigInt
    price_per_kwh: BigInt
    energy_wh: BigInt


@strawberry.type(description="A standing agreement (GET /api/v1/market/agreements/; docs/PROTOCOL.md 12.9).")
class Agreement:
    agreement_id: str
    offered_by: str
    seller: str
    buyer: str
    zone: str
    source: str
    energy_wh: BigInt = strawberry.field(description="Wh traded every slot.")
    price_per_kwh: BigInt
    first_slot_ms: BigInt
    last_slot_ms: BigInt
    status: str = strawberry.field(description="offered, active, completed, ended, withdrawn or declined.")
    created_height: BigInt
    accepted_height: BigInt
    closed_height: BigInt
    next_slot_ms: BigInt
    slots_placed: BigInt
    slots_missed: BigInt
    due_ms: BigInt


@strawberry.type(description="How a call auction cleared (the call_clearing record, docs/PROTOCOL.md 12.8).")
class CallClearing:
    clearing_id: str
    delivery_slot_ms: BigInt
    zone: str
    height: BigInt
    price_per_kwh: BigInt = strawberry.field(description="One price for every fill; 0 when nothing met.")
    volume_wh: BigInt
    fills: BigInt
    bids: BigInt
    asks: BigInt
    bid_wh: BigInt
    ask_wh: BigInt


@strawberry.type(
    description="A zone's call auction for a slot (the book's call in GET /api/v1/market/book/)."
)
class Call:
    gate_ms: BigInt = strawberry.field(description="The slot's gate closure: the call clears then.")
    cleared: CallClearing | None
    indicative_price: BigInt | None = strawberry.field(
        description="While open: the price the waiting orders would clear at (0: no bid meets an ask)."
    )
    indicative_wh: BigInt | None


def _slot(slot_ms: int | None) -> int | None:
    if slot_ms is not None and slot_ms % selectors.market_rules().slot_ms:
        raise refused(
            errors.BAD_QUERY, "slot must be a slot start in Unix ms (a multiple of the slot length)."
        )
    return slot_ms


def _zone(zone: str | None) -> str | None:
    if zone is None:
        return None
    zones = selectors.market_rules().carbon_g_per_kwh
    if zone not in zones:
        raise refused(errors.BAD_QUERY, f"zone must be one of: {', '.join(sorted(zones))}.")
    return zone


def _book(depth: dict) -> OrderBook:
    return OrderBook(
        slot_ms=depth["slot_ms"],
        zone=depth["zone"],
        bids=[BookLevel(**level) for level in depth["bids"]],
        asks=[BookLevel(**level) for level in depth["asks"]],
    )


@strawberry.type
class TradingQuery:
    @strawberry.field(description="An account's orders, newest first.")
    def orders(self, account: str, status: OrderStatus | None = None, limit: int = 50) -> list[Order]:
        return list(
            selectors.orders_of(
                address=address_argument(account, "account"),
                status=status.value if status else None,
                limit=bounded_limit(limit, selectors.MAX_LIMIT),
            )
        )

    @strawberry.field(description="An account's standing agreements (seller or buyer), newest first.")
    def agreements(self, account: str, limit: int = 50) -> list[Agreement]:
        return list(
            selectors.agreements_of(
                address=address_argument(account, "account"), limit=bounded_limit(limit, selectors.MAX_LIMIT)
            )
        )

    @strawberry.field(
        description="A zone's call auction for a slot; null when the zone matches continuously."
    )
    def call(self, slot_ms: BigInt, zone: str) -> Call | None:
        found = selectors.call_of(slot_ms=_slot(slot_ms), zone=_zone(zone), rules=selectors.market_rules())
        return None if found is None else Call(**found)

    @strawberry.field(description="One order by id; null while its transaction waits or if none.")
    def order(self, order_id: str) -> Order | None:
        return selectors.order_find(order_id=order_id) if is_address(order_id) else None

    @strawberry.field(description="Trades newest first; zone matches either side, account either party.")
    def trades(
        self,
        slot_ms: BigInt | None = None,
        zone: str | None = None,
        account: str | None = None,
        limit: int = 50,
    ) -> list[Trade]:
        return list(
            selectors.trades_recent(
                slot_ms=_slot(slot_ms),
                zone=_zone(zone),
                account=None if account is None else address_argument(account, "account"),
                limit=bounded_limit(limit, selectors.MAX_LIMIT),
            )
        )

    @strawberry.field(description="Order book depth of a delivery slot, optionally one zone's.")
    def order_book(self, slot_ms: BigInt, zone: str | None = None, levels: int = 20) -> OrderBook:
        bounded_limit(levels, MAX_BOOK_LEVELS, "levels")
        depth = selectors.order_book_depth(slot_ms=_slot(slot_ms), zone=_zone(zone), levels=levels)
        return _book(depth)

    @strawberry.field(description="The next delivery slots still taking orders, and the last price per zone.")
    def market_overview(self) -> MarketOverview:
        overview = selectors.market_overview()
        return MarketOverview(
            slots=[SlotSummary(**slot) for slot in overview["slots"]],
            zones=[ZonePrice(**zone) for zone in overview["zones"]],
        )

    @strawberry.field(description="Trade prices of a delivery slot, oldest first.")
    def prices(self, slot_ms: BigInt, zone: str | None = None) -> list[PricePoint]:
        return [
            PricePoint(**point) for point in selectors.price_series(slot_ms=_slot(slot_ms), zone=_zone(zone))
        ]


def _trade_of(event: dict) -> TradeRow:
    """The trade record a ``trade`` ledger event carries (trading.ledger.matching), not yet settled."""
    return TradeRow(
        **{name: value for name, value in event.items() if name not in ("type", "parties", "route")},
        route=",".join(event["route"]),
    )


@strawberry.type
class TradingSubscription:
    @strawberry.subscription(
        description="Each trade as its block commits, in block order; filtered like ws/market/: "
        "zone matches either side."
    )
    async def trades(
        self, info: Info, slot_ms: BigInt | None = None, zone: str | None = None
    ) -> AsyncGenerator[Trade, None]:
        await database_sync_to_async(lambda: (_slot(slot_ms), _zone(zone)))()
        async for message in chain_blocks(info):
            for event in message["events"]:
                if event["type"] != "trade":
                    continue
                if slot_ms is not None and event["delivery_slot_ms"] != slot_ms:
                    continue
                if zone is not None and zone not in (event["buyer_zone"], event["seller_zone"]):
                    continue
                yield _trade_of(event)
