"""A trade's page: what was traded against what the seller's meters delivered (settlement).

Trades are ledger data, public like the trade tape; who stands behind the
addresses is shown to regulators and staff only (chain.views.access).
"""

from django.http import Http404
from django.shortcuts import render

from chain.ledger.keys import is_address
from chain.views.access import account_owners
from trading.models import SettlementAccount, Trade


def settlement_status(trade) -> str:
    """ "awaiting delivery" until settled; then "delivered", "short" or "undelivered"."""
    if not trade.settled_height:
        return "awaiting delivery"
    if trade.delivered_wh == trade.energy_wh:
        return "delivered"
    return "short" if trade.delivered_wh else "undelivered"


def trade_detail(request, trade_id: str):
    # A trade id is 64 lowercase hex, the shape of an address; anything else is not looked up.
    trade = Trade.objects.filter(trade_id=trade_id).first() if is_address(trade_id) else None
    if trade is None:
        raise Http404("No trade with this id.")
    seller_record = SettlementAccount.objects.filter(address=trade.seller).first()
    return render(
        request,
        "trading/trade_detail.html",
        {
            "trade": trade,
            "status": settlement_status(trade),
            "seller_paid": trade.paid_tokens - trade.refund_tokens if trade.settled_height else None,
            "delivered_percent": trade.delivered_wh * 100 // trade.energy_wh
            if trade.settled_height
            else None,
            "seller_record": seller_record,
            "owners": account_owners(request, [trade.buyer, trade.seller]),
        },
    )
