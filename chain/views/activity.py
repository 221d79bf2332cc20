"""A person's activity page: where their transactions stand, and the ledger events that concern them.

Every transaction a person signs in the browser (transfers, orders, cancels, votes, bonds,
cash-outs: all through chain.services.signing with their wallet's key) shows here and in
the header's tray: pending, then included in a block (or failed there with its reason), or
dropped with the receipt's reason. The page's parts and the tray re-fetch themselves when
live.js fires ``wallet-changed``: a block touched the account, or a transaction of theirs
was dropped (chain.events.transactions_dropped). One mechanism for every kind, no polling.
"""

from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from chain import selectors
from chain.services.wallets import wallet_activity_seen
from chain.templatetags.chain_activity import tray_context

FEED_LIMIT = 50
TRANSACTIONS_LIMIT = 25
PARTS = {
    "transactions": "chain/activity/_transactions.html",
    "feed": "chain/activity/_feed.html",
}


@login_required
def activity(request):
    """The page (GET), one of its PARTS (``?part=``), or the header's tray (``?part=tray``)."""
    wallet = getattr(request.user, "wallet", None)
    if wallet is None:
        return render(request, "chain/wallet/none.html")
    part = request.GET.get("part")
    if part == "tray":
        if request.htmx and urlsplit(request.htmx.current_url or "").path == request.path:
            # The tray of the activity page itself: what the page lists is seen, not new.
            wallet_activity_seen(wallet=wallet, seen_id=selectors.activity_latest_id())
        return render(request, "chain/activity/_tray.html", tray_context(request))
    address = wallet.address
    context = {
        "address": address,
        "transactions": selectors.own_transactions(address=address, limit=TRANSACTIONS_LIMIT),
        "feed": selectors.activity_feed(address=address, limit=FEED_LIMIT),
        "part_url": request.path,
    }
    if part in PARTS:
        return render(request, PARTS[part], context)
    # Opening the page sees what it lists: the badge counts from the newest event shown.
    if context["feed"]:
        wallet_activity_seen(wallet=wallet, seen_id=context["feed"][0].id)
    return render(request, "chain/activity/page.html", context)
