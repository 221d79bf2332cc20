"""/governance/: proposals, one proposal with its live tally and votes, the create form, voting.

Thin: parse, authorise, call governance.selectors / governance.services, render.
Reads are public like the rest of the ledger. People with a wallet sign with it;
staff vote for the site with its node key; regulators read only (403 on writes).
The detail page's parts (``?part=tally``, ``?part=votes``) re-fetch themselves
when static/js/governance.js hears of a governance event on the chain's socket.
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
from chain.models import Validator
from chain.node import node_address
from chain.refusals import refusal_text
from chain.services.rate_limits import BrowserWriteLimited, browser_write_admit
from chain.views.access import STAFF, account_owners, may_transact, user_role
from chain.views.field_checks import field_check_response, with_live_checks
from governance import selectors, services
from governance.forms import ACTION_FIELDS, PARAM_LABELS, ProposalForm
from governance.ledger.records import OPTIONS
from governance.models import ProposalStatus

#: htmx event fired by governance.js when a block carries governance events.
GOVERNANCE_EVENT = "governance-changed"
STATUS_TABS = [("", "All"), *ProposalStatus.choices]


def _may_vote(user) -> bool:
    return may_transact(user) or user_role(user) == STAFF


def voter_required(view):
    """403 for regulators and walletless non-staff; use under login_required."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not _may_vote(request.user):
            raise PermissionDenied("Regulators read the ledger; they cannot vote or propose.")
        return view(request, *args, **kwargs)

    return wrapper


def _voter_address(user) -> str | None:
    """Whose stake a vote from this user carries: staff vote as the site's validator."""
    if user_role(user) == STAFF:
        return node_address()
    return user.wallet.address if may_transact(user) else None


def proposal_list(request):
    status = request.GET.get("status", "")
    if status not in ProposalStatus.values:
        status = ""
    proposals = list(selectors.proposals_list(status=status or None)[:100])
    context = {
        "proposals": [{"proposal": p, "tally": selectors.proposal_tally(proposal=p)} for p in proposals],
        "counts": selectors.proposal_counts(),
        "status": status,
        "tabs": STATUS_TABS,
        "height": chain_selectors.chain_head().height,
        "params": selectors.chain_params(),
        "may_propose": request.user.is_authenticated and _may_vote(request.user),
        "governance_event": GOVERNANCE_EVENT,
    }
    if request.GET.get("part") == "list":
        return render(request, "governance/_list.html", context)
    return render(request, "governance/list.html", context)


def _detail_context(request, proposal) -> dict:
    votes = selectors.proposal_votes(proposal=proposal)
    voter = _voter_address(request.user) if request.user.is_authenticated else None
    height = chain_selectors.chain_head().height
    return {
        "proposal": proposal,
        "args": selectors.action_args(proposal),
        "param_label": PARAM_LABELS.get(selectors.action_args(proposal).get("param", ""), ""),
        "tally": selectors.proposal_tally(proposal=proposal),
        "votes": votes,
        "owners": account_owners(request, [v["vote"].voter for v in votes] + [proposal.proposer]),
        "validator_names": chain_selectors.validator_names(),
        "height": height,
        "voting_open": proposal.status == ProposalStatus.OPEN and height + 1 <= proposal.voting_end_height,
        "blocks_left": max(0, proposal.voting_end_height - height),
        "may_vote": request.user.is_authenticated and _may_vote(request.user),
        "votes_as_site": request.user.is_authenticated and user_role(request.user) == STAFF,
        "my_vote": selectors.vote_of(proposal=proposal, address=voter) if voter else None,
        "my_stake": selectors.total_staked_of(address=voter) if voter else 0,
        "options": OPTIONS,
        "governance_event": GOVERNANCE_EVENT,
    }


def proposal_detail(request, number: int):
    proposal = selectors.proposal_find(number=number)
    if proposal is None:
        raise Http404("No proposal has that number.")
    context = _detail_context(request, proposal)
    part = request.GET.get("part")
    if part in ("tally", "votes", "vote"):
        return render(request, f"governance/_{part}.html", context)
    return render(request, "governance/detail.html", context)


@login_required
@voter_required
@require_POST
def vote(request, number: int):
    """Sign and submit the person's vote (staff: the site's validator's vote); 429 past the write rate."""
    proposal = selectors.proposal_find(number=number)
    if proposal is None:
        raise Http404("No proposal has that number.")
    option = request.POST.get("option", "")
    refusal, status = None, 200
    try:
        browser_write_admit(user_id=request.user.pk, what="votes")
        if user_role(request.user) == STAFF:
            services.node_vote_cast(proposal_id=proposal.proposal_id, option=option)
        else:
            services.vote_cast(wallet=request.user.wallet, proposal_id=proposal.proposal_id, option=option)
    except BrowserWriteLimited as exc:
        refusal, status = refusal_text(exc.message), 429
    except Refused as exc:
        refusal = refusal_text(exc.message)
    if request.htmx:
        context = {
            **_detail_context(request, proposal),
            "vote_refused": refusal,
            "vote_sent": refusal is None,
        }
        if refusal is None:
            context["sent_option"] = option
        return render(request, "governance/_vote.html", context, status=status)
    if refusal:
        messages.error(request, refusal)
    else:
        messages.success(
            request,
            gettext("Vote “{option}” signed and sent. It counts from the next block.").format(option=option),
        )
    return redirect(reverse("governance-detail", args=[number]))


def _new_form(data=None) -> ProposalForm:
    form = ProposalForm(
        data, params=selectors.chain_params(), validators=list(Validator.objects.order_by("name"))
    )
    return with_live_checks(form, reverse("governance-check"))


def _form_context(form: ProposalForm, **extra) -> dict:
    return {"form": form, "action_fields": ACTION_FIELDS, **extra}


@login_required
@voter_required
def proposal_new(request):
    """The create-proposal form (GET) and its submission (POST): signed with the person's wallet,
    or by staff with the site's validator key."""
    if request.method != "POST":
        context = _form_context(
            _new_form(), params=selectors.chain_params(), stake=_own_stake(request), as_site=_as_site(request)
        )
        return render(request, "governance/new.html", context)
    form = _new_form(request.POST)
    submitted, status = None, 200
    if form.is_valid():
        try:
            browser_write_admit(user_id=request.user.pk, what="proposals")
            if _as_site(request):
                submitted = services.node_proposal_create(payload=form.payload())
            else:
                submitted = services.proposal_create(wallet=request.user.wallet, payload=form.payload())
        except BrowserWriteLimited as exc:
            form.add_error(None, refusal_text(exc.message))
            status = 429
        except Refused as exc:
            form.add_refusal(exc)
    if submitted is not None and not request.htmx:
        messages.success(
            request, gettext("Proposal signed and sent. It opens for votes with the next block.")
        )
        return redirect(reverse("governance"))
    context = _form_context(
        _new_form() if submitted else form,
        params=selectors.chain_params(),
        stake=_own_stake(request),
        as_site=_as_site(request),
        submitted=submitted,
    )
    template = "governance/_form.html" if request.htmx else "governance/new.html"
    return render(request, template, context, status=status)


def _as_site(request) -> bool:
    return user_role(request.user) == STAFF


def _own_stake(request) -> int:
    return selectors.total_staked_of(address=_voter_address(request.user))


@login_required
@voter_required
@require_POST
def proposal_check(request):
    """htmx: what is wrong with one field of the proposal form, as the fragment beside that field."""
    return field_check_response(_new_form(request.POST), request.GET.get("field", ""))
