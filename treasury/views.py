"""/treasury/: a holder's top-ups and cash-outs, and the issuer's queue.

Holders (wallet owners who are not regulators) ask for top-ups and cash-outs.
The queue is read by those who read everything (staff, regulators); only staff of
a site whose node key is an issuer confirm or refuse, which signs with that key.
``?part=status`` and ``?part=requests`` are what the holder's page re-fetches when a block touches the wallet.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chain import selectors as chain_selectors
from chain.ledger.errors import Refused
from chain.refusals import refusal_text
from chain.services.rate_limits import BrowserWriteLimited, browser_write_admit
from chain.views.access import (
    STAFF,
    reads_everything_required,
    trading_wallet_required,
    transacting_user_required,
    user_role,
)
from treasury import selectors, services
from treasury.forms import CashOutForm, RefusalForm, TopUpForm

#: What the holder's page re-fetches when live.js says a block touched the wallet.
HOLDER_PARTS = {"status": "treasury/_holder_status.html", "requests": "treasury/_holder_requests.html"}


def issuer_staff_required(view):
    """403 for anyone but staff of an issuing site (regulators read the queue, never act)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if user_role(request.user) != STAFF:
            raise PermissionDenied("Only the issuer's staff confirm or refuse payments.")
        if not services.site_is_issuer():
            raise PermissionDenied("This site's node key is not a token issuer.")
        return view(request, *args, **kwargs)

    return wrapper


def _holder_context(request, *, topup_form=None, cashout_form=None) -> dict:
    wallet = request.user.wallet
    params = selectors.treasury_params()
    # Read in this order, each query seeing the blocks committed by then: what waits, then what
    # the chain holds, then the balance. A block committed in between can only make the balance
    # newer than the lists; those still show the wait, and the page asks again (below). The other
    # way round, a balance from before the block beside lists from after it stayed on the page.
    cashouts_waiting = selectors.cashout_requests_waiting(address=wallet.address)
    topups = selectors.topups_of(user=request.user)
    cashouts = selectors.cashouts_of(address=wallet.address)
    balances = chain_selectors.wallet_balances(address=wallet.address)
    return {
        "wallet": wallet,
        "balances": balances,
        # A block may commit before this page's WebSocket is up (an automatic top-up is in
        # the next block): while something of ours waits for one, the page asks again itself.
        "waiting_for_block": bool(cashouts_waiting)
        or any(t.mint_tx_hash and not t.credited_height for t in topups)
        or any(t.request_tx_hash and t.asked is None for t in topups),
        "params": params,
        "site_is_issuer": services.site_is_issuer(),
        "takes_topups": services.site_is_issuer() or services.site_relays_topups(),
        "issuer_sites": selectors.issuer_sites(),
        "topups": topups,
        "cashouts": cashouts,
        "cashouts_waiting": cashouts_waiting,
        "topup_form": topup_form or TopUpForm(max_units=params["max_payment_units"]),
        "cashout_form": cashout_form
        or CashOutForm(max_units=params["max_payment_units"], available=balances["available"]),
    }


def _holder_page(request, status=200, **forms):
    context = _holder_context(request, **forms)
    part = request.GET.get("part")
    if part in HOLDER_PARTS:
        return render(request, HOLDER_PARTS[part], {**context, "oob_status": part == "requests"})
    return render(request, "treasury/holder.html", context, status=status)


@login_required
@trading_wallet_required  # a self-custody holder tops up too: the issuer signs the mint
def holder_page(request):
    return _holder_page(request)


@login_required
@trading_wallet_required
@require_POST
def topup_request(request):
    params = selectors.treasury_params()
    form = TopUpForm(request.POST, max_units=params["max_payment_units"])
    status = 400
    if form.is_valid():
        try:
            # Requests share the person's budget of browser writes: each may sign a mint.
            browser_write_admit(user_id=request.user.pk, what="requests")
            topup = services.topup_request(
                user=request.user, wallet=request.user.wallet, amount=form.cleaned_data["amount"]
            )
        except BrowserWriteLimited as exc:
            form.add_error(None, refusal_text(exc.message))
            status = 429
        except Refused as exc:
            form.add_error(exc.field, refusal_text(exc.message))
        else:
            messages.success(request, _topup_message(topup))
            return redirect("treasury")
    return _holder_page(request, status=status, topup_form=form)


def _topup_message(topup) -> str:
    if topup.request_tx_hash:
        return gettext(
            "Top-up requested: this site asked the issuer on chain. Pay the amount to the issuer quoting "
            "reference {reference}; the tokens arrive once the issuer confirms the payment."
        ).format(reference=topup.reference)
    if topup.mint_tx_hash:
        return gettext("Top-up {reference} confirmed: the tokens arrive with the next block.").format(
            reference=topup.reference
        )
    return gettext(
        "Top-up requested. Pay the amount to the issuer quoting reference {reference}; "
        "the tokens arrive once the issuer confirms the payment."
    ).format(reference=topup.reference)


@login_required
@transacting_user_required
@require_POST
def cashout_request(request):
    wallet = request.user.wallet
    params = selectors.treasury_params()
    available = chain_selectors.wallet_balances(address=wallet.address)["available"]
    form = CashOutForm(request.POST, max_units=params["max_payment_units"], available=available)
    status = 400
    if form.is_valid():
        try:
            browser_write_admit(user_id=request.user.pk, what="transactions")
            services.cashout_request(wallet=wallet, amount=form.cleaned_data["amount"])
        except BrowserWriteLimited as exc:
            form.add_error(None, refusal_text(exc.message))
            status = 429
        except Refused as exc:
            form.add_error(exc.field, refusal_text(exc.message))
        else:
            messages.success(
                request, gettext("Cash-out requested: the tokens are held until the issuer pays you.")
            )
            return redirect("treasury")
    return _holder_page(request, status=status, cashout_form=form)


# --- the issuer's queue -------------------------------------------------------


@login_required
@reads_everything_required
def issuer_queue(request):
    may_act = user_role(request.user) == STAFF and services.site_is_issuer()
    cashouts = selectors.cashout_queue()
    context = {
        "params": selectors.treasury_params(),
        "site_is_issuer": services.site_is_issuer(),
        "may_act": may_act,
        "topups": selectors.topup_queue(),
        "asked": selectors.topups_asked_queue(),
        "cashouts": cashouts,
        "recent": selectors.topups_recent(),
        "owners": chain_selectors.usernames_by_address(addresses=[c.owner for c in cashouts]),
        "refusal_form": RefusalForm(),
    }
    return render(request, "treasury/queue.html", context)


def _act(request, action, success: str):
    try:
        action()
    except Refused as exc:
        messages.error(request, refusal_text(exc.message))
    else:
        messages.success(request, success)
    return redirect("treasury-queue")


def _reason(request) -> str:
    form = RefusalForm(request.POST)
    return form.cleaned_data["reason"] if form.is_valid() else ""


@login_required
@issuer_staff_required
@require_POST
def topup_confirm(request, pk):
    return _act(
        request,
        lambda: services.topup_confirm(request_id=pk, staff=request.user),
        gettext("Confirmed: the mint is signed and waits for the next block."),
    )


@login_required
@issuer_staff_required
@require_POST
def topup_refuse(request, pk):
    return _act(
        request,
        lambda: services.topup_refuse(request_id=pk, staff=request.user, reason=_reason(request)),
        gettext("Refused: the person sees your reason."),
    )


@login_required
@issuer_staff_required
@require_POST
def cashout_confirm(request, cashout_id):
    return _act(
        request,
        lambda: services.cashout_confirm(cashout_id=cashout_id),
        gettext("Paid: the burn is signed and waits for the next block."),
    )


@login_required
@issuer_staff_required
@require_POST
def cashout_refuse(request, cashout_id):
    return _act(
        request,
        lambda: services.cashout_refuse(cashout_id=cashout_id, reason=_reason(request)),
        gettext("Refused: the tokens go back to the holder with the next block."),
    )


@login_required
@issuer_staff_required
@require_POST
def topup_asked_confirm(request, reference):
    return _act(
        request,
        lambda: services.topup_asked_confirm(reference=reference),
        gettext("Confirmed: the mint is signed and waits for the next block."),
    )


@login_required
@issuer_staff_required
@require_POST
def topup_asked_refuse(request, reference):
    return _act(
        request,
        lambda: services.topup_asked_refuse(reference=reference, reason=_reason(request)),
        gettext("Refused on chain: the person sees your reason at their site."),
    )
