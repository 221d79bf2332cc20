"""The header's activity tray and the words of a person's feed and transaction states.

``{% activity_tray %}`` (base.html) and the activity view's ``?part=tray`` render the same
context (``tray_context``), so the tray htmx re-fetches is the one the page was served with.
"""

from dataclasses import dataclass

from django import template
from django.urls import reverse

from chain import selectors
from chain.units import kwh_text, tokens_text

register = template.Library()

#: Transactions the tray carries (for its waiting count and state-change notifications).
TRAY_TRANSACTIONS = 8
#: Feed events the tray carries, for the notification of a new one.
TRAY_EVENTS = 5

#: What a person calls a transaction of each kind they may sign; others show the kind.
KIND_LABELS = {
    "transfer": "Transfer",
    "order_place": "Order",
    "order_cancel": "Order cancel",
    "governance_vote": "Vote",
    "governance_propose": "Proposal",
    "stake_bond": "Bond",
    "stake_unbond": "Unbond",
    "cashout_request": "Cash-out request",
    "meter_register": "Meter registration",
    "validator_set_active": "Validator change",
}

STATE_WORDS = {
    selectors.HELD: "waiting for an earlier one",
    selectors.PENDING: "pending",
    selectors.INCLUDED: "included",
    selectors.FAILED: "failed",
    selectors.DROPPED: "dropped",
}


@register.filter
def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


@register.filter
def state_word(state: str) -> str:
    return STATE_WORDS.get(state, state)


@dataclass(frozen=True, slots=True)
class FeedLine:
    """One feed event as a person reads it: what happened, and what it did to their tokens."""

    text: str
    #: Token units (never negative) into or out of the person's balance, or held for them;
    #: None if it moved none.
    amount: int | None = None
    #: Which way ``amount`` went: "in", "out", "held" or "" (the amount-* CSS classes).
    direction: str = ""
    link: str = ""


def _trade_line(data: dict, address: str) -> FeedLine:
    energy, price = kwh_text(data["energy_wh"]), tokens_text(data["price_per_kwh"])
    paid, fee = data["paid_tokens"], data["wheeling_fee_tokens"]
    link = reverse("market-trade-detail", args=[data["trade_id"]])
    if data["buyer"] == address:
        fee_text = f" + {tokens_text(fee)} GTX wheeling fee" if fee else ""
        return FeedLine(
            f"Bought {energy} kWh at {price} GTX/kWh: paid {tokens_text(paid)} GTX{fee_text}",
            paid + fee,
            "out",
            link,
        )
    if data["seller"] == address:
        return FeedLine(
            f"Sold {energy} kWh at {price} GTX/kWh: {tokens_text(paid)} GTX held until delivery is settled",
            paid,
            "held",
            link,
        )
    return FeedLine(f"Wheeling fee for {energy} kWh carried", fee, "in", link)


def _settled_line(data: dict, *, seller: bool) -> FeedLine:
    delivered = f"{kwh_text(data['delivered_wh'])} of {kwh_text(data['energy_wh'])} kWh delivered"
    link = reverse("market-trade-detail", args=[data["trade_id"]])
    if seller:
        return FeedLine(f"Delivery settled, {delivered}: you were paid", data["paid_tokens"], "in", link)
    refund = data["refund_tokens"]
    if refund:
        return FeedLine(f"Delivery settled, {delivered}: refunded", refund, "in", link)
    return FeedLine(f"Delivery settled, {delivered}", None, "", link)


ORDER_CLOSED_WORDS = {"cancelled": "cancelled", "expired": "expired", "gate_closed": "closed at gate closure"}
AGREEMENT_WORDS = {
    "agreement_offered": "Standing agreement offered, with {other}",
    "agreement_accepted": "Standing agreement with {other} accepted: each slot now trades",
    "agreement_ended": "Standing agreement with {other} ended",
    "agreement_withdrawn": "Standing agreement offer to {other} withdrawn",
    "agreement_declined": "Standing agreement offer from {other} declined",
    "agreement_completed": "Standing agreement with {other} completed: its last slot is placed",
}


def feed_line(event, address: str) -> FeedLine:
    """What a LedgerEvent (or its data) means to ``address``."""
    data = event.data if hasattr(event, "data") else event
    kind = data.get("type")
    if kind == "trade":
        return _trade_line(data, address)
    if kind == "trade_settled":
        return _settled_line(data, seller=data.get("seller") == address)
    if kind == "order_cancelled":
        side = "Buy" if data["side"] == "buy" else "Sell"
        closed = ORDER_CLOSED_WORDS.get(data["status"], data["status"].replace("_", " "))
        return FeedLine(
            f"{side} order {closed}: {kwh_text(data['remaining_wh'])} of {kwh_text(data['energy_wh'])} kWh "
            f"unfilled at {tokens_text(data['price_per_kwh'])} GTX/kWh"
        )
    if kind in AGREEMENT_WORDS:
        other = data["seller"] if data["buyer"] == address else data["buyer"]
        return FeedLine(
            AGREEMENT_WORDS[kind].format(other=f"{other[:8]}…"), link=reverse("market-agreements")
        )
    if kind == "token_minted":
        return FeedLine(f"Top-up {data['reference']} minted", data["amount"], "in")
    if kind == "token_burnt":
        return FeedLine(f"Cash-out {data['reference']} paid in baht", None, "")
    if kind == "cashout_requested":
        return FeedLine("Cash-out requested: tokens held until the issuer pays", data["amount"], "held")
    if kind == "cashout_released":
        return FeedLine("Cash-out refused: tokens back in your balance")
    if kind in ("governance_tallied", "governance_executed"):
        verb = "decided" if kind == "governance_tallied" else "carried out"
        outcome = f" ({data['outcome']})" if data.get("outcome") else ""
        return FeedLine(
            f"Proposal #{data['number']} {verb}: {data['status']}{outcome}",
            link=reverse("governance-detail", args=[data["number"]]),
        )
    return FeedLine(kind.replace("_", " ").capitalize())


@register.filter
def feed_line_for(event, address: str) -> FeedLine:
    """``{% with line=event|feed_line_for:address %}``: the event's line for that account."""
    return feed_line(event, address)


def tray_context(request) -> dict:
    """The tray of a logged-in person with a wallet: their latest transactions' states, the
    feed events they have not seen, and the newest few (what a notification says)."""
    wallet = getattr(request.user, "wallet", None) if request.user.is_authenticated else None
    if wallet is None:
        return {"tray": False}
    address = wallet.address
    transactions = selectors.own_transactions(address=address, limit=TRAY_TRANSACTIONS)
    return {
        "tray": True,
        "address": address,
        "tray_transactions": transactions,
        "waiting_count": sum(tx.state in selectors.WAITING_STATES for tx in transactions),
        "unseen_count": selectors.activity_unseen_count(address=address, seen_id=wallet.activity_seen_id),
        "recent_events": selectors.activity_feed(address=address, limit=TRAY_EVENTS),
    }


@register.inclusion_tag("chain/activity/_tray.html", takes_context=True)
def activity_tray(context) -> dict:
    return tray_context(context["request"])
