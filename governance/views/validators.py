"""/validators/: the validator set with its record and peer health, staff actions, the audit trail.

Everyone logged in sees the list; only staff see and use the actions, which are
authority transactions signed with the site's node key (never database edits).
Peer health is a part (``?part=health``) the page loads after it shows, so a
dead peer never holds the page up.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chain import selectors as chain_selectors
from chain.ledger.errors import Refused
from chain.models import Account, Validator
from chain.node import node_address
from chain.peers import peer_urls
from chain.refusals import refusal_text
from chain.views.access import STAFF, account_owners, user_role
from chain.views.field_checks import field_check_response, with_live_checks
from governance import selectors, services
from governance.forms import StakeChangeForm, ValidatorRegisterForm


def staff_required(view):
    """403 for anyone logged in but staff (regulators included); use under login_required."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if user_role(request.user) != STAFF:
            raise PermissionDenied("Only staff administer validators.")
        return view(request, *args, **kwargs)

    return wrapper


def _register_form(data=None) -> ValidatorRegisterForm:
    form = ValidatorRegisterForm(
        data, params=selectors.chain_params(), validators=list(Validator.objects.all())
    )
    return with_live_checks(form, reverse("validators-check"))


def _stake_form(data=None) -> StakeChangeForm:
    account = Account.objects.filter(address=node_address()).first()
    return StakeChangeForm(
        data, balance=account.balance if account else 0, staked=account.staked if account else 0
    )


def _page(request, *, register_form=None, stake_form=None, status=200):
    is_staff = user_role(request.user) == STAFF
    rows = selectors.validators_overview()
    context = {
        "rows": rows,
        "active_count": sum(1 for row in rows if row["validator"].active and not row["validator"].jailed),
        "is_staff": is_staff,
        "height": chain_selectors.chain_head().height,
        "node_address": node_address(),
        "params": selectors.chain_params(),
    }
    if is_staff:
        context["register_form"] = register_form or _register_form()
        context["stake_form"] = stake_form or _stake_form()
        context["site_row"] = next((row for row in rows if row["is_this_site"]), None)
    return render(request, "governance/validators.html", context, status=status)


@login_required
def validator_list(request):
    if request.GET.get("part") == "health":
        validators = list(Validator.objects.order_by("-active", "-authority", "name"))
        me = node_address()
        # The URLs consensus uses (GTX_PEER_URLS over the genesis urls): a peer is up here
        # exactly when this site can reach it. This site answers for itself without a round trip.
        urls = peer_urls(active_only=False)
        health = selectors.node_health(urls=sorted(set(urls.values())))
        health[me] = selectors.own_health()
        rows = [
            {
                "validator": v,
                "url": urls.get(v.public_key, ""),
                "health": health[me] if v.public_key == me else health.get(urls.get(v.public_key)),
            }
            for v in validators
        ]
        return render(request, "governance/_health.html", {"rows": rows, "node_address": me})
    return _page(request)


@login_required
def validator_audit(request):
    """Every validator administration transaction on chain, with who signed it."""
    txs = list(selectors.validator_audit(limit=200))
    return render(
        request,
        "governance/validator_audit.html",
        {
            "txs": txs,
            "validator_names": chain_selectors.validator_names(),
            "owners": account_owners(request, [tx.sender for tx in txs]),
        },
    )


def _done(request, tx, what: str):
    messages.success(
        request,
        gettext(
            "{what} signed by this site's authority key and sent ({hash}…). "
            "It takes effect with the next block."
        ).format(what=what, hash=tx.hash[:12]),
    )
    return redirect(reverse("validators"))


def _refused(request, exc):
    messages.error(request, refusal_text(exc.message))
    return redirect(reverse("validators"))


@login_required
@staff_required
@require_POST
def validator_register(request):
    form = _register_form(request.POST)
    if form.is_valid():
        try:
            tx = services.validator_admin(kind="validator_register", payload=form.payload())
        except Refused as exc:
            form.add_refusal(exc)
        else:
            return _done(
                request, tx, gettext("Registration of {name}").format(name=form.cleaned_data["name"])
            )
    return _page(request, register_form=form, status=400)


@login_required
@staff_required
@require_POST
def validator_register_check(request):
    return field_check_response(_register_form(request.POST), request.GET.get("field", ""))


def _target(public_key: str) -> Validator:
    validator = selectors.validator_find(public_key=public_key)
    if validator is None:
        raise Http404("No validator has that public key.")
    return validator


@login_required
@staff_required
@require_POST
def validator_set_active(request, public_key: str):
    validator = _target(public_key)
    active = request.POST.get("active") == "true"
    try:
        tx = services.validator_admin(
            kind="validator_set_active", payload={"public_key": public_key, "active": active}
        )
    except Refused as exc:
        return _refused(request, exc)
    return _done(
        request,
        tx,
        (gettext("Activation of {name}") if active else gettext("Deactivation of {name}")).format(
            name=validator.name
        ),
    )


@login_required
@staff_required
@require_POST
def validator_unjail(request, public_key: str):
    validator = _target(public_key)
    try:
        tx = services.validator_admin(kind="validator_unjail", payload={"public_key": public_key})
    except Refused as exc:
        return _refused(request, exc)
    return _done(request, tx, gettext("Unjailing of {name}").format(name=validator.name))


@login_required
@staff_required
@require_POST
def validator_stake(request):
    """Bond or unbond this site's own validator stake (stake_bond / stake_unbond, its own key)."""
    form = _stake_form(request.POST)
    if form.is_valid():
        bond = form.cleaned_data["direction"] == "bond"
        try:
            tx = services.node_stake_change(bond=bond, amount=form.cleaned_data["amount"])
        except Refused as exc:
            form.add_error("amount", refusal_text(exc.message))
        else:
            return _done(request, tx, gettext("Stake bond") if bond else gettext("Stake unbond"))
    return _page(request, stake_form=form, status=400)


@login_required
@staff_required
@require_POST
def validator_mining(request):
    """Turn this site's validator's mining on or off (validator_set_mining, its own key)."""
    mining = request.POST.get("mining")
    if mining not in ("true", "false"):
        messages.error(request, gettext("Say whether this site mines: true or false."))
        return redirect(reverse("validators"))
    try:
        tx = services.node_mining_set(mining=mining == "true")
    except Refused as exc:
        return _refused(request, exc)
    return _done(request, tx, gettext("Mining on") if mining == "true" else gettext("Mining off"))
