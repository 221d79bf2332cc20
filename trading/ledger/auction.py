"""The call auction: a zone's delivery slot clears once, at gate closure, at one price.

Governance chooses the market of each zone (a ``market_mode`` proposal sets the
``call_auction_zones`` parameter). In a call-auction zone an arriving order does
not meet the book: it waits in the call of its zone and slot. The first block at
or after the slot's gate closure clears every such call before the gate closes
what is left (trading.ledger.orders), by these rules (docs/PROTOCOL.md, "Call
auction"):

- bids in priority order: the highest price first, then the earliest placed;
  asks: the lowest price first, then the earliest;
- the best bid left meets the best ask left while the bid's price is at least
  the ask's, and each meeting is for the smaller of the two remainders: the
  volume is the most that can trade at one price;
- the price, one for every fill, is the midpoint (rounded down) of the prices at
  which that volume clears and no order left out would trade: from the higher of
  the last ask that met and the first bid left out, to the lower of the last bid
  that met and the first ask left out;
- a bid and an ask of one account that meet trade nothing (no self-trade): both
  keep that volume, and the gate closes it;
- a fill of w Wh pays floor(w * price / 1000) to the seller at settlement, like
  any trade; the buy's escrow beyond that comes back. A call is one zone: no
  route and no wheeling fee.

An order that names its counterparty, or a buy that takes only some sources,
cannot join a call: the call clears by price alone.

``uniform_clearing`` is the pure rule; ``clear_due_calls`` is the block-start hook.
"""

from collections import defaultdict
from dataclasses import dataclass

from chain.ledger.block import BeginBlockHook
from chain.ledger.kinds import BlockContext
from chain.ledger.state import Account, State

from .matching import filled_order, record_trade
from .records import CallClearing, Order, updated
from .rules import BUY, buy_lock_units, rules_of, value_units

CALL = "call"


@dataclass(frozen=True, slots=True)
class Clearing:
    """A call's outcome: the price (0 when nothing met), what met, and the fills (bid, ask, Wh)."""

    price_per_kwh: int
    matched_wh: int
    fills: list[tuple[Order, Order, int]]


def uniform_clearing(bids: list[Order], asks: list[Order]) -> Clearing:
    """Clear one call; ``bids`` and ``asks`` are its open orders in any order.

    Anything with an order's priority fields will do: the trading page passes price
    levels standing for the orders, which clear at the same price and volume.
    """
    bids = sorted(bids, key=lambda o: (-o.price_per_kwh, o.placed_height, o.seq))
    asks = sorted(asks, key=lambda o: (o.price_per_kwh, o.placed_height, o.seq))
    fills = []
    i = j = matched = 0
    bid_left = bids[0].remaining_wh if bids else 0
    ask_left = asks[0].remaining_wh if asks else 0
    last = None
    while i < len(bids) and j < len(asks) and bids[i].price_per_kwh >= asks[j].price_per_kwh:
        bid, ask = bids[i], asks[j]
        energy_wh = min(bid_left, ask_left)
        matched += energy_wh
        last = (bid.price_per_kwh, ask.price_per_kwh)
        if bid.owner != ask.owner:
            fills.append((bid, ask, energy_wh))
        bid_left -= energy_wh
        ask_left -= energy_wh
        if not bid_left:
            i += 1
            bid_left = bids[i].remaining_wh if i < len(bids) else 0
        if not ask_left:
            j += 1
            ask_left = asks[j].remaining_wh if j < len(asks) else 0
    if last is None:
        return Clearing(0, 0, [])
    last_bid, last_ask = last
    low = max(last_ask, bids[i].price_per_kwh) if i < len(bids) else last_ask
    high = min(last_bid, asks[j].price_per_kwh) if j < len(asks) else last_bid
    return Clearing((low + high) // 2, matched, fills)


def due_calls(state: State, timestamp_ms: int, params: dict) -> dict[tuple[int, str], list[Order]]:
    """Open orders of call-auction zones whose gate has closed, by (slot, zone)."""
    rules = rules_of(params)
    calls = defaultdict(list)
    if rules.call_auction_zones:
        for order in state.scan(Order.table, "open_slot_ms", 1, timestamp_ms + rules.gate_closure_ms):
            if order.zone in rules.call_auction_zones:
                calls[(order.delivery_slot_ms, order.zone)].append(order)
    return calls


def clear_due_calls(state: State, ctx: BlockContext) -> None:
    """Block start: clear each call whose gate has closed; the gate then closes what is left."""
    rules = rules_of(ctx.params)
    calls = due_calls(state, ctx.timestamp_ms, ctx.params)
    state.prefetch(Account.table, {o.owner for orders in calls.values() for o in orders})
    for (slot_ms, zone), orders in sorted(calls.items()):
        bids = [o for o in orders if o.side == BUY]
        asks = [o for o in orders if o.side != BUY]
        clearing = uniform_clearing(bids, asks)
        price = clearing.price_per_kwh
        filled_wh: dict[str, int] = defaultdict(int)
        paid_units: dict[str, int] = defaultdict(int)
        for bid, ask, energy_wh in clearing.fills:
            paid = value_units(energy_wh, price)
            for order in (bid, ask):
                filled_wh[order.order_id] += energy_wh
                paid_units[order.order_id] += paid
            trade_id = f"{bid.order_id[:32]}{ask.order_id[:32]}"
            record_trade(state, ctx, rules, bid, ask, trade_id, CALL, energy_wh, price, paid, 0, None)
        for order in orders:
            if order.order_id in filled_wh:
                _fill(state, ctx, order, filled_wh[order.order_id], paid_units[order.order_id])
        volume_wh = sum(energy_wh for _, _, energy_wh in clearing.fills)
        state.put(
            CallClearing(
                clearing_id=CallClearing.id_of(slot_ms, zone),
                delivery_slot_ms=slot_ms,
                zone=zone,
                height=ctx.height,
                price_per_kwh=price,
                volume_wh=volume_wh,
                fills=len(clearing.fills),
                bids=len(bids),
                asks=len(asks),
                bid_wh=sum(o.remaining_wh for o in bids),
                ask_wh=sum(o.remaining_wh for o in asks),
            )
        )
        ctx.emit(
            "call_cleared",
            delivery_slot_ms=slot_ms,
            zone=zone,
            price_per_kwh=price,
            volume_wh=volume_wh,
            fills=len(clearing.fills),
            parties=[],
        )


def _fill(state: State, ctx: BlockContext, order: Order, energy_wh: int, paid: int) -> None:
    """``order`` filled by ``energy_wh`` for ``paid`` units in all; its account moves with it."""
    left = order.remaining_wh - energy_wh
    account = state.account(order.owner)
    if order.side == BUY:
        lock = buy_lock_units(left, order.price_per_kwh, order.max_fee_per_kwh)
        released = order.escrow_tokens - lock
        state.put(filled_order(order, ctx.height, remaining_wh=left, escrow_tokens=lock))
        account = updated(
            account,
            escrow_tokens=account.escrow_tokens - released,
            balance=account.balance + released - paid,
            escrow_wh=account.escrow_wh + energy_wh,  # held until settlement
        )
    else:
        state.put(filled_order(order, ctx.height, remaining_wh=left))
        account = updated(
            account,
            escrow_wh=account.escrow_wh - energy_wh,
            escrow_tokens=account.escrow_tokens + paid,  # held until settlement
        )
    state.put(account)


#: No ``due`` of its own: a call's orders are open orders past their gate, for which
#: trading.close_due_orders already asks for a block.
CLEAR_DUE_CALLS = BeginBlockHook("trading.clear_due_calls", clear_due_calls)
