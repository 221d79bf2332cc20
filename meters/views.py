"""The meters' browser pages: my meters (all of them for regulators and staff), one meter's
readings, the staff registration form (the carbon report is settlement's), and meter requests:
producers ask, the region's utility staff answer, regulators read."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chain import selectors as chain_selectors
from chain.ledger.errors import Refused
from chain.models import Role
from chain.node import node_address, node_signing_key
from chain.refusals import refusal_text
from chain.services.rate_limits import BrowserWriteLimited, browser_write_admit
from chain.views.access import STAFF, account_owners, reads_everything, reads_everything_required, user_role
from meters import selectors, services
from meters.forms import MeterRegisterForm, MeterRequestForm
from meters.services import meter_register


def _own_address(user) -> str | None:
    wallet = getattr(user, "wallet", None)
    return wallet.address if wallet is not None else None


@login_required
def meters_page(request):
    everything = reads_everything(request.user)
    address = _own_address(request.user)
    meters = selectors.meters_of(owner=None if everything else address or "-")
    return render(
        request,
        "meters/meters.html",
        {
            "meters": meters,
            "everything": everything,
            "totals": selectors.meter_totals(meters),
            "address": address,
            "owners": account_owners(request, (m.owner for m in meters)),
            "may_register": request.user.is_staff,
            "may_request": getattr(getattr(request.user, "wallet", None), "role", None) == Role.PRODUCER,
            "reward_per_kwh": chain_selectors.chain_head().params["reward_per_kwh"],
        },
    )


@login_required
def meter_detail(request, meter_id: str):
    meter = selectors.meter_get(meter_id=meter_id)
    if meter is None or not (reads_everything(request.user) or meter.owner == _own_address(request.user)):
        raise Http404("No meter of yours with this key.")
    return render(
        request,
        "meters/meter.html",
        {
            "meter": meter,
            "readings": selectors.readings_recent(meter_id=meter.meter_id),
            "owners": account_owners(request, [meter.owner]),
            "validators": chain_selectors.validator_names(),
        },
    )


@login_required
def meter_register_view(request):
    """Staff only: the node key signs, and must be a grid authority for the region."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff register meters, with the site's grid authority key.")
    regions = chain_selectors.chain_head().params["regions"]
    form = MeterRegisterForm(request.POST or None, regions=regions)
    if request.method == "POST" and form.is_valid():
        try:
            tx = meter_register(key=node_signing_key(), **form.cleaned_data)
        except Refused as exc:
            form.add_error(None, f"{refusal_text(exc.message)} ({exc.code})")
        else:
            messages.success(
                request,
                gettext("Registration {hash}… is waiting for the next block.").format(hash=tx.hash[:12]),
            )
            return redirect("meters")
    return render(
        request,
        "meters/register.html",
        {"form": form, "node_address": node_address()},
        status=400 if form.errors else 200,
    )


# --- meter requests --------------------------------------------------------------------------


def producer_required(view):
    """403 for anyone but a producer with a wallet (consumers, regulators, staff); under login_required."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        wallet = getattr(request.user, "wallet", None)
        if wallet is None or wallet.role != Role.PRODUCER:
            raise PermissionDenied("Only producers request meters.")
        return view(request, *args, **kwargs)

    return wrapper


def utility_staff_required(view):
    """403 for anyone but staff of a site whose node key is a region's utility (regulators read)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if user_role(request.user) != STAFF:
            raise PermissionDenied("Only the utility's staff approve or refuse meter requests.")
        if not services.site_utility_regions():
            raise PermissionDenied("This site's node key is not a region's utility.")
        return view(request, *args, **kwargs)

    return wrapper


def _requests_page(request, form=None, status=200):
    params = chain_selectors.chain_head().params
    context = {
        "form": form or MeterRequestForm(regions=params["regions"]),
        "requests": selectors.meter_requests_of(user=request.user),
        "utility_regions": services.site_utility_regions(params),
    }
    context["waiting"] = any(
        r.status == "requested" or (r.status == "approved" and not r.registered_height and not r.chain_error)
        for r in context["requests"]
    )
    if request.GET.get("part") == "requests":
        return render(request, "meters/_request_list.html", context)
    return render(request, "meters/requests.html", context, status=status)


@login_required
@producer_required
def meter_requests_page(request):
    """A producer's requests and the form to ask for another; ?part=requests is the list alone."""
    if request.method != "POST":
        return _requests_page(request)
    form = MeterRequestForm(request.POST, regions=chain_selectors.chain_head().params["regions"])
    status = 400
    if form.is_valid():
        try:
            browser_write_admit(user_id=request.user.pk, what="requests")
            services.meter_request_create(user=request.user, wallet=request.user.wallet, **form.cleaned_data)
        except BrowserWriteLimited as exc:
            form.add_error(None, refusal_text(exc.message))
            status = 429
        except Refused as exc:
            form.add_error(exc.field, f"{refusal_text(exc.message)} ({exc.code})")
        else:
            messages.success(request, gettext("Requested: the utility checks your meter and answers here."))
            return redirect("meters-requests")
    return _requests_page(request, form=form, status=status)


@login_required
@reads_everything_required
def meter_request_queue(request):
    """The utility's queue: its own regions' requests at a utility's site, every region elsewhere."""
    regions = services.site_utility_regions() or None
    may_act = user_role(request.user) == STAFF and regions is not None
    return render(
        request,
        "meters/request_queue.html",
        {
            "regions": regions,
            "may_act": may_act,
            "waiting": selectors.meter_request_queue(regions=regions),
            "decided": selectors.meter_requests_decided(regions=regions),
        },
    )


def _decide(request, action, success: str):
    try:
        action()
    except Refused as exc:
        messages.error(request, f"{refusal_text(exc.message)} ({exc.code})")
    else:
        messages.success(request, success)
    return redirect("meters-request-queue")


@login_required
@utility_staff_required
@require_POST
def meter_request_approve(request, pk: int):
    return _decide(
        request,
        lambda: services.meter_request_approve(request_id=pk, staff=request.user),
        gettext("Approved: the registration is signed and waits for the next block."),
    )


@login_required
@utility_staff_required
@require_POST
def meter_request_refuse(request, pk: int):
    return _decide(
        request,
        lambda: services.meter_request_refuse(
            request_id=pk, staff=request.user, reason=request.POST.get("reason", "")
        ),
        gettext("Refused: the producer sees your reason."),
    )
