"""The continuous double auction of one delivery slot, inside block application.

Price-time priority: an arriving order meets the best opposite order first
(lowest ask for a buy, highest bid for a sell; the earlier one at equal price)
and trades at the resting order's price. Partial fills; an account never
trades with itself; a buy only takes the sources it accepts; a fill between two
zones needs a direct transmission path with free capacity in the slot and pays
its wheeling fee. An order that cannot trade for any of these reasons is
skipped, never fails the arriving order.

Plain integer Python, the same on every site. The book index lives in the
block's scratch memory and is rebuilt from the state (a range read of open
orders) the first time a block touches the slot.
"""

from bisect import insort

from chain.ledger.kinds import BlockContext
from chain.ledger.state import Account, State

from .records import FILLED, OPEN, LineUsage, Order, Trade, field_names, updated
from .rules import BUY, RENEWABLE_SOURCES, MarketRules, buy_lock_units, value_units

BOOKS = "trading.books"
TRADE_SEQ = "trading.trade_seq"


class SlotBook:
    """Open orders of one slot as sorted entries (price key, placed_height, seq, order_id).

    Sells ascend by price, buys by negated price, so index 0 is the best. An entry
    may outlive its order (cancelled or expired earlier in the block): the matcher
    checks each against the state and drops the ones no longer open.
    """

    __slots__ = ("buys", "sells")

    def __init__(self, orders: list[Order]) -> None:
        self.buys: list[tuple] = []
        self.sells: list[tuple] = []
        for order in orders:
            if order.status == OPEN:
                self.add(order)
        self.buys.sort()
        self.sells.sort()

    def add(self, order: Order) -> None:
        if order.side == BUY:
            insort(self.buys, (-order.price_per_kwh, order.placed_height, order.seq, order.order_id))
        else:
            insort(self.sells, (order.price_per_kwh, order.placed_height, order.seq, order.order_id))


def slot_book(state: State, ctx: BlockContext, slot_ms: int) -> SlotBook:
    books = ctx.scratch.setdefault(BOOKS, {})
    book = books.get(slot_ms)
    if book is None:
        orders = state.scan(Order.table, "open_slot_ms", slot_ms, slot_ms)
        state.prefetch(Account.table, {o.owner for o in orders})
        book = books[slot_ms] = SlotBook(orders)
    return book


def match(state: State, ctx: BlockContext, rules: MarketRules, taker: Order) -> Order:
    """Fill ``taker`` against its slot's book as far as it goes; returns the taker after.

    The caller has checked and escrowed the taker; nothing here can fail, so the
    book index never disagrees with a rolled-back state.
    """
    book = slot_book(state, ctx, taker.delivery_slot_ms)
    is_buy = taker.side == BUY
    makers = book.sells if is_buy else book.buys
    limit_key = taker.price_per_kwh if is_buy else -taker.price_per_kwh
    i = 0
    while taker.remaining_wh and i < len(makers):
        entry = makers[i]
        if entry[0] > limit_key:
            break  # the best remaining order does not cross
        maker = state.get(Order.table, entry[3])
        if maker is None or maker.status != OPEN:
            del makers[i]
            continue
        buy, sell = (taker, maker) if is_buy else (maker, taker)
        if maker.owner == taker.owner or not buy.accepts_source(sell.source):
            i += 1
            continue
        energy_wh = min(taker.remaining_wh, maker.remaining_wh)
        fee_per_kwh = 0
        if buy.zone != sell.zone:
            path = rules.path_between(buy.zone, sell.zone)
            if path is None:
                i += 1
                continue
            usage_id = LineUsage.id_of(taker.delivery_slot_ms, path.zone_a, path.zone_b)
            usage = state.get(LineUsage.table, usage_id) or LineUsage(
                usage_id, taker.delivery_slot_ms, path.zone_a, path.zone_b, 0, path.capacity_wh_per_slot
            )
            free_wh = usage.capacity_wh - usage.used_wh
            if free_wh <= 0:
                i += 1
                continue
            energy_wh = min(energy_wh, free_wh)
            fee_per_kwh = path.wheeling_fee_per_kwh
            state.put(updated(usage, used_wh=usage.used_wh + energy_wh))
        buy, sell = settle(
            state, ctx, rules, buy, sell, energy_wh, maker.price_per_kwh, fee_per_kwh, taker.side
        )
        taker, maker = (buy, sell) if is_buy else (sell, buy)
        if maker.remaining_wh:
            i += 1  # the path ran out before the maker did
        else:
            del makers[i]
    if taker.remaining_wh:
        book.add(taker)
    return taker


def settle(
    state: State,
    ctx: BlockContext,
    rules: MarketRules,
    buy: Order,
    sell: Order,
    energy_wh: int,
    price_per_kwh: int,
    fee_per_kwh: int,
    taker_side: str,
) -> tuple[Order, Order]:
    """Move ``energy_wh`` from the sell's escrow to the buyer and the tokens the other way."""
    paid = value_units(energy_wh, price_per_kwh)
    fee = value_units(energy_wh, fee_per_kwh)
    buy_left = buy.remaining_wh - energy_wh
    buy_escrow = buy_lock_units(buy_left, buy.price_per_kwh, buy.max_fee_per_kwh)
    released = buy.escrow_tokens - buy_escrow
    buy = _after_fill(updated(buy, remaining_wh=buy_left, escrow_tokens=buy_escrow), ctx.height)
    sell = _after_fill(updated(sell, remaining_wh=sell.remaining_wh - energy_wh), ctx.height)
    state.put(buy)
    state.put(sell)

    buyer = state.account(buy.owner)
    state.put(
        updated(
            buyer,
            escrow_tokens=buyer.escrow_tokens - released,
            balance=buyer.balance + released - paid - fee,
            energy_wh=buyer.energy_wh + energy_wh,
        )
    )
    seller = state.account(sell.owner)
    state.put(updated(seller, escrow_wh=seller.escrow_wh - energy_wh, balance=seller.balance + paid))
    if fee:
        operator = state.account(rules.grid_operator)
        state.put(updated(operator, balance=operator.balance + fee))

    renewable = sell.source in RENEWABLE_SOURCES
    carbon_g = value_units(energy_wh, rules.carbon_g_per_kwh[buy.zone]) if renewable else 0
    ctx.energy["traded_wh"] += energy_wh
    if renewable:
        ctx.energy["renewable_wh"] += energy_wh
        ctx.energy["carbon_credits_g"] += carbon_g
    seq = ctx.scratch[TRADE_SEQ] = ctx.scratch.get(TRADE_SEQ, -1) + 1
    taker_id, maker_id = (buy.order_id, sell.order_id) if taker_side == BUY else (sell.order_id, buy.order_id)
    trade = Trade(
        trade_id=f"{taker_id[:32]}{maker_id[:32]}",
        height=ctx.height,
        seq=seq,
        timestamp_ms=ctx.timestamp_ms,
        delivery_slot_ms=buy.delivery_slot_ms,
        buy_order_id=buy.order_id,
        sell_order_id=sell.order_id,
        buyer=buy.owner,
        seller=sell.owner,
        taker_side=taker_side,
        buyer_zone=buy.zone,
        seller_zone=sell.zone,
        source=sell.source,
        energy_wh=energy_wh,
        price_per_kwh=price_per_kwh,
        paid_tokens=paid,
        wheeling_fee_tokens=fee,
        carbon_g=carbon_g,
    )
    state.put(trade)
    parties = sorted({buy.owner, sell.owner, rules.grid_operator} if fee else {buy.owner, sell.owner})
    ctx.emit("trade", **{name: getattr(trade, name) for name in field_names(Trade)}, parties=parties)
    return buy, sell


def _after_fill(order: Order, height: int) -> Order:
    if order.remaining_wh:
        return order
    return updated(order, status=FILLED, closed_height=height, open_slot_ms=0, open_expires_ms=0)
