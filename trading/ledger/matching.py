"""Matching inside block application: the slot's Book from the state, its fills as records.

trading.ledger.book decides who trades with whom (price-time priority, self-trade,
private deals, source preference, path capacity). This module gives it the slot's open orders
and free path capacity after grid limits, read from the state the first time a block touches the
slot and kept in the block's scratch memory, and turns each fill into ledger
changes: the maker's order and account, a Trade record and event, the line usage
of every path on the fill's route and the grid operator's wheeling fee, path by
path (floor(Wh * fee / 1000) per path, see trading.ledger.rules). The taker's order and account change once
per arriving order, by the sum of its fills (the same integers as fill by fill:
a buy's lock after its fills is the lock of what is left).

A fill is a contract for delivery: the seller's proceeds wait in its
``escrow_tokens`` and the bought Wh in the buyer's ``escrow_wh`` until the slot
is settled against the seller's meter readings (settlement.ledger.delivery).

Plain integer Python, the same on every site.
"""

from chain.ledger.kinds import BlockContext
from chain.ledger.state import Account, State

from .book import Book, Resting, parse_accepts
from .records import FILLED, OPEN, LineUsage, Order, Trade, updated
from .rules import BUY, RENEWABLE_SOURCES, SELL, MarketRules, buy_lock_units, value_units

BOOKS = "trading.books"
TRADE_SEQ = "trading.trade_seq"


def resting_of(order: Order) -> Resting:
    accepts = parse_accepts(order.accepts) if order.side == BUY else None
    return Resting(
        order.order_id,
        order.owner,
        order.zone,
        order.price_per_kwh,
        order.remaining_wh,
        order.source,
        accepts,
        order.counterparty,
    )


def slot_book(state: State, ctx: BlockContext, rules: MarketRules, slot_ms: int) -> Book:
    """The slot's book as this block sees it, loaded from the state on first use."""
    books = ctx.scratch.setdefault(BOOKS, {})
    book = books.get(slot_ms)
    if book is None:
        calls = rules.call_auction_zones  # their orders wait for their call (trading.ledger.auction)
        orders = [
            o
            for o in state.scan(Order.table, "open_slot_ms", slot_ms, slot_ms)
            if o.status == OPEN and o.zone not in calls
        ]
        state.prefetch(Account.table, {o.owner for o in orders})
        state.prefetch(LineUsage.table, [LineUsage.id_of(slot_ms, *key) for key in rules.paths])
        free_wh = {key: free_capacity_wh(state, rules, slot_ms, key) for key in rules.paths}
        book = books[slot_ms] = Book(rules.routes, free_wh)
        orders.sort(key=lambda o: (o.placed_height, o.seq))
        for order in orders:
            book.rest(resting_of(order), order.side == BUY)
    return book


#: The installed limits on path capacity from outside the market (the grid operator's,
#: see grid.ledger), applied in order: fn(state, rules, slot_ms, path_key, capacity_wh)
#: -> the capacity fills may use. The protocol module installs them with the kinds.
CAPACITY_LIMITS: list = []


def install_capacity_limits(limits) -> None:
    """Make ``limits`` the ones every fill applies, replacing those installed before."""
    CAPACITY_LIMITS[:] = limits


def free_capacity_wh(state: State, rules: MarketRules, slot_ms: int, key: tuple) -> int:
    """Wh still free for fills on path ``key`` in ``slot_ms``: its capacity after limits, less use."""
    usage = state.get(LineUsage.table, LineUsage.id_of(slot_ms, *key))
    capacity = rules.paths[key].capacity_wh_per_slot if usage is None else usage.capacity_wh
    for limit in CAPACITY_LIMITS:
        capacity = limit(state, rules, slot_ms, key, capacity)
    return max(capacity - (0 if usage is None else usage.used_wh), 0)


def refresh_free_capacity(state: State, ctx: BlockContext, rules: MarketRules) -> None:
    """A limit changed mid-block: the books this block loaded take the new free capacity.

    Call it last in a transaction's apply, once nothing can fail: the books are
    scratch memory and a rollback would not undo the change.
    """
    for slot_ms, book in ctx.scratch.get(BOOKS, {}).items():
        for key in rules.paths:
            book.free_wh[key] = free_capacity_wh(state, rules, slot_ms, key)


def forget_order(ctx: BlockContext, order: Order) -> None:
    """Take a closed order out of its slot's book, if this block has loaded it."""
    book = ctx.scratch.get(BOOKS, {}).get(order.delivery_slot_ms)
    if book is not None:
        book.cancel(order.order_id)


def match(state: State, ctx: BlockContext, rules: MarketRules, taker: Order) -> Order:
    """Fill ``taker`` against its slot's book as far as it goes; returns the taker after.

    The caller has checked and escrowed the taker; nothing here can fail, so the
    book never disagrees with a rolled-back state.
    """
    book = slot_book(state, ctx, rules, taker.delivery_slot_ms)
    is_buy = taker.side == BUY
    fills = book.place(resting_of(taker), is_buy)
    if not fills:
        return taker

    slot_ms, height = taker.delivery_slot_ms, ctx.height
    total_wh = total_paid = total_fee = 0
    for maker_entry, energy_wh, route in fills:
        maker = state.get(Order.table, maker_entry.order_id)
        price = maker.price_per_kwh
        paid = value_units(energy_wh, price)
        fee = 0
        for path_key in route.path_keys if route is not None else ():
            path = rules.paths[path_key]
            fee += value_units(energy_wh, path.wheeling_fee_per_kwh)
            usage_id = LineUsage.id_of(slot_ms, *path_key)
            usage = state.get(LineUsage.table, usage_id)
            if usage is None:
                usage = LineUsage(usage_id, slot_ms, path.zone_a, path.zone_b, 0, path.capacity_wh_per_slot)
            state.put(updated(usage, used_wh=usage.used_wh + energy_wh))
        total_wh += energy_wh
        total_paid += paid
        total_fee += fee

        maker_left = maker.remaining_wh - energy_wh
        account = state.account(maker.owner)
        if is_buy:  # the maker sells
            state.put(filled_order(maker, height, remaining_wh=maker_left))
            state.put(
                updated(
                    account,
                    escrow_wh=account.escrow_wh - energy_wh,
                    escrow_tokens=account.escrow_tokens + paid,  # held until settlement
                )
            )
            buy, sell = taker, maker
        else:  # the maker buys
            escrow = buy_lock_units(maker_left, price, maker.max_fee_per_kwh)
            released = maker.escrow_tokens - escrow
            state.put(filled_order(maker, height, remaining_wh=maker_left, escrow_tokens=escrow))
            state.put(
                updated(
                    account,
                    escrow_tokens=account.escrow_tokens - released,
                    balance=account.balance + released - paid - fee,
                    escrow_wh=account.escrow_wh + energy_wh,  # held until settlement
                )
            )
            buy, sell = maker, taker
        trade_id, taker_side = f"{taker.order_id[:32]}{maker.order_id[:32]}", BUY if is_buy else SELL
        record_trade(state, ctx, rules, buy, sell, trade_id, taker_side, energy_wh, price, paid, fee, route)

    left = taker.remaining_wh - total_wh
    account = state.account(taker.owner)
    if is_buy:
        escrow = buy_lock_units(left, taker.price_per_kwh, taker.max_fee_per_kwh)
        released = taker.escrow_tokens - escrow
        taker = filled_order(taker, height, remaining_wh=left, escrow_tokens=escrow)
        account = updated(
            account,
            escrow_tokens=account.escrow_tokens - released,
            balance=account.balance + released - total_paid - total_fee,
            escrow_wh=account.escrow_wh + total_wh,
        )
    else:
        taker = filled_order(taker, height, remaining_wh=left)
        account = updated(
            account, escrow_wh=account.escrow_wh - total_wh, escrow_tokens=account.escrow_tokens + total_paid
        )
    state.put(account)
    if total_fee:
        operator = state.account(rules.grid_operator)
        state.put(updated(operator, balance=operator.balance + total_fee))
    return taker


def record_trade(
    state: State,
    ctx: BlockContext,
    rules: MarketRules,
    buy: Order,
    sell: Order,
    trade_id: str,
    taker_side: str,
    energy_wh: int,
    price: int,
    paid: int,
    fee: int,
    route,
) -> None:
    """The Trade record of a fill and its ``trade`` event; the block's energy totals grow by it.

    ``trade_id`` is new (it joins the two order ids); ``taker_side`` the side that arrived,
    or ``call`` for a call auction's fill.
    """
    renewable = sell.source in RENEWABLE_SOURCES
    carbon_g = value_units(energy_wh, rules.carbon_g_per_kwh[buy.zone]) if renewable else 0
    energy = ctx.energy
    energy["traded_wh"] += energy_wh
    if renewable:
        energy["renewable_wh"] += energy_wh
        energy["carbon_credits_g"] += carbon_g
    seq = ctx.scratch[TRADE_SEQ] = ctx.scratch.get(TRADE_SEQ, -1) + 1
    fields = {
        "trade_id": trade_id,
        "height": ctx.height,
        "seq": seq,
        "timestamp_ms": ctx.timestamp_ms,
        "delivery_slot_ms": buy.delivery_slot_ms,
        "buy_order_id": buy.order_id,
        "sell_order_id": sell.order_id,
        "buyer": buy.owner,
        "seller": sell.owner,
        "taker_side": taker_side,
        "buyer_zone": buy.zone,
        "seller_zone": sell.zone,
        "source": sell.source,
        "energy_wh": energy_wh,
        "price_per_kwh": price,
        "paid_tokens": paid,
        "wheeling_fee_tokens": fee,
        "carbon_g": carbon_g,
        "unsettled_slot_ms": buy.delivery_slot_ms,
    }
    route_zones = list(route.zones) if route is not None else [sell.zone]
    state.put_new(Trade(**fields, route=",".join(route_zones)))
    parties = sorted({buy.owner, sell.owner, rules.grid_operator} if fee else {buy.owner, sell.owner})
    ctx.emit("trade", **fields, route=route_zones, parties=parties)


def filled_order(order: Order, height: int, **changes) -> Order:
    """``order`` with ``changes``; closed as filled once nothing remains."""
    if not changes["remaining_wh"]:
        changes.update(status=FILLED, closed_height=height, open_slot_ms=0, open_expires_ms=0)
    return updated(order, **changes)
