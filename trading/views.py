"""Market pages: the public overview and the trading page with its order ticket.

Thin: parse the query, authorise, call trading.selectors / trading.services,
render. The trading page is one template with named parts (``?part=book`` and
so on) that htmx re-fetches when static/js/market.js hears of a block on
ws/market/ or live.js on ws/chain/. Forms post with htmx and fall back to a
plain POST and redirect without JavaScript. Regulators and staff see the page
read-only: no ticket, no cancel buttons, and their POSTs get 403.
"""

import time
from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chain import selectors as chain_selectors
from chain.ledger import errors as ledger_errors
from chain.ledger.errors import Refused
from chain.ledger.fields import is_hex64, whole_number
from chain.refusals import refusal_text
from chain.services.rate_limits import BrowserWriteLimited, browser_write_admit
from chain.views.access import may_transact, transacting_user_required
from chain.views.field_checks import field_check_response, with_live_checks
from trading import selectors
from trading.forms import AgreementForm, OrderForm, picked_slot, sides_for
from trading.ledger import agreements as a
from trading.ledger import rules as r
from trading.services import agreement_answer, agreement_offer, order_cancel, order_place

#: htmx event names. market.js fires MARKET_EVENT once per block with market events for
#: the page's slot and zone; live.js fires WALLET_EVENT when a block touched the wallet.
MARKET_EVENT = "market-changed"
WALLET_EVENT = "wallet-changed"
#: Sent back with a placed order or a cancel: the person's lists show it as waiting.
MINE_EVENT = "my-orders-changed"
SLOT_CHOICES = 8
BOOK_LEVELS = 12
LIST_LIMIT = 20


def _trade_url(slot: int, zone: str) -> str:
    return f"{reverse('market-trade')}?slot={slot}&zone={zone}"


def _home_zone(user, zone_ids: list[str]) -> str:
    wallet = getattr(user, "wallet", None) if user.is_authenticated else None
    return wallet.region if wallet is not None and wallet.region in zone_ids else zone_ids[0]


def _selection(request, rules, open_slots: list[int], zone_ids: list[str]) -> tuple[int, str]:
    """The slot and zone to show: the query's if well-formed, else the first open slot and the
    person's own region. A slot whose gate has closed still shows (its trades and chart)."""
    slot = whole_number(request.GET.get("slot", ""), max_digits=15)
    valid = slot is not None and slot > 0 and slot % rules.slot_ms == 0
    zone = request.GET.get("zone", "")
    return (slot if valid else open_slots[0]), (
        zone if zone in zone_ids else _home_zone(request.user, zone_ids)
    )


def _picker_text(ms: int) -> str:
    """A slot as <input type="datetime-local"> shows it, in site time."""
    return timezone.localtime(datetime.fromtimestamp(ms / 1000, tz=UTC)).strftime("%Y-%m-%dT%H:%M")


def _slot_pick(rules, now_ms: int) -> dict:
    """The bounds of the later-slot picker: any slot the ledger takes, days ahead."""
    last = now_ms + rules.horizon_ms
    return {
        "min": _picker_text(rules.first_open_slot_ms(now_ms)),
        "max": _picker_text(last - last % rules.slot_ms),
        "step_s": rules.slot_ms // 1000,
        "error": "",
    }


# --- parts of the trading page: each refreshes itself over htmx -----------------------


def _book(slot, zone, **_) -> dict:
    book = selectors.order_book_depth(slot_ms=slot, zone=zone, levels=BOOK_LEVELS)
    spread = None
    if book["bids"] and book["asks"]:
        spread = book["asks"][0]["price_per_kwh"] - book["bids"][0]["price_per_kwh"]
    deepest = max((level["energy_wh"] for level in book["bids"] + book["asks"]), default=0)
    rules = selectors.market_rules()
    reachable = selectors.asks_reachable(slot_ms=slot, zone=zone, rules=rules, levels=BOOK_LEVELS)
    return {
        "call": selectors.call_of(slot_ms=slot, zone=zone, rules=rules),
        "book": book,
        "deepest_wh": deepest,
        "spread": spread,
        "depth": _cumulative_depth(book),
        "reachable": reachable,
    }


def _cumulative_depth(book: dict) -> dict:
    """The depth chart's points, best price first on each side: [price per kWh, Wh at that price
    or better], in integers (the chart divides for display only)."""

    def running(levels):
        total, points = 0, []
        for level in levels:
            total += level["energy_wh"]
            points.append([level["price_per_kwh"], total])
        return points

    return {"bids": running(book["bids"]), "asks": running(book["asks"])}


def _trades(slot, zone, **_) -> dict:
    return {"trades": list(selectors.trades_recent(slot_ms=slot, zone=zone, limit=LIST_LIMIT))}


def _chart(slot, zone, **_) -> dict:
    points = selectors.price_series(slot_ms=slot, zone=zone)
    return {
        "price_points": [
            {"t": p["timestamp_ms"], "price": p["price_per_kwh"], "wh": p["energy_wh"]} for p in points
        ],
        "last_price": points[-1]["price_per_kwh"] if points else None,
        "traded_wh": sum(p["energy_wh"] for p in points),
    }


def _wallet(wallet, **_) -> dict:
    return {"balances": chain_selectors.wallet_balances(address=wallet.address)} if wallet else {}


def _mine(wallet, **_) -> dict:
    if wallet is None:
        return {}
    waiting = [tx for tx in chain_selectors.pending_for(wallet.address) if tx.kind.startswith("order_")]
    return {
        "open_orders": list(selectors.orders_open_of(address=wallet.address, limit=LIST_LIMIT)),
        "waiting_orders": [tx for tx in waiting if tx.kind == "order_place"],
        "cancelling": {tx.payload.get("order_id") for tx in waiting if tx.kind == "order_cancel"},
        "offered": list(selectors.deals_offered_to(address=wallet.address, limit=LIST_LIMIT)),
    }


def _fills(wallet, **_) -> dict:
    if wallet is None:
        return {}
    return {
        "fills": list(selectors.fills_of(address=wallet.address, limit=LIST_LIMIT)),
        "totals": selectors.account_market_totals(address=wallet.address),
    }


PARTS = {
    "book": ("trading/_book.html", _book),
    "trades": ("trading/_trades.html", _trades),
    "chart": ("trading/_chart.html", _chart),
    "wallet": ("trading/_wallet.html", _wallet),
    "mine": ("trading/_mine.html", _mine),
    "fills": ("trading/_fills.html", _fills),
}


def _new_form(wallet, data=None, *, slot=None, zone=None, side=None, counterparty=None) -> OrderForm:
    """The order ticket, each field re-validating itself on the server as the person types."""
    initial = {"delivery_slot": slot, "zone": zone, **({"side": side} if side else {})}
    if counterparty:
        initial["counterparty"] = counterparty
    form = OrderForm(
        data,
        wallet=wallet,
        balances=chain_selectors.wallet_balances(address=wallet.address),
        rules=selectors.market_rules(),
        zones=chain_selectors.chain_regions(),
        initial=initial,
    )
    return with_live_checks(form, reverse("market-check"))


def _form_context(form: OrderForm) -> dict:
    slot, zone = form.selection()
    return {
        "form": form,
        "slot": slot,
        "slot_end": slot + form.rules.slot_ms if slot else None,
        "zone_name": dict(form.fields["zone"].choices).get(zone, ""),
    }


def _answer(request, wallet) -> dict:
    """A ticket that answers a deal offered to the person (``?with=<address>&side=``): the
    counterparty and side prefilled, when well-formed; the form checks them again when posted."""
    counterparty, side = request.GET.get("with", ""), request.GET.get("side", "")
    return {
        "counterparty": counterparty if is_hex64(counterparty) else None,
        "side": side if side in sides_for(wallet.role) else None,
    }


def _render_trade_page(request, *, form: OrderForm | None = None, status: int = 200):
    rules = selectors.market_rules()
    regions = chain_selectors.chain_regions()
    zone_ids = [z["id"] for z in regions]
    now_ms = time.time_ns() // 1_000_000
    open_slots = selectors.slots_open(count=SLOT_CHOICES, now_ms=now_ms)
    slot, zone = _selection(request, rules, open_slots, zone_ids)
    pick = _slot_pick(rules, now_ms)
    if "at" in request.GET:
        try:
            slot = picked_slot(request.GET["at"], rules, now_ms)
        except ValueError as refusal:
            pick["error"] = str(refusal)
    if form is not None:
        posted_slot, posted_zone = form.selection()
        slot, zone = posted_slot or slot, posted_zone or zone
    # Regulators and staff watch the market; "your orders" belong to those who trade.
    wallet = request.user.wallet if may_transact(request.user) else None
    context = {
        "slot": slot,
        "slot_end": slot + rules.slot_ms,
        "slot_open": slot >= open_slots[0],
        "gate_ms": slot - rules.gate_closure_ms,
        "zone": zone,
        "zone_name": next(z["name"] for z in regions if z["id"] == zone),
        "wallet": wallet,
        "part_url": _trade_url(slot, zone),
    }
    part = request.GET.get("part")
    if part in PARTS:
        template, build = PARTS[part]
        return render(request, template, {**context, **build(slot=slot, zone=zone, wallet=wallet)})
    for _template, build in PARTS.values():
        context.update(build(slot=slot, zone=zone, wallet=wallet))
    if wallet is not None:
        context["form"] = form or _new_form(wallet, slot=slot, zone=zone, **_answer(request, wallet))
    context.update(
        {
            "rules": rules,
            "slots": [{"slot_ms": s, "url": _trade_url(s, zone)} for s in open_slots],
            "pick": pick | {"value": _picker_text(slot)},
            "zones": [{**z, "url": _trade_url(slot, z["id"])} for z in regions],
            "ws_query": f"slot={slot}&zone={zone}",
            "market_event": MARKET_EVENT,
            "wallet_event": WALLET_EVENT,
            "mine_event": MINE_EVENT,
        }
    )
    return render(request, "trading/trade.html", context, status=status)


# --- pages ------------------------------------------------------------------------


def market(request):
    """Public: the next slots with their volumes, last price per zone, links into trading."""
    rules = selectors.market_rules()
    overview = selectors.market_overview(slots=SLOT_CHOICES)
    regions = chain_selectors.chain_regions()
    zone = _home_zone(request.user, [z["id"] for z in regions])
    last_by_zone = {z["zone"]: z for z in overview["zones"]}
    first_slot = overview["slots"][0]["slot_ms"]
    context = {
        "slots": [
            {**s, "slot_end": s["slot_ms"] + rules.slot_ms, "url": _trade_url(s["slot_ms"], zone)}
            for s in overview["slots"]
        ],
        "deepest_wh": max((max(s["bid_wh"], s["ask_wh"]) for s in overview["slots"]), default=0),
        "zones": [
            {**z, "last": last_by_zone.get(z["id"]), "url": _trade_url(first_slot, z["id"])} for z in regions
        ],
        "recent_trades": list(selectors.trades_recent(limit=LIST_LIMIT)),
        "zone_names": {z["id"]: z["name"] for z in regions},
        "rules": rules,
        "market_event": MARKET_EVENT,
    }
    if request.GET.get("part") == "overview":
        return render(request, "trading/_overview.html", context)
    return render(request, "trading/market.html", context)


@login_required
def trade(request):
    return _render_trade_page(request)


@login_required
@transacting_user_required
@require_POST
def order_submit(request):
    """Sign and submit the person's order; the ticket comes back with what is wrong, or cleared.

    Past the person's GTX_BROWSER_WRITE_RATE nothing is signed and the answer is 429.
    """
    wallet = request.user.wallet
    form = _new_form(wallet, request.POST)
    submitted = None
    status = 200
    if form.is_valid():
        try:
            browser_write_admit(user_id=request.user.pk, what="orders")
            submitted = order_place(wallet=wallet, **form.order())
        except BrowserWriteLimited as exc:
            form.add_error(None, refusal_text(exc.message))
            status = 429
        except Refused as exc:
            form.add_refusal(exc)
    if not request.htmx:
        if submitted is None:
            return _render_trade_page(request, form=form, status=status)
        messages.success(request, gettext("Order signed and sent. It enters the book with the next block."))
        return redirect(_trade_url(form.cleaned_data["delivery_slot"], form.cleaned_data["zone"]))
    if submitted is not None:
        data = form.cleaned_data
        form = _new_form(wallet, slot=data["delivery_slot"], zone=data["zone"], side=data["side"])
    response = render(
        request, "trading/_form.html", {**_form_context(form), "submitted": submitted}, status=status
    )
    if submitted is not None:
        response["HX-Trigger"] = MINE_EVENT
    return response


@login_required
@transacting_user_required
@require_POST
def order_check(request):
    """htmx: what is wrong with one field of the ticket, as the fragment beside that field."""
    form = _new_form(request.user.wallet, request.POST)
    return field_check_response(form, request.GET.get("field", ""))


@login_required
@transacting_user_required
@require_POST
def order_preview(request):
    """htmx: what the ticket as typed would sign and escrow, or that it cannot be signed yet."""
    form = _new_form(request.user.wallet, request.POST)
    context = {"summary": form.ticket_summary() if form.is_valid() else None, **_form_context(form)}
    return render(request, "trading/_ticket_summary.html", context)


@login_required
@transacting_user_required
@require_POST
def order_cancel_view(request, order_id):
    """Sign and submit a cancel of one of the person's own orders (429 past the write rate)."""
    wallet = request.user.wallet
    back = request.POST.get("next", "")
    try:
        browser_write_admit(user_id=request.user.pk, what="orders")
        order_cancel(wallet=wallet, order_id=order_id)
    except BrowserWriteLimited as exc:
        if not request.htmx:
            messages.error(request, refusal_text(exc.message))
            return _render_trade_page(request, status=429)
        context = {
            "wallet": wallet,
            "cancel_refused": refusal_text(exc.message),
            "part_url": back,
            **_mine(wallet),
        }
        return render(request, "trading/_mine.html", context, status=429)
    except Refused as exc:
        if exc.code == ledger_errors.NOT_PERMITTED:
            raise PermissionDenied(exc.message) from exc
        if exc.code == r.ORDER_NOT_FOUND:
            raise Http404(exc.message) from exc
        refusal = refusal_text(exc.message)
    else:
        refusal = None
    if request.htmx:
        context = {"wallet": wallet, "cancel_refused": refusal, "part_url": back, **_mine(wallet)}
        response = render(request, "trading/_mine.html", context)
        if refusal is None:
            response["HX-Trigger"] = MINE_EVENT
        return response
    if refusal:
        messages.error(request, refusal)
    else:
        messages.success(
            request, gettext("Cancel signed and sent. The order leaves the book with the next block.")
        )
    return redirect(back if back.startswith("/market/") else reverse("market-trade"))


# --- standing agreements ------------------------------------------------------------------


@login_required
@transacting_user_required
def agreements(request):
    """The person's standing agreements, and the form that offers one (POST)."""
    wallet = request.user.wallet
    rules = selectors.market_rules()
    form = AgreementForm(
        request.POST if request.method == "POST" else None,
        wallet=wallet,
        rules=rules,
        zones=chain_selectors.chain_regions(),
    )
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                browser_write_admit(user_id=request.user.pk, what="orders")
                agreement_offer(wallet=wallet, payload=form.payload())
            except BrowserWriteLimited as exc:
                form.add_error(None, refusal_text(exc.message))
                status = 429
            except Refused as exc:
                form.add_refusal(exc)
            else:
                messages.success(
                    request,
                    gettext("Agreement offered. The other party sees it here once the next block has it."),
                )
                return redirect("market-agreements")
        status = status if status != 200 else 400
    mine = list(selectors.agreements_of(address=wallet.address))
    context = {
        "form": form,
        "wallet": wallet,
        "to_answer": [x for x in mine if x.status == a.OFFERED and x.offered_by != wallet.address],
        "offered": [x for x in mine if x.status == a.OFFERED and x.offered_by == wallet.address],
        "active": [x for x in mine if x.status == a.ACTIVE],
        "closed": [x for x in mine if x.status not in (a.OFFERED, a.ACTIVE)],
        "slot_minutes": rules.slot_ms // r.MS_PER_MINUTE,
    }
    return render(request, "trading/agreements.html", context, status=status)


@login_required
@transacting_user_required
@require_POST
def agreement_answer_view(request, agreement_id: str, action: str):
    """Accept an agreement offered to the person, or end (withdraw, decline) one of theirs."""
    if not is_hex64(agreement_id) or action not in ("accept", "end"):
        raise Http404
    try:
        browser_write_admit(user_id=request.user.pk, what="orders")
        agreement_answer(wallet=request.user.wallet, agreement_id=agreement_id, accept=action == "accept")
    except BrowserWriteLimited as exc:
        messages.error(request, refusal_text(exc.message))
    except Refused as exc:
        if exc.code == ledger_errors.NOT_PERMITTED:
            raise PermissionDenied(exc.message) from exc
        if exc.code == a.AGREEMENT_NOT_FOUND:
            raise Http404(exc.message) from exc
        messages.error(request, refusal_text(exc.message))
    else:
        messages.success(request, gettext("Signed and sent: the agreement changes with the next block."))
    return redirect("market-agreements")
