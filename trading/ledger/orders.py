"""Order kinds (order_place, order_cancel) and the block-start sweep of closed orders.

Escrow moves between an account's free and locked amounts only: a buy moves
tokens from ``balance`` to ``escrow_tokens``, a sell moves Wh from ``energy_wh``
to ``escrow_wh``. Whatever an order stops needing (cancel, expiry, gate closure,
price improvement) goes back to the unit.
"""

from chain.ledger import errors
from chain.ledger.block import BeginBlockHook
from chain.ledger.errors import LedgerError
from chain.ledger.kinds import BlockContext, TxKind, release_matured_unbonding
from chain.ledger.state import Account, State
from chain.ledger.tx import Transaction

from . import rules as r
from .matching import forget_order, match
from .records import CANCELLED, EXPIRED, GATE_CLOSED, OPEN, CallOrders, Order, updated

ORDER_SEQ = "trading.order_seq"


def _apply_place(state: State, tx: Transaction, ctx: BlockContext) -> None:
    open_order(state, ctx, order_id=tx.hash, owner=tx.sender, payload=tx.payload)


def open_order(state: State, ctx: BlockContext, *, order_id: str, owner: str, payload: dict) -> Order:
    """Place ``owner``'s order of a checked order_place ``payload``: the block's checks, the
    escrow, matching, the event. Every refusal comes before anything is written."""
    rules = r.rules_of(ctx.params)
    counterparty = r.counterparty_of(payload)
    if counterparty == owner:
        raise LedgerError(
            r.SELF_COUNTERPARTY, "An order cannot name its own account as the only one it trades with."
        )
    if payload["zone"] in rules.call_auction_zones and (counterparty or r.restricts_sources(payload)):
        raise LedgerError(
            r.NOT_IN_CALL,
            "%(zone)s clears by call auction, by price alone: an order there cannot name "
            "its counterparty or choose sources.",
            {"zone": payload["zone"]},
        )
    slot = payload["delivery_slot"]
    if slot - rules.gate_closure_ms <= ctx.timestamp_ms:
        raise LedgerError(
            r.SLOT_CLOSED,
            "The delivery slot is closed for orders: its gate closes %(minutes)s minutes before it starts.",
            {"minutes": rules.gate_closure_ms // r.MS_PER_MINUTE},
        )
    if slot > ctx.timestamp_ms + rules.horizon_ms:
        raise LedgerError(
            r.BAD_SLOT,
            "The delivery slot is more than %(minutes)s minutes ahead.",
            {"minutes": rules.horizon_ms // r.MS_PER_MINUTE},
        )
    expires_ms = payload.get("expires_ms", 0)
    if expires_ms and expires_ms <= ctx.timestamp_ms:
        raise LedgerError(r.BAD_EXPIRY, "expires_ms is already past.")
    if state.get(Order.table, order_id) is not None:
        raise LedgerError(errors.DUPLICATE, "An order with this id already exists.")
    zone, call = payload["zone"], None
    if zone in rules.call_auction_zones:
        call_id = CallOrders.id_of(slot, zone)
        call = state.get(CallOrders.table, call_id) or CallOrders(call_id, slot, zone, 0)
        if call.placed >= rules.max_call_orders:
            raise LedgerError(
                r.CALL_FULL,
                "The call of %(zone)s for this slot has taken its %(count)s orders.",
                {"zone": zone, "count": rules.max_call_orders},
            )

    side, energy_wh, price = payload["side"], payload["energy_wh"], payload["price_per_kwh"]
    account = release_matured_unbonding(state.account(owner), ctx.height)
    if side == r.BUY:
        max_fee = rules.max_fee_per_kwh[zone]
        lock = r.buy_lock_units(energy_wh, price, max_fee)
        if account.balance < lock:
            raise LedgerError(
                errors.INSUFFICIENT_FUNDS,
                "The order locks %(lock)s units (energy at the limit price plus the dearest "
                "wheeling fee from %(zone)s); the balance is %(balance)s.",
                {"lock": lock, "zone": zone, "balance": account.balance},
            )
        account = updated(account, balance=account.balance - lock, escrow_tokens=account.escrow_tokens + lock)
        source, accepts = "", r.accepted_sources(payload["sources"])
    else:
        if account.energy_wh < energy_wh:
            raise LedgerError(
                r.INSUFFICIENT_ENERGY,
                "The order sells %(wh)s Wh but only %(available)s Wh are available.",
                {"wh": energy_wh, "available": account.energy_wh},
            )
        account = updated(
            account, energy_wh=account.energy_wh - energy_wh, escrow_wh=account.escrow_wh + energy_wh
        )
        max_fee, lock, source, accepts = 0, 0, payload["source"], ""
    state.put(account)

    seq = ctx.scratch[ORDER_SEQ] = ctx.scratch.get(ORDER_SEQ, -1) + 1
    order = Order(
        order_id=order_id,
        owner=owner,
        side=side,
        zone=zone,
        delivery_slot_ms=slot,
        price_per_kwh=price,
        energy_wh=energy_wh,
        remaining_wh=energy_wh,
        source=source,
        accepts=accepts,
        counterparty=counterparty,
        max_fee_per_kwh=max_fee,
        escrow_tokens=lock,
        status=OPEN,
        placed_height=ctx.height,
        seq=seq,
        placed_ms=ctx.timestamp_ms,
        expires_ms=expires_ms,
        closed_height=0,
        open_slot_ms=slot,
        open_expires_ms=expires_ms,
    )
    if call is None:
        order = match(state, ctx, rules, order)
    else:
        state.put(updated(call, placed=call.placed + 1))
    state.put(order)
    # After its trades, so remaining_wh and status say what rests on the book.
    ctx.emit("order_placed", **_order_event(order), parties=[order.owner])
    return order


def _apply_cancel(state: State, tx: Transaction, ctx: BlockContext) -> None:
    order = state.get(Order.table, tx.payload["order_id"])
    if order is None:
        raise LedgerError(r.ORDER_NOT_FOUND, "There is no order with this id.")
    if order.owner != tx.sender:
        raise LedgerError(errors.NOT_PERMITTED, "Only the account that placed an order can cancel it.")
    if order.status != OPEN:
        raise LedgerError(
            r.ORDER_CLOSED, "The order is already %(status)s.", {"status": order.status.replace("_", " ")}
        )
    close_order(state, ctx, order, CANCELLED)


def close_order(state: State, ctx: BlockContext, order: Order, status: str) -> Order:
    """Take an open order off the book and give back everything it still locks."""
    account = state.account(order.owner)
    if order.side == r.BUY:
        account = updated(
            account,
            balance=account.balance + order.escrow_tokens,
            escrow_tokens=account.escrow_tokens - order.escrow_tokens,
        )
    else:
        account = updated(
            account,
            energy_wh=account.energy_wh + order.remaining_wh,
            escrow_wh=account.escrow_wh - order.remaining_wh,
        )
    state.put(account)
    order = updated(
        order, status=status, escrow_tokens=0, closed_height=ctx.height, open_slot_ms=0, open_expires_ms=0
    )
    state.put(order)
    forget_order(ctx, order)
    ctx.emit("order_cancelled", **_order_event(order), parties=[order.owner])
    return order


def close_due_orders(state: State, ctx: BlockContext) -> None:
    """Block start: close open orders whose slot's gate has closed or whose expiry passed."""
    rules = r.rules_of(ctx.params)
    gate_closed = state.scan(Order.table, "open_slot_ms", 1, ctx.timestamp_ms + rules.gate_closure_ms)
    expired = state.scan(Order.table, "open_expires_ms", 1, ctx.timestamp_ms)
    state.prefetch(Account.table, {o.owner for o in gate_closed + expired})
    for order in gate_closed:
        close_order(state, ctx, order, GATE_CLOSED)
    for order in expired:
        current = state.get(Order.table, order.order_id)
        if current.status == OPEN:
            close_order(state, ctx, current, EXPIRED)


def _order_event(order: Order) -> dict:
    return {
        "order_id": order.order_id,
        "owner": order.owner,
        "side": order.side,
        "zone": order.zone,
        "delivery_slot_ms": order.delivery_slot_ms,
        "price_per_kwh": order.price_per_kwh,
        "energy_wh": order.energy_wh,
        "remaining_wh": order.remaining_wh,
        "source": order.source,
        "accepts": order.accepts,
        "counterparty": order.counterparty,
        "status": order.status,
    }


ORDER_PLACE = TxKind(
    name="order_place",
    check_payload=r.check_place_payload,
    prefetch=lambda tx: {Account.table: [tx.sender], Order.table: [tx.hash]},
    apply=_apply_place,
    token_debit=r.place_token_debit,
    energy_debit=r.place_energy_debit,
)
ORDER_CANCEL = TxKind(
    name="order_cancel",
    check_payload=r.check_cancel_payload,
    prefetch=lambda tx: {Account.table: [tx.sender], Order.table: [tx.payload["order_id"]]},
    apply=_apply_cancel,
)


def orders_due_from(store, params: dict) -> int | None:
    """When the first open order's gate closes or its expiry passes: its escrow waits for a block."""
    slot = store.lowest(Order.table, "open_slot_ms", 1)
    gate_closes = None if slot is None else slot - r.rules_of(params).gate_closure_ms
    expires = store.lowest(Order.table, "open_expires_ms", 1)
    return min((t for t in (gate_closes, expires) if t is not None), default=None)


CLOSE_DUE_ORDERS = BeginBlockHook("trading.close_due_orders", close_due_orders, due_from=orders_due_from)
