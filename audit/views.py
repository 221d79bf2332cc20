"""Audit pages for regulators and staff: trades, blocks, accounts, verify-the-chain,
surveillance and reports. Thin: parse the query, call audit.selectors / audit.services.

Everyone else gets 403 (anonymous: the login page). The one POST here starts a
verification, which reads the ledger and changes nothing on it.
"""

import csv
import time
from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit import selectors
from audit.models import ChainVerification
from audit.services import VerificationRunning, verification_start
from chain.ledger.fields import whole_number
from chain.ledger.keys import is_address
from chain.models import Wallet
from chain.views.access import reads_everything_required
from settlement import selectors as settlement_selectors
from settlement.ledger.certificates import CLAIMED, HELD
from treasury import selectors as treasury_selectors

MAX_DIGITS = 18


def regulator_view(view):
    """Login first (anonymous: the login page), then regulators and staff only (else 403)."""
    return login_required(reads_everything_required(view))


def _int_or_none(text: str | None) -> int | None:
    return whole_number(text, max_digits=MAX_DIGITS)


def _page_number(request) -> int:
    return _int_or_none(request.GET.get("page")) or 1


def _account_query(text: str) -> tuple[str | None, str]:
    """An address, or a site username turned into its address; (None, error) when neither."""
    text = text.strip()
    if not text:
        return None, ""
    if is_address(text.lower()):
        return text.lower(), ""
    address = Wallet.objects.filter(user__username=text).values_list("address", flat=True).first()
    return (address, "") if address else (None, f"No account or username “{text}”.")


def _trade_filters(request) -> dict:
    """slot (Unix ms), zone (a region id) and account (address or username) from the query."""
    zones = selectors.zone_ids()
    slot_text = request.GET.get("slot", "").strip()
    zone = request.GET.get("zone", "")
    account, account_error = _account_query(request.GET.get("account", ""))
    errors = {}
    slot_ms = _int_or_none(slot_text)
    if slot_text and slot_ms is None:
        errors["slot"] = "A delivery slot is its start time in Unix milliseconds."
    if zone and zone not in zones:
        errors["zone"] = f"zone must be one of: {', '.join(zones)}."
        zone = ""
    if account_error:
        errors["account"] = account_error
    return {
        "slot_ms": slot_ms,
        "zone": zone,
        "account": account,
        "errors": errors,
        "zones": zones,
        "query": {k: request.GET.get(k, "") for k in ("slot", "zone", "account")},
    }


@regulator_view
def audit_home(request):
    return render(
        request,
        "audit/home.html",
        {
            "section": "home",
            "verification": ChainVerification.objects.first(),
            "findings": selectors.surveillance_findings(since_ms=_since_ms(7))[:5],
        },
    )


@regulator_view
def trades(request):
    filters = _trade_filters(request)
    if filters["errors"]:
        found = {"page": None, "trades": [], "names": {}, "delivered": {}}
    else:
        found = selectors.trades_page(
            page=_page_number(request),
            slot_ms=filters["slot_ms"],
            zone=filters["zone"],
            account=filters["account"],
        )
    export_query = "&".join(f"{k}={v}" for k, v in filters["query"].items() if v)
    return render(
        request,
        "audit/trades.html",
        {"section": "trades", **filters, **found, "export_query": export_query},
        status=400 if filters["errors"] else 200,
    )


class _Echo:
    """A file-like object whose write returns the line: csv.writer feeds StreamingHttpResponse."""

    def write(self, value):
        return value


#: What makes a spreadsheet read a cell as a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _SafeCsvWriter:
    """csv.writer whose text cells cannot run as spreadsheet formulas.

    Names in an export come from people (usernames may start with + - @) and from the
    genesis; a regulator opens the file in a spreadsheet, where "=HYPERLINK(..)" or
    "@SUM(..)" would run. Such a text cell is written with a leading apostrophe, which
    spreadsheets show as text; integers are written as they are.
    """

    def __init__(self):
        self._writer = csv.writer(_Echo())

    def writerow(self, row):
        return self._writer.writerow([_text_cell(cell) for cell in row])


def _text_cell(cell):
    return "'" + cell if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


TRADE_COLUMNS = [
    "trade_id",
    "height",
    "seq",
    "timestamp_ms",
    "delivery_slot_ms",
    "seller",
    "seller_name",
    "seller_zone",
    "buyer",
    "buyer_name",
    "buyer_zone",
    "source",
    "energy_wh",
    "delivered_wh",
    "price_per_kwh",
    "paid_tokens",
    "wheeling_fee_tokens",
    "carbon_g",
]
EXPORT_CHUNK = 2000


def _trade_csv_rows(trades_queryset):
    """CSV lines of every trade, read in chunks: names and deliveries fetched once per chunk."""
    writer = _SafeCsvWriter()
    yield writer.writerow(TRADE_COLUMNS)
    last = None
    while True:
        chunk_query = trades_queryset
        if last is not None:
            height, seq = last
            chunk_query = chunk_query.filter(height__lte=height).exclude(height=height, seq__gte=seq)
        chunk = list(chunk_query[:EXPORT_CHUNK])
        if not chunk:
            return
        names = selectors.names_by_address([a for t in chunk for a in (t.buyer, t.seller)])
        delivered = selectors.trade_delivered_wh(chunk)
        for t in chunk:
            yield writer.writerow(
                [
                    t.trade_id,
                    t.height,
                    t.seq,
                    t.timestamp_ms,
                    t.delivery_slot_ms,
                    t.seller,
                    names.get(t.seller, ""),
                    t.seller_zone,
                    t.buyer,
                    names.get(t.buyer, ""),
                    t.buyer_zone,
                    t.source,
                    t.energy_wh,
                    "pending" if delivered[t.trade_id] is None else delivered[t.trade_id],
                    t.price_per_kwh,
                    t.paid_tokens,
                    t.wheeling_fee_tokens,
                    t.carbon_g,
                ]
            )
        last = (chunk[-1].height, chunk[-1].seq)


def _csv_response(rows, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@regulator_view
def trades_csv(request):
    filters = _trade_filters(request)
    if filters["errors"]:
        return JsonResponse({"errors": filters["errors"]}, status=400)
    queryset = selectors.trades_filtered(
        slot_ms=filters["slot_ms"], zone=filters["zone"], account=filters["account"]
    )
    return _csv_response(_trade_csv_rows(queryset), "gridtokenx-trades.csv")


PAYMENTS_PER_PAGE = 50
PAYMENT_COLUMNS = [
    "reference",
    "direction",
    "height",
    "account",
    "account_name",
    "amount",
    "issuer",
    "issuer_name",
    "tx_hash",
    "cashout_id",
]


def _payment_direction(request) -> str | None:
    direction = request.GET.get("direction", "")
    return direction if direction in ("mint", "burn") else None


@regulator_view
def treasury(request):
    """Every mint and burn with its payment reference, and the supply reconciled against them."""
    direction = _payment_direction(request)
    page = Paginator(treasury_selectors.payments_list(direction=direction), PAYMENTS_PER_PAGE).get_page(
        _page_number(request)
    )
    names = selectors.names_by_address([a for p in page.object_list for a in (p.account, p.issuer)])
    context = {
        "section": "treasury",
        "page": page,
        "payments": page.object_list,
        "names": names,
        "direction": direction or "",
        "totals": treasury_selectors.supply_reconciliation(),
    }
    return render(request, "audit/treasury.html", context)


def _payment_csv_rows(payments):
    writer = _SafeCsvWriter()
    yield writer.writerow(PAYMENT_COLUMNS)
    for start in range(0, payments.count(), EXPORT_CHUNK):
        chunk = list(payments[start : start + EXPORT_CHUNK])
        names = selectors.names_by_address([a for p in chunk for a in (p.account, p.issuer)])
        for p in chunk:
            yield writer.writerow(
                [
                    p.reference,
                    p.direction,
                    p.height,
                    p.account,
                    names.get(p.account, ""),
                    p.amount,
                    p.issuer,
                    names.get(p.issuer, ""),
                    p.tx_hash,
                    p.cashout_id,
                ]
            )


@regulator_view
def treasury_csv(request):
    payments = treasury_selectors.payments_list(direction=_payment_direction(request)).order_by(
        "height", "reference"
    )
    return _csv_response(_payment_csv_rows(payments), "gridtokenx-mints-and-burns.csv")


@regulator_view
def blocks(request):
    return render(
        request,
        "audit/blocks.html",
        {"section": "blocks", **selectors.blocks_page(page=_page_number(request))},
    )


@regulator_view
def account_search(request):
    address, error = _account_query(request.GET.get("q", ""))
    if address:
        return redirect("audit-account", address=address)
    return render(
        request,
        "audit/account_search.html",
        {"section": "accounts", "error": error, "q": request.GET.get("q", "")},
    )


@regulator_view
def account(request, address):
    address = address.lower()
    if not is_address(address):
        raise Http404("Not an address.")
    history = selectors.account_history_page(address=address, page=_page_number(request))
    balances = selectors.account_balances_over_time(address=address)
    return render(
        request,
        "audit/account.html",
        {
            "section": "accounts",
            "address": address,
            **history,
            "balance_points": balances["points"],
            "replay": balances["replay"],
            "trade_count": selectors.account_trade_count(address=address),
        },
    )


@regulator_view
def verify(request):
    return render(
        request,
        "audit/verify.html",
        {"section": "verify", "runs": ChainVerification.objects.select_related("started_by")[:10]},
    )


@require_POST
@regulator_view
def verify_start(request):
    """Starts a verification: read-only over the ledger, so regulators may do it."""
    try:
        verification = verification_start(user=request.user, replay=request.POST.get("replay") == "on")
    except VerificationRunning as exc:
        messages.error(request, str(exc))
        return redirect("audit-verify")
    return redirect("audit-verification", pk=verification.pk)


@regulator_view
def verification(request, pk):
    run = get_object_or_404(ChainVerification.objects.select_related("started_by"), pk=pk)
    template = "audit/_progress.html" if request.GET.get("part") == "progress" else "audit/verification.html"
    return render(request, template, {"section": "verify", "run": run})


#: Surveillance looks back this many days (0: the whole chain).
SURVEILLANCE_DAYS = (1, 7, 30, 0)


def _since_ms(days: int) -> int:
    """The start of the last ``days`` days in Unix ms; 0 (the whole chain) for 0 days."""
    return max(time.time_ns() // 1_000_000 - days * 86_400_000, 0) if days else 0


@regulator_view
def surveillance(request):
    days = _int_or_none(request.GET.get("days"))
    days = days if days in SURVEILLANCE_DAYS else 7
    findings = selectors.surveillance_findings(since_ms=_since_ms(days))
    names = selectors.names_by_address({a for f in findings for a in f.accounts})
    return render(
        request,
        "audit/surveillance.html",
        {
            "section": "surveillance",
            "findings": findings,
            "names": names,
            "days": days,
            "day_choices": SURVEILLANCE_DAYS,
            "thresholds": selectors.rules.SurveillanceRules(),
        },
    )


def _period(request) -> tuple[str, int]:
    name = request.GET.get("period", "day")
    if name not in selectors.PERIODS:
        name = "day"
    return name, selectors.PERIODS[name]


REPORT_COLUMNS = [
    "period_start",
    "period_ms",
    "traded_wh",
    "renewable_wh",
    "renewable_permille",
    "within_zone_wh",
    "between_zones_wh",
    "delivered_wh",
    "carbon_credits_g",
    "pending_carbon_g",
]
FLOW_COLUMNS = ["period_start", "period_ms", "seller_zone", "buyer_zone", "energy_wh"]


def _iso(ms: int) -> str:
    """The site's one rule for times: its zone, with the offset written out (2026-12-03T09:00:00+07:00)."""
    return timezone.localtime(datetime.fromtimestamp(ms / 1000, tz=UTC)).isoformat()


@regulator_view
def reports(request):
    name, period_ms = _period(request)
    report = selectors.energy_report(period_ms=period_ms)
    flows = selectors.energy_flows(period_ms=period_ms)
    return render(
        request,
        "audit/reports.html",
        {
            "section": "reports",
            "period": name,
            "periods": list(selectors.PERIODS),
            "report": report,
            "flows": flows,
            "chart_data": {"report": report, "flows": flows},
        },
    )


@regulator_view
def reports_csv(request):
    name, period_ms = _period(request)
    what = request.GET.get("table", "periods")
    writer = _SafeCsvWriter()
    if what == "flows":
        rows = selectors.energy_flows(period_ms=period_ms)
        columns = FLOW_COLUMNS
    else:
        rows = selectors.energy_report(period_ms=period_ms)
        columns = REPORT_COLUMNS

    def lines():
        yield writer.writerow(columns)
        for r in rows:
            yield writer.writerow([_iso(r["period_ms"]) if c == "period_start" else r[c] for c in columns])

    return _csv_response(lines(), f"gridtokenx-{'flows' if what == 'flows' else 'energy'}-{name}.csv")


@regulator_view
def reports_json(request):
    name, period_ms = _period(request)
    body = {
        "period": name,
        "period_length_ms": period_ms,
        "units": {"energy": "Wh", "carbon": "g CO2", "share": "per mille"},
        "periods": selectors.energy_report(period_ms=period_ms),
        "flows": selectors.energy_flows(period_ms=period_ms),
    }
    response = JsonResponse(body, json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="gridtokenx-energy-{name}.json"'
    return response


@regulator_view
def certificates(request):
    """Every renewable certificate, and issued = held + claimed against delivered renewable Wh."""
    status = request.GET.get("status")
    status = status if status in (HELD, CLAIMED) else None
    page = Paginator(settlement_selectors.certificates_list(status=status), PAYMENTS_PER_PAGE).get_page(
        _page_number(request)
    )
    names = selectors.names_by_address([a for c in page.object_list for a in (c.holder, c.producer)])
    context = {
        "section": "certificates",
        "page": page,
        "certificates": page.object_list,
        "names": names,
        "status": status or "",
        "totals": settlement_selectors.certificate_registry(),
    }
    return render(request, "audit/certificates.html", context)
