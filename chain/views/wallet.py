"""The wallet page: balances, pending and past transactions, and the forms that sign new ones.

Partials (``?part=balances`` / ``?part=activity``) are what htmx re-fetches when
the WebSocket says a block touched this wallet. Forms post with htmx and fall
back to a plain POST and redirect without JavaScript.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chain import selectors
from chain.forms import WALLET_FORMS
from chain.ledger.errors import Refused
from chain.refusals import refusal_text
from chain.services.rate_limits import BrowserWriteLimited, browser_write_admit
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from chain.views.access import (
    account_owners,
    holds_trading_wallet,
    may_transact,
    reads_everything_required,
    transacting_user_required,
)
from chain.views.field_checks import field_check_response, with_live_checks

PARTS = {"balances": "chain/wallet/_balances.html", "activity": "chain/wallet/_activity.html"}
HISTORY_LIMIT = 50
#: The latest own transactions (with their state) and feed events the wallet shows; the
#: activity page (chain.views.activity) lists more.
OWN_TRANSACTIONS_SHOWN = 5
FEED_SHOWN = 10
#: htmx event names: live.js fires them on WebSocket messages.
OWN_WALLET_EVENT = "wallet-changed"
ANY_BLOCK_EVENT = "chain-block"


def _new_form(kind, wallet, balances, data=None):
    form = WALLET_FORMS[kind](data, wallet=wallet, balances=balances, prefix=kind)
    return with_live_checks(form, reverse("wallet-check", args=[kind]))


def _blank_forms(wallet, balances) -> dict:
    return {kind: _new_form(kind, wallet, balances) for kind in WALLET_FORMS}


def _wallet_context(request, wallet, *, own: bool) -> dict:
    history = list(selectors.account_history(wallet.address, limit=HISTORY_LIMIT))
    return {
        "wallet": wallet,
        "address": wallet.address,
        "balances": selectors.wallet_balances(address=wallet.address),
        "own": own,
        "pending": selectors.pending_for(wallet.address),
        "transactions": selectors.own_transactions(address=wallet.address, limit=OWN_TRANSACTIONS_SHOWN),
        "feed": selectors.activity_feed(address=wallet.address, limit=FEED_SHOWN),
        "history": history,
        "owners": account_owners(request, (p for tx in history for p in tx.parties)),
        "unbonding_blocks": selectors.chain_head().params["unbonding_blocks"],
        "live_event": OWN_WALLET_EVENT if own else ANY_BLOCK_EVENT,
        # The owner of a self-custody wallet signs here in the browser (static/js/self_custody.js).
        "self_custody": own and wallet.self_custody and holds_trading_wallet(request.user),
        "chain_id": selectors.chain_head().chain_id,
        "regions": selectors.chain_regions(),
        "part_url": request.path,
    }


def _render_wallet(request, wallet, *, own: bool, forms: dict | None = None, status: int = 200):
    context = _wallet_context(request, wallet, own=own)
    part = request.GET.get("part")
    if part in PARTS:
        if own and may_transact(request.user):
            context["oob_hints"] = list(WALLET_FORMS)
        return render(request, PARTS[part], context)
    if own and forms is None and may_transact(request.user):
        forms = _blank_forms(wallet, context["balances"])
    context["forms"] = forms or {}
    return render(request, "chain/wallet/page.html", context, status=status)


@login_required
def wallet(request):
    wallet = getattr(request.user, "wallet", None)
    if wallet is None:
        return render(request, "chain/wallet/none.html")
    return _render_wallet(request, wallet, own=True)


@login_required
@reads_everything_required
def wallet_list(request):
    return render(request, "chain/wallet/list.html", {"wallets": selectors.wallets_all()})


@login_required
@reads_everything_required
def wallet_of_user(request, username):
    wallet = selectors.wallet_for_username(username=username)
    if wallet is None:
        raise Http404("No user with that name has a wallet.")
    return _render_wallet(request, wallet, own=wallet.user_id == request.user.id)


@login_required
@transacting_user_required
@require_POST
def wallet_submit(request, kind):
    """Sign and submit one transaction of ``kind`` for the logged-in user.

    Past the person's GTX_BROWSER_WRITE_RATE nothing is signed and the answer is 429.
    """
    if kind not in WALLET_FORMS:
        raise Http404("Unknown wallet action.")
    wallet = request.user.wallet
    balances = selectors.wallet_balances(address=wallet.address)
    form = _new_form(kind, wallet, balances, request.POST)
    submitted = None
    status = 200
    if form.is_valid():
        try:
            browser_write_admit(user_id=request.user.pk, what="transactions")
            submitted = transaction_sign_submit(
                key=wallet_key_open(wallet), kind=kind, payload=form.payload()
            )
        except BrowserWriteLimited as exc:
            form.add_error(None, refusal_text(exc.message))
            status = 429
        except Refused as exc:
            form.add_error(None, refusal_text(exc.message))
    if not request.htmx:
        if submitted is None:
            forms = {**_blank_forms(wallet, balances), kind: form}
            return _render_wallet(request, wallet, own=True, forms=forms, status=status)
        messages.success(request, gettext("Signed and sent. It is waiting for the next block."))
        return redirect("wallet")
    if submitted is not None:
        form = _new_form(kind, wallet, selectors.wallet_balances(address=wallet.address))
    response = render(
        request, "chain/wallet/_form.html", {"form": form, "submitted": submitted}, status=status
    )
    if submitted is not None:
        response["HX-Trigger"] = OWN_WALLET_EVENT
    return response


@login_required
@transacting_user_required
@require_POST
def wallet_check(request, kind):
    """htmx: what is wrong with one field of a wallet form, as the fragment next to that field."""
    if kind not in WALLET_FORMS:
        raise Http404("Unknown wallet action.")
    wallet = request.user.wallet
    form = _new_form(kind, wallet, selectors.wallet_balances(address=wallet.address), request.POST)
    return field_check_response(form, request.GET.get("field", ""))
