"""Standing agreements: a buyer and a seller trade the same energy at the same price every slot of a period.

A factory that buys a solar farm's output at a fixed price for a month offers the farm
an agreement (``agreement_offer``, either party may offer); the farm accepts it
(``agreement_accept``); either may end it (``agreement_end``): an offer ended before it
is accepted is ``withdrawn`` (by its offerer) or ``declined`` (by the other party), an
active agreement ``ended``. While it is active, each delivery slot's pair of orders is
placed at the start of the first block at or after one slot before that slot's gate
closes: a sell by the seller and a buy by the buyer, each naming the other (a private
deal, docs/PROTOCOL.md §12.3), of the agreed Wh at the agreed price in the agreed zone.
The buy is placed second and fills against the sell at once, unless a cheaper ask
of the seller's rests; the trade settles against the seller's meters like any other.

A slot whose pair cannot be placed (the seller's free energy or the buyer's free
balance is short, or the block came after the slot's gate) is counted as missed, and
the agreement goes on with the next slot; after its last slot it is ``completed``.
Order ids: sha256 of ``agreement:<agreement id>:<slot ms>:<side>``.
"""

from dataclasses import dataclass, replace
from typing import ClassVar

from chain.ledger import errors
from chain.ledger.block import BeginBlockHook
from chain.ledger.encoding import sha256_hex
from chain.ledger.errors import LedgerError
from chain.ledger.fields import require_hex64
from chain.ledger.kinds import BlockContext, TxKind, release_matured_unbonding
from chain.ledger.state import Account, State
from chain.ledger.tx import Transaction, is_int, require_fields

from . import rules as r
from .orders import open_order

OFFERED, ACTIVE, COMPLETED, ENDED, WITHDRAWN, DECLINED = (
    "offered",
    "active",
    "completed",
    "ended",
    "withdrawn",
    "declined",
)
#: The longest agreement: 31 days of slots.
MAX_PERIOD_MS = 31 * 24 * 3_600_000
AGREEMENT_NOT_FOUND = "agreement_not_found"
AGREEMENT_CLOSED = "agreement_closed"
OFFER_FIELDS = {
    "counterparty",
    "side",
    "zone",
    "source",
    "energy_wh",
    "price_per_kwh",
    "first_slot",
    "last_slot",
}


@dataclass(frozen=True, slots=True)
class Agreement:
    """A standing agreement; its id is the hash of the offering transaction.

    ``next_slot_ms`` is the slot whose orders come next; ``due_ms`` the block time from
    which they are placed while the agreement is active, and 0 otherwise (the index the
    block-start hook reads).
    """

    table: ClassVar[str] = "agreement"
    agreement_id: str
    offered_by: str
    seller: str
    buyer: str
    zone: str
    source: str
    energy_wh: int
    price_per_kwh: int
    first_slot_ms: int
    last_slot_ms: int
    status: str
    created_height: int
    accepted_height: int
    closed_height: int
    next_slot_ms: int
    slots_placed: int
    slots_missed: int
    due_ms: int

    @property
    def key(self) -> str:
        return self.agreement_id

    def party(self, address: str) -> bool:
        return address in (self.seller, self.buyer)


def _slot_order(agreement: Agreement, side: str, slot_ms: int) -> dict:
    """The order_place payload of one side of one slot."""
    payload = {
        "side": side,
        "energy_wh": agreement.energy_wh,
        "price_per_kwh": agreement.price_per_kwh,
        "zone": agreement.zone,
        "delivery_slot": slot_ms,
        "counterparty": agreement.buyer if side == r.SELL else agreement.seller,
    }
    payload.update({"source": agreement.source} if side == r.SELL else {"sources": r.ANY_SOURCE})
    return payload


def check_offer_payload(payload: dict, params: dict) -> None:
    require_fields(payload, OFFER_FIELDS, OFFER_FIELDS)
    require_hex64(payload["counterparty"], "counterparty (the other party)")
    rules = r.rules_of(params)
    order = {k: payload[k] for k in ("side", "energy_wh", "price_per_kwh", "zone", "source")}
    order["delivery_slot"] = payload["first_slot"]
    r.check_place_payload({**order, "side": r.SELL}, params)  # the seller's order, the strictest
    if payload["side"] not in (r.BUY, r.SELL):
        raise LedgerError(errors.BAD_FIELD, "side must be 'buy' or 'sell': the offerer's side.")
    first, last = payload["first_slot"], payload["last_slot"]
    if not is_int(last) or last < first or last % rules.slot_ms:
        raise LedgerError(
            r.BAD_SLOT,
            "last_slot must be a slot start in Unix ms, a multiple of %(slot_ms)s, from first_slot.",
            {"slot_ms": rules.slot_ms},
        )
    if last - first > MAX_PERIOD_MS:
        raise LedgerError(r.BAD_SLOT, "An agreement runs for at most 31 days.")


def _apply_offer(state: State, tx: Transaction, ctx: BlockContext) -> None:
    payload, rules = tx.payload, r.rules_of(ctx.params)
    other = payload["counterparty"]
    if other == tx.sender:
        raise LedgerError(r.SELF_COUNTERPARTY, "An agreement is between two accounts: name the other party.")
    if payload["zone"] in rules.call_auction_zones:
        raise LedgerError(
            r.NOT_IN_CALL,
            "%(zone)s clears by call auction, by price alone: no standing agreements.",
            {"zone": payload["zone"]},
        )
    if payload["last_slot"] - rules.gate_closure_ms <= ctx.timestamp_ms:
        raise LedgerError(r.SLOT_CLOSED, "The agreement's last slot is already closed for orders.")
    if payload["first_slot"] > ctx.timestamp_ms + rules.horizon_ms:
        raise LedgerError(
            r.BAD_SLOT,
            "first_slot is more than %(minutes)s minutes ahead.",
            {"minutes": rules.horizon_ms // r.MS_PER_MINUTE},
        )
    seller, buyer = (tx.sender, other) if payload["side"] == r.SELL else (other, tx.sender)
    agreement = Agreement(
        agreement_id=tx.hash,
        offered_by=tx.sender,
        seller=seller,
        buyer=buyer,
        zone=payload["zone"],
        source=payload["source"],
        energy_wh=payload["energy_wh"],
        price_per_kwh=payload["price_per_kwh"],
        first_slot_ms=payload["first_slot"],
        last_slot_ms=payload["last_slot"],
        status=OFFERED,
        created_height=ctx.height,
        accepted_height=0,
        closed_height=0,
        next_slot_ms=payload["first_slot"],
        slots_placed=0,
        slots_missed=0,
        due_ms=0,
    )
    state.put_new(agreement)
    _emit(ctx, "agreement_offered", agreement)


def check_id_payload(payload: dict, params: dict) -> None:
    require_fields(payload, {"agreement_id"}, {"agreement_id"})
    require_hex64(payload["agreement_id"], "agreement_id (the offer's transaction hash)", errors.BAD_FIELD)


def _own_agreement(state: State, tx: Transaction) -> Agreement:
    agreement = state.get(Agreement.table, tx.payload["agreement_id"])
    if agreement is None:
        raise LedgerError(AGREEMENT_NOT_FOUND, "There is no agreement with this id.")
    if not agreement.party(tx.sender):
        raise LedgerError(
            errors.NOT_PERMITTED, "Only the seller and the buyer of an agreement may act on it."
        )
    if agreement.status not in (OFFERED, ACTIVE):
        raise LedgerError(
            AGREEMENT_CLOSED, "The agreement is already %(status)s.", {"status": agreement.status}
        )
    return agreement


def _apply_accept(state: State, tx: Transaction, ctx: BlockContext) -> None:
    agreement = _own_agreement(state, tx)
    if agreement.status != OFFERED or tx.sender == agreement.offered_by:
        raise LedgerError(errors.NOT_PERMITTED, "Only the other party accepts an offered agreement.")
    rules = r.rules_of(ctx.params)
    first = max(agreement.first_slot_ms, rules.first_open_slot_ms(ctx.timestamp_ms))
    if first > agreement.last_slot_ms:
        raise LedgerError(r.SLOT_CLOSED, "The agreement's last slot is already closed for orders.")
    agreement = replace(
        agreement,
        status=ACTIVE,
        accepted_height=ctx.height,
        next_slot_ms=first,
        due_ms=max(_due_ms(rules, first), 1),
    )
    state.put(agreement)
    _emit(ctx, "agreement_accepted", agreement)


def _apply_end(state: State, tx: Transaction, ctx: BlockContext) -> None:
    agreement = _own_agreement(state, tx)
    if agreement.status == ACTIVE:
        status = ENDED
    else:
        status = WITHDRAWN if tx.sender == agreement.offered_by else DECLINED
    agreement = replace(agreement, status=status, closed_height=ctx.height, due_ms=0)
    state.put(agreement)
    _emit(ctx, f"agreement_{status}", agreement)


def _due_ms(rules: r.MarketRules, slot_ms: int) -> int:
    """When a slot's orders are placed: one slot before its gate closes."""
    return slot_ms - rules.gate_closure_ms - rules.slot_ms


def place_due_orders(state: State, ctx: BlockContext) -> None:
    """Block start: each active agreement whose next slot is due places that slot's pair, or misses it."""
    rules = r.rules_of(ctx.params)
    due = state.scan(Agreement.table, "due_ms", 1, ctx.timestamp_ms)
    state.prefetch(Account.table, {a for agreement in due for a in (agreement.seller, agreement.buyer)})
    for agreement in due:
        slot = agreement.next_slot_ms
        if _placeable(state, ctx, rules, agreement, slot):
            for side in (r.SELL, r.BUY):
                order_id = sha256_hex(f"agreement:{agreement.agreement_id}:{slot}:{side}".encode())
                owner = agreement.seller if side == r.SELL else agreement.buyer
                open_order(
                    state, ctx, order_id=order_id, owner=owner, payload=_slot_order(agreement, side, slot)
                )
            agreement = replace(agreement, slots_placed=agreement.slots_placed + 1)
        else:
            agreement = replace(agreement, slots_missed=agreement.slots_missed + 1)
        following = slot + rules.slot_ms
        if following > agreement.last_slot_ms:
            agreement = replace(agreement, status=COMPLETED, closed_height=ctx.height, due_ms=0)
            _emit(ctx, "agreement_completed", agreement)
        else:
            agreement = replace(agreement, next_slot_ms=following, due_ms=max(_due_ms(rules, following), 1))
        state.put(agreement)


def _placeable(
    state: State, ctx: BlockContext, rules: r.MarketRules, agreement: Agreement, slot: int
) -> bool:
    """Whether both orders of ``slot`` pass every check open_order makes, so neither can fail alone."""
    if slot - rules.gate_closure_ms <= ctx.timestamp_ms or agreement.zone in rules.call_auction_zones:
        return False
    seller = release_matured_unbonding(state.account(agreement.seller), ctx.height)
    buyer = release_matured_unbonding(state.account(agreement.buyer), ctx.height)
    lock = r.buy_lock_units(
        agreement.energy_wh, agreement.price_per_kwh, rules.max_fee_per_kwh[agreement.zone]
    )
    return seller.energy_wh >= agreement.energy_wh and buyer.balance >= lock


def _emit(ctx: BlockContext, event_type: str, agreement: Agreement) -> None:
    ctx.emit(
        event_type,
        agreement_id=agreement.agreement_id,
        seller=agreement.seller,
        buyer=agreement.buyer,
        status=agreement.status,
        parties=sorted({agreement.seller, agreement.buyer}),
    )


def agreements_due_from(store, params: dict) -> int | None:
    """When the first active agreement's next slot is due: its orders wait for a block."""
    return store.lowest(Agreement.table, "due_ms", 1)


AGREEMENT_OFFER = TxKind(
    name="agreement_offer",
    check_payload=check_offer_payload,
    prefetch=lambda tx: {Account.table: [tx.sender], Agreement.table: [tx.hash]},
    apply=_apply_offer,
)
AGREEMENT_ACCEPT = TxKind(
    name="agreement_accept",
    check_payload=check_id_payload,
    prefetch=lambda tx: {Account.table: [tx.sender], Agreement.table: [tx.payload["agreement_id"]]},
    apply=_apply_accept,
)
AGREEMENT_END = TxKind(
    name="agreement_end",
    check_payload=check_id_payload,
    prefetch=lambda tx: {Account.table: [tx.sender], Agreement.table: [tx.payload["agreement_id"]]},
    apply=_apply_end,
)
PLACE_AGREEMENT_ORDERS = BeginBlockHook(
    "trading.place_agreement_orders", place_due_orders, due_from=agreements_due_from
)
