"""Settlement's pages: a trade against what the seller's meters delivered, the carbon report,
the holder's certificates (transfer, claim, claim statement) and the monthly statement.

Trades are ledger data, public like the trade tape; who stands behind the
addresses is shown to regulators and staff only (chain.views.access).
"""

import csv
import re
from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.http import require_POST

from chain.ledger.errors import Refused
from chain.ledger.keys import is_address
from chain.refusals import refusal_text
from chain.services.rate_limits import BrowserWriteLimited, browser_write_admit
from chain.views.access import (
    account_owners,
    may_transact,
    reads_everything,
    trading_wallet_required,
    transacting_user_required,
)
from settlement import selectors, services
from settlement.forms import CertificateClaimForm, CertificateTransferForm


def settlement_status(trade) -> str:
    """ "awaiting delivery" until settled; then "delivered", "short" or "undelivered"."""
    if not trade.settled_height:
        return "awaiting delivery"
    if trade.delivered_wh == trade.energy_wh:
        return "delivered"
    return "short" if trade.delivered_wh else "undelivered"


def trade_detail(request, trade_id: str):
    # A trade id is 64 lowercase hex, the shape of an address; anything else is not looked up.
    trade = selectors.trade_get(trade_id=trade_id) if is_address(trade_id) else None
    if trade is None:
        raise Http404("No trade with this id.")
    return render(
        request,
        "settlement/trade_detail.html",
        {
            "trade": trade,
            "status": settlement_status(trade),
            "seller_paid": trade.paid_tokens - trade.refund_tokens if trade.settled_height else None,
            "delivered_percent": trade.delivered_wh * 100 // trade.energy_wh
            if trade.settled_height
            else None,
            "seller_record": selectors.settlement_record(address=trade.seller),
            "owners": account_owners(request, [trade.buyer, trade.seller]),
        },
    )


@login_required
def carbon_report(request):
    everything = reads_everything(request.user)
    wallet = getattr(request.user, "wallet", None)
    address = wallet.address if wallet is not None else None
    report = selectors.carbon_report(address=None if everything else address or "-")
    supplied = selectors.carbon_supplied(address=None if everything else address or "-")
    addresses = [r.address for r in report["rows"]] + [r["seller"] for r in supplied["rows"]]
    return render(
        request,
        "settlement/carbon.html",
        {
            "report": report,
            "supplied": supplied,
            "everything": everything,
            "owners": account_owners(request, addresses),
        },
    )


# --- certificates ------------------------------------------------------------


def _certificates_page(request, status=200, transfer_form=None, claim_form=None):
    wallet = request.user.wallet
    mine = selectors.certificates_of(address=wallet.address)
    return render(
        request,
        "settlement/certificates.html",
        {
            "wallet": wallet,
            "mine": mine,
            "may_sign": may_transact(request.user),
            "transfer_form": transfer_form or CertificateTransferForm(held=mine["held"]),
            "claim_form": claim_form or CertificateClaimForm(held=mine["held"]),
            # A form sent when nothing is held any more: its errors are said above the empty list.
            "forms_sent": [form for form in (transfer_form, claim_form) if form is not None and form.errors],
        },
        status=status,
    )


@login_required
@trading_wallet_required
def certificates(request):
    return _certificates_page(request)


def _certificate_sign(request, form, kind: str, success: str, form_name: str):
    status = 400
    if form.is_valid():
        try:
            browser_write_admit(user_id=request.user.pk, what="transactions")
            services.certificate_sign(wallet=request.user.wallet, kind=kind, payload=form.payload())
        except BrowserWriteLimited as exc:
            form.add_error(None, refusal_text(exc.message))
            status = 429
        except Refused as exc:
            form.add_error(exc.field, refusal_text(exc.message))
        else:
            messages.success(request, success)
            return redirect("certificates")
    return _certificates_page(request, status=status, **{form_name: form})


@login_required
@transacting_user_required
@require_POST
def certificate_transfer(request):
    held = selectors.certificates_of(address=request.user.wallet.address)["held"]
    form = CertificateTransferForm(request.POST, held=held)
    return _certificate_sign(
        request,
        form,
        "certificate_transfer",
        gettext("Certificate transfer signed: it moves with the next block."),
        "transfer_form",
    )


@login_required
@transacting_user_required
@require_POST
def certificate_claim(request):
    held = selectors.certificates_of(address=request.user.wallet.address)["held"]
    form = CertificateClaimForm(request.POST, held=held)
    return _certificate_sign(
        request,
        form,
        "certificate_claim",
        gettext("Claim signed: the certificates are retired with the next block."),
        "claim_form",
    )


@login_required
@trading_wallet_required
def certificates_claimed_csv(request):
    """The holder's claim statement: every certificate it claimed, for whom, from which producer."""
    claimed = selectors.certificates_of(address=request.user.wallet.address)["claimed"]
    rows = [CLAIM_COLUMNS] + [
        [
            c.certificate_id,
            c.claimed_height,
            spreadsheet_text(c.beneficiary),
            c.wh,
            c.source,
            c.zone,
            c.producer,
            c.delivery_slot_ms,
            c.trade_id,
        ]
        for c in claimed
    ]
    return _csv_response(rows, "gridtokenx-certificate-claims.csv")


CLAIM_COLUMNS = [
    "certificate_id",
    "claimed_height",
    "beneficiary",
    "wh",
    "source",
    "zone",
    "producer",
    "delivery_slot_ms",
    "trade_id",
]


def spreadsheet_text(text: str) -> str:
    """Text a spreadsheet shows as text: a leading = + - @ tab or CR would make it a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_response(rows, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv.writer(response).writerows(rows)
    return response


# --- the monthly statement ---------------------------------------------------

#: The statement's lines: (key, label, unit), in the order of the page and the CSV.
STATEMENT_LINES = [
    ("bought_wh", gettext_noop("Energy bought and delivered"), "Wh"),
    ("bought_short_wh", gettext_noop("Energy bought, not delivered (refunded)"), "Wh"),
    ("energy_cost", gettext_noop("Paid for energy, after refunds"), "units"),
    ("refunds", gettext_noop("Settlement refunds"), "units"),
    ("wheeling_fees", gettext_noop("Wheeling fees paid to the grid operator"), "units"),
    ("bought_pending_wh", gettext_noop("Bought, awaiting settlement"), "Wh"),
    ("cost_pending", gettext_noop("Held for purchases awaiting settlement"), "units"),
    ("sold_wh", gettext_noop("Energy sold and delivered"), "Wh"),
    ("sold_short_wh", gettext_noop("Energy sold, not delivered"), "Wh"),
    ("earned", gettext_noop("Earned from sales, after shortfalls"), "units"),
    ("sold_pending_wh", gettext_noop("Sold, awaiting settlement"), "Wh"),
    ("earned_pending", gettext_noop("Held for sales awaiting settlement"), "units"),
    ("topups", gettext_noop("Top-ups (tokens minted against a payment)"), "units"),
    ("cashouts", gettext_noop("Cash-outs paid"), "units"),
    ("certificates_claimed_wh", gettext_noop("Certificates claimed"), "Wh"),
    ("net", gettext_noop("Net from trading: earned − paid − wheeling fees"), "units"),
]
#: The market against the utility's rates (settlement.tariffs).
UTILITY_LINES = [
    ("utility_flat_cost", gettext_noop("The energy you bought, at the flat residential rate"), "units"),
    ("utility_tou_cost", gettext_noop("The energy you bought, at the time-of-use rate"), "units"),
    ("bought_peak_wh", gettext_noop("Of it delivered in time-of-use peak hours"), "Wh"),
    ("saved_vs_flat", gettext_noop("Saved against the flat rate (market price and wheeling fees)"), "units"),
    ("saved_vs_tou", gettext_noop("Saved against the time-of-use rate"), "units"),
    ("buyback_value", gettext_noop("The energy you sold, at the rooftop buy-back rate"), "units"),
    ("earned_beyond_buyback", gettext_noop("Earned beyond the buy-back rate"), "units"),
]
#: The shares a community reports, for the member and for everyone (ppm; None: no meter data).
KPI_LINES = [
    ("self_sufficiency_ppm", gettext_noop("Self-sufficiency: metered import bought on the market")),
    ("self_consumption_ppm", gettext_noop("Self-consumption: metered export sold on the market")),
    ("renewable_share_ppm", gettext_noop("Renewable share of metered import")),
]
#: The figures of the CSV besides the lines.
STATEMENT_FIGURES = [
    ("metered_import_wh", "Wh"),
    ("metered_export_wh", "Wh"),
    ("community_import_wh", "Wh"),
    ("community_traded_wh", "Wh"),
]


def _month(request) -> tuple[int, int]:
    """``?month=YYYY-MM`` (whole string), else the current month in the site's zone; 404 if malformed."""
    text = request.GET.get("month")
    if text is None:
        now = timezone.localtime()
        return now.year, now.month
    match = MONTH.fullmatch(text)
    if match is None or not 1 <= int(match["month"]) <= 12:
        raise Http404("month must be YYYY-MM.")
    return int(match["year"]), int(match["month"])


MONTH = re.compile(r"(?P<year>20[0-9]{2})-(?P<month>[0-9]{2})")


@login_required
@trading_wallet_required
def statement(request):
    year, month = _month(request)
    figures = selectors.monthly_statement(address=request.user.wallet.address, year=year, month=month)
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return render(
        request,
        "settlement/statement.html",
        {
            "month": f"{year:04d}-{month:02d}",
            "month_start": date(year, month, 1),
            "previous": f"{previous[0]:04d}-{previous[1]:02d}",
            "following": f"{following[0]:04d}-{following[1]:02d}",
            "lines": [(gettext(label), unit, figures[key]) for key, label, unit in STATEMENT_LINES],
            "utility_lines": [(gettext(label), unit, figures[key]) for key, label, unit in UTILITY_LINES],
            "kpis": [(gettext(label), figures[key], figures[f"community_{key}"]) for key, label in KPI_LINES],
            "figures": figures,
            "claims": figures["claims"],
            "site_zone": settings.TIME_ZONE,
        },
    )


@login_required
@trading_wallet_required
def statement_csv(request):
    year, month = _month(request)
    address = request.user.wallet.address
    figures = selectors.monthly_statement(address=address, year=year, month=month)
    rows = [
        ["account", address],
        ["month", f"{year:04d}-{month:02d}", settings.TIME_ZONE],
        ["note", "1 token = 1,000,000 units, about 1 THB"],
        ["line", "value", "unit"],
    ]
    rows += [[key, figures[key], unit] for key, _label, unit in STATEMENT_LINES + UTILITY_LINES]
    rows += [[key, figures[key], unit] for key, unit in STATEMENT_FIGURES]
    for key, _label in KPI_LINES:
        for name in (key, f"community_{key}"):
            rows.append([name, "" if figures[name] is None else figures[name], "ppm"])
    rates = figures["tariffs"]
    rows += [
        ["tariff_flat_per_kwh", rates.flat_per_kwh, "units/kWh"],
        ["tariff_tou_peak_per_kwh", rates.tou_peak_per_kwh, "units/kWh"],
        ["tariff_tou_offpeak_per_kwh", rates.tou_offpeak_per_kwh, "units/kWh"],
        ["tariff_buyback_per_kwh", rates.buyback_per_kwh, "units/kWh"],
    ]
    return _csv_response(rows, f"gridtokenx-statement-{year:04d}-{month:02d}.csv")
