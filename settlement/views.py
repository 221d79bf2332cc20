"""Settlement's pages: a trade against what the seller's meters delivered, and the carbon report.

Trades are ledger data, public like the trade tape; who stands behind the
addresses is shown to regulators and staff only (chain.views.access).
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from chain.ledger.keys import is_address
from chain.views.access import account_owners, reads_everything
from settlement import selectors


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
    return render(
        request,
        "settlement/carbon.html",
        {
            "report": report,
            "everything": everything,
            "owners": account_owners(request, (r.address for r in report["rows"])),
        },
    )
