"""The market's write path for browser users: check like the ledger will, sign, admit.

The ledger decides in the block; these checks exist so a person sees what is
wrong beside the field at once, instead of a failed receipt a block later.
They read committed state plus what already waits in the mempool.
"""

from chain import clock
from chain.ledger import errors
from chain.ledger.errors import LedgerError, Refused, ledger_text
from chain.ledger.tx import Transaction
from chain.models import ChainHead, MempoolTx, Wallet
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from trading.ledger import agreements as a
from trading.ledger import rules as r
from trading.models import Agreement, AgreementStatus, CallOrders, Order, OrderStatus

#: Which form field each refusal belongs beside.
FIELD_OF_CODE = {
    errors.BAD_AMOUNT: "energy_wh",
    r.INSUFFICIENT_ENERGY: "energy_wh",
    r.BAD_PRICE: "price_per_kwh",
    errors.INSUFFICIENT_FUNDS: "price_per_kwh",
    r.UNKNOWN_ZONE: "zone",
    r.BAD_SLOT: "delivery_slot",
    r.SLOT_CLOSED: "delivery_slot",
    r.UNKNOWN_SOURCE: "source",
    r.BAD_EXPIRY: "expires_ms",
    errors.BAD_ADDRESS: "counterparty",
    r.SELF_COUNTERPARTY: "counterparty",
    r.CALL_FULL: "delivery_slot",
    r.NOT_IN_CALL: "counterparty",
}


def order_place(
    *,
    wallet: Wallet,
    side: str,
    energy_wh: int,
    price_per_kwh: int,
    zone: str,
    delivery_slot: int,
    source: str | None = None,
    sources: str | list[str] | None = None,
    expires_ms: int | None = None,
    counterparty: str | None = None,
) -> Transaction:
    """Sign and admit an order_place for ``wallet``; its id is the returned transaction's hash.

    ``counterparty`` (an address) makes it a private deal: it trades with that account only.

    Raises Refused with a code from trading.ledger.rules or chain.ledger.errors.
    """
    payload = {
        "side": side,
        "energy_wh": energy_wh,
        "price_per_kwh": price_per_kwh,
        "zone": zone,
        "delivery_slot": delivery_slot,
    }
    if side == r.SELL:
        payload["source"] = source
    elif side == r.BUY:
        payload["sources"] = sources
    if expires_ms is not None:
        payload["expires_ms"] = expires_ms
    if counterparty is not None:
        payload["counterparty"] = counterparty
    params = ChainHead.objects.only("params").get().params
    try:
        r.check_place_payload(payload, params)
    except LedgerError as exc:
        raise Refused(exc.code, exc.message, fields=FIELD_OF_CODE) from exc
    if counterparty == wallet.address:
        raise Refused(
            r.SELF_COUNTERPARTY,
            "An order cannot name your own account as the only one it trades with.",
            fields=FIELD_OF_CODE,
        )
    rules = r.rules_of(params)
    now_ms = clock.now_ms()
    if delivery_slot - rules.gate_closure_ms <= now_ms:
        raise Refused(
            r.SLOT_CLOSED,
            ledger_text(
                "This slot no longer takes orders: its gate closed %(minutes)s minutes before it starts.",
                minutes=rules.gate_closure_ms // r.MS_PER_MINUTE,
            ),
            fields=FIELD_OF_CODE,
        )
    if expires_ms is not None and expires_ms <= now_ms:
        raise Refused(r.BAD_EXPIRY, "The expiry is already past.", fields=FIELD_OF_CODE)
    if zone in rules.call_auction_zones:
        placed = CallOrders.objects.filter(call_id=CallOrders.ledger_record.id_of(delivery_slot, zone))
        if placed.filter(placed__gte=rules.max_call_orders).exists():
            raise Refused(
                r.CALL_FULL,
                ledger_text(
                    "This slot's call auction in %(zone)s has taken its %(count)s orders.",
                    zone=zone,
                    count=rules.max_call_orders,
                ),
                fields=FIELD_OF_CODE,
            )
    return _submit(wallet, "order_place", payload)


def order_cancel(*, wallet: Wallet, order_id: str) -> Transaction:
    """Sign and admit an order_cancel. Orders still in the mempool may be cancelled too."""
    try:
        r.check_cancel_payload({"order_id": order_id}, {})
    except LedgerError as exc:
        raise Refused(exc.code, exc.message, field="order_id") from exc
    order = Order.objects.filter(order_id=order_id).only("owner", "status").first()
    if order is None:
        waiting = MempoolTx.objects.filter(hash=order_id, kind="order_place").values_list("sender", flat=True)
        owner = waiting.first()
        if owner is None:
            raise Refused(r.ORDER_NOT_FOUND, "There is no order with this id.", field="order_id")
    else:
        owner = order.owner
        if order.status != OrderStatus.OPEN:
            raise Refused(
                r.ORDER_CLOSED,
                ledger_text("The order is already %(status)s.", status=order.get_status_display().lower()),
                field="order_id",
            )
    if owner != wallet.address:
        raise Refused(errors.NOT_PERMITTED, "Only the account that placed an order can cancel it.")
    return _submit(wallet, "order_cancel", {"order_id": order_id})


#: Which agreement form field each refusal of an offer belongs beside.
AGREEMENT_FIELD_OF_CODE = {
    errors.BAD_AMOUNT: "energy_kwh",
    r.BAD_PRICE: "price",
    r.UNKNOWN_ZONE: "zone",
    r.NOT_IN_CALL: "zone",
    r.BAD_SLOT: "slots",
    r.SLOT_CLOSED: "first_slot",
    r.UNKNOWN_SOURCE: "source",
    errors.BAD_ADDRESS: "counterparty",
    r.SELF_COUNTERPARTY: "counterparty",
}


def agreement_offer(*, wallet: Wallet, payload: dict) -> Transaction:
    """Sign and admit ``wallet``'s agreement_offer; the agreement's id is the transaction's hash."""
    params = ChainHead.objects.only("params").get().params
    try:
        a.check_offer_payload(payload, params)
    except LedgerError as exc:
        raise Refused(exc.code, exc.message, fields=AGREEMENT_FIELD_OF_CODE) from exc
    if payload["zone"] in r.rules_of(params).call_auction_zones:
        raise Refused(
            r.NOT_IN_CALL,
            ledger_text(
                "%(zone)s clears by call auction, by price alone: no standing agreements there.",
                zone=payload["zone"],
            ),
            fields=AGREEMENT_FIELD_OF_CODE,
        )
    return transaction_sign_submit(
        key=wallet_key_open(wallet), kind="agreement_offer", payload=payload, fields=AGREEMENT_FIELD_OF_CODE
    )


def agreement_answer(*, wallet: Wallet, agreement_id: str, accept: bool) -> Transaction:
    """Sign and admit ``wallet``'s agreement_accept (``accept``) or agreement_end."""
    agreement = Agreement.objects.filter(agreement_id=agreement_id).first()
    if agreement is None:
        raise Refused(a.AGREEMENT_NOT_FOUND, "There is no agreement with this id.")
    if wallet.address not in (agreement.seller, agreement.buyer):
        raise Refused(errors.NOT_PERMITTED, "Only the seller and the buyer of an agreement may act on it.")
    if agreement.status not in (AgreementStatus.OFFERED, AgreementStatus.ACTIVE):
        raise Refused(
            a.AGREEMENT_CLOSED,
            ledger_text(
                "The agreement is already %(status)s.", status=agreement.get_status_display().lower()
            ),
        )
    if accept and (agreement.status != AgreementStatus.OFFERED or agreement.offered_by == wallet.address):
        raise Refused(errors.NOT_PERMITTED, "Only the other party accepts an offered agreement.")
    kind = "agreement_accept" if accept else "agreement_end"
    return _submit(wallet, kind, {"agreement_id": agreement_id})


def _submit(wallet: Wallet, kind: str, payload: dict) -> Transaction:
    return transaction_sign_submit(
        key=wallet_key_open(wallet), kind=kind, payload=payload, fields=FIELD_OF_CODE
    )
