"""The meters' browser pages: my meters (all of them for regulators and staff), one meter's
readings, and the staff registration form (the carbon report is settlement's)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render

from chain import selectors as chain_selectors
from chain.ledger.errors import Refused
from chain.node import node_address, node_signing_key
from chain.views.access import account_owners, reads_everything
from meters import selectors
from meters.forms import MeterRegisterForm
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
            form.add_error(None, f"{exc.message} ({exc.code})")
        else:
            messages.success(request, f"Registration {tx.hash[:12]}… is waiting for the next block.")
            return redirect("meters")
    return render(
        request,
        "meters/register.html",
        {"form": form, "node_address": node_address()},
        status=400 if form.errors else 200,
    )
