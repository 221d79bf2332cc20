"""The header's activity tray and the words of a person's feed and transaction states.

``{% activity_tray %}`` (base.html) and the activity view's ``?part=tray`` render the same
context (``tray_context``), so the tray htmx re-fetches is the one the page was served with.
"""

from dataclasses import dataclass

from django import template
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop

from chain import selectors
from chain.refusals import refusal_text
from chain.templatetags.chain_units import word_in_language
from chain.units import kwh_text, tokens_text

register = template.Library()

#: Transactions the tray carries (for its waiting count and state-change notifications).
TRAY_TRANSACTIONS = 8
#: Feed events the tray carries, for the notification of a new one.
TRAY_EVENTS = 5

#: What a person calls a transaction of each kind they may sign; others show the kind.
KIND_LABELS = {
    "transfer": gettext_noop("Transfer"),
    "order_place": gettext_noop("Order"),
    "order_cancel": gettext_noop("Order cancel"),
    "governance_vote": gettext_noop("Vote"),
    "governance_propose": gettext_noop("Proposal"),
    "stake_bond": gettext_noop("Bond"),
    "stake_unbond": gettext_noop("Unbond"),
    "cashout_request": gettext_noop("Cash-out request"),
    "meter_register": gettext_noop("Meter registration"),
    "validator_set_active": gettext_noop("Validator change"),
}

STATE_WORDS = {
    selectors.HELD: gettext_noop("waiting for an earlier one"),
    selectors.PENDING: gettext_noop("pending"),
    selectors.INCLUDED: gettext_noop("included"),
    selectors.FAILED: gettext_noop("failed"),
    selectors.DROPPED: gettext_noop("dropped"),
}


@register.filter
def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return gettext(label) if label else kind.replace("_", " ").capitalize()


#: The consensus steps and the node's other states (chain.selectors.node_status), for people.
STEP_WORDS = {
    "propose": gettext_noop("propose"),
    "prevote": gettext_noop("prevote"),
    "precommit": gettext_noop("precommit"),
    "waiting for transactions": gettext_noop("waiting for transactions"),
    "following": gettext_noop("following"),
}


@register.filter
def step_word(step: str) -> str:
    return word_in_language(STEP_WORDS, step)


@register.filter
def refusal(message: str) -> str:
    """A refusal or outcome the ledger wrote, in the reader's language."""
    return refusal_text(message)


@register.filter
def state_word(state: str) -> str:
    return word_in_language(STATE_WORDS, state)


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
        text = gettext("Bought %(energy)s kWh at %(price)s GTX/kWh: paid %(paid)s GTX") % {
            "energy": energy,
            "price": price,
            "paid": tokens_text(paid),
        }
        if fee:
            text += gettext(" + %(fee)s GTX wheeling fee") % {"fee": tokens_text(fee)}
        return FeedLine(text, paid + fee, "out", link)
    if data["seller"] == address:
        text = gettext(
            "Sold %(energy)s kWh at %(price)s GTX/kWh: %(paid)s GTX held until delivery is settled"
        )
        return FeedLine(
            text % {"energy": energy, "price": price, "paid": tokens_text(paid)}, paid, "held", link
        )
    return FeedLine(gettext("Wheeling fee for %(energy)s kWh carried") % {"energy": energy}, fee, "in", link)


def _settled_line(data: dict, *, seller: bool) -> FeedLine:
    figures = {"delivered": kwh_text(data["delivered_wh"]), "energy": kwh_text(data["energy_wh"])}
    link = reverse("market-trade-detail", args=[data["trade_id"]])
    if seller:
        text = gettext("Delivery settled, %(delivered)s of %(energy)s kWh delivered: you were paid")
        return FeedLine(text % figures, data["paid_tokens"], "in", link)
    refund = data["refund_tokens"]
    if refund:
        text = gettext("Delivery settled, %(delivered)s of %(energy)s kWh delivered: refunded")
        return FeedLine(text % figures, refund, "in", link)
    return FeedLine(
        gettext("Delivery settled, %(delivered)s of %(energy)s kWh delivered") % figures, None, "", link
    )


ORDER_CLOSED_WORDS = {
    ("buy", "cancelled"): gettext_noop("Buy order cancelled"),
    ("buy", "expired"): gettext_noop("Buy order expired"),
    ("buy", "gate_closed"): gettext_noop("Buy order closed at gate closure"),
    ("sell", "cancelled"): gettext_noop("Sell order cancelled"),
    ("sell", "expired"): gettext_noop("Sell order expired"),
    ("sell", "gate_closed"): gettext_noop("Sell order closed at gate closure"),
}
AGREEMENT_WORDS = {
    "agreement_offered": gettext_noop("Standing agreement offered, with %(other)s"),
    "agreement_accepted": gettext_noop("Standing agreement with %(other)s accepted: each slot now trades"),
    "agreement_ended": gettext_noop("Standing agreement with %(other)s ended"),
    "agreement_withdrawn": gettext_noop("Standing agreement offer to %(other)s withdrawn"),
    "agreement_declined": gettext_noop("Standing agreement offer from %(other)s declined"),
    "agreement_completed": gettext_noop(
        "Standing agreement with %(other)s completed: its last slot is placed"
    ),
}


def feed_line(event, address: str) -> FeedLine:
    """What a LedgerEvent (or its data) means to ``address``, in the active language."""
    data = event.data if hasattr(event, "data") else event
    kind = data.get("type")
    if kind == "trade":
        return _trade_line(data, address)
    if kind == "trade_settled":
        return _settled_line(data, seller=data.get("seller") == address)
    if kind == "order_cancelled":
        words = ORDER_CLOSED_WORDS.get((data["side"], data["status"]))
        closed = gettext(words) if words else f"{data['side']} order {data['status'].replace('_', ' ')}"
        unfilled = gettext("%(remaining)s of %(energy)s kWh unfilled at %(price)s GTX/kWh") % {
            "remaining": kwh_text(data["remaining_wh"]),
            "energy": kwh_text(data["energy_wh"]),
            "price": tokens_text(data["price_per_kwh"]),
        }
        return FeedLine(f"{closed}: {unfilled}")
    if kind in AGREEMENT_WORDS:
        other = data["seller"] if data["buyer"] == address else data["buyer"]
        return FeedLine(
            gettext(AGREEMENT_WORDS[kind]) % {"other": f"{other[:8]}…"}, link=reverse("market-agreements")
        )
    if kind == "certificate_issued":
        text = gettext("Renewable certificate of %(energy)s kWh issued for your unsold export")
        return FeedLine(text % {"energy": kwh_text(data["wh"])}, link=reverse("certificates"))
    if kind == "token_minted":
        return FeedLine(
            gettext("Top-up %(reference)s minted") % {"reference": data["reference"]}, data["amount"], "in"
        )
    if kind == "token_burnt":
        return FeedLine(
            gettext("Cash-out %(reference)s paid in baht") % {"reference": data["reference"]}, None, ""
        )
    if kind == "cashout_requested":
        return FeedLine(
            gettext("Cash-out requested: tokens held until the issuer pays"), data["amount"], "held"
        )
    if kind == "cashout_released":
        return FeedLine(gettext("Cash-out refused: tokens back in your balance"))
    if kind in ("governance_tallied", "governance_executed"):
        text = (
            gettext("Proposal #%(number)s decided: %(status)s")
            if kind == "governance_tallied"
            else gettext("Proposal #%(number)s carried out: %(status)s")
        )
        outcome = f" ({data['outcome']})" if data.get("outcome") else ""
        return FeedLine(
            text % {"number": data["number"], "status": data["status"]} + outcome,
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
