"""Block explorer: public ledger data for everyone, owners' names only for regulators and staff."""

from django.shortcuts import redirect, render

from chain import selectors
from chain.ledger.fields import is_hex64, whole_number
from chain.ledger.keys import is_address
from chain.views.access import account_owners
from chain.views.wallet import ANY_BLOCK_EVENT, HISTORY_LIMIT, PARTS

BLOCKS_PER_PAGE = 25
BLOCK_TX_LIMIT = 500


def _not_found(request, what: str, query: str = ""):
    return render(request, "chain/explorer/not_found.html", {"what": what, "query": query}, status=404)


def _int_or_none(text):
    return whole_number(text, max_digits=18)


def explorer(request):
    before = _int_or_none(request.GET.get("before"))
    blocks = list(selectors.blocks_before(height=before, limit=BLOCKS_PER_PAGE))
    context = {
        "blocks": blocks,
        "before": before,
        "older": blocks[-1].height if len(blocks) == BLOCKS_PER_PAGE else None,
        "stats": selectors.chain_stats(),
    }
    return render(request, "chain/explorer/index.html", context)


def block_detail(request, height):
    block = selectors.block_find(height=height)
    if block is None:
        return _not_found(request, f"block {height}")
    transactions = list(selectors.block_transactions(block=block)[:BLOCK_TX_LIMIT])
    names = selectors.validator_names()
    return render(
        request,
        "chain/explorer/block.html",
        {
            "chain_block": block,  # not "block": templates use that name inside {% block %}
            "transactions": transactions,
            "more_transactions": block.tx_count - len(transactions),
            "certificate": selectors.block_certificate(block=block),
            "proposer_name": names.get(block.proposer, ""),
            "has_next": selectors.chain_head().height > block.height,
            "owners": account_owners(request, [tx.sender for tx in transactions]),
        },
    )


def transaction_detail(request, tx_hash):
    # A hash has the shape of an address (64 lowercase hex); anything else is not looked up.
    found = selectors.transaction_find(tx_hash=tx_hash.lower()) if is_address(tx_hash.lower()) else None
    if found is None:
        return _not_found(request, "transaction", tx_hash)
    status, tx = found
    if status == "committed" and not tx.ok:
        status = "failed"
    parties = [tx.sender, *([tx.payload.get("to")] if isinstance(getattr(tx, "payload", None), dict) else [])]
    return render(
        request,
        "chain/explorer/transaction.html",
        {"tx": tx, "status": status, "owners": account_owners(request, [p for p in parties if p])},
    )


def account_detail(request, address):
    address = address.lower()
    if not is_address(address) or not selectors.account_known(address=address):
        return _not_found(request, "account", address)
    history = list(selectors.account_history(address, limit=HISTORY_LIMIT))
    context = {
        "address": address,
        "balances": selectors.wallet_balances(address=address),
        "pending": selectors.pending_for(address),
        "history": history,
        "owners": account_owners(request, [address, *(p for tx in history for p in tx.parties)]),
        "live_event": ANY_BLOCK_EVENT,
        "part_url": request.path,
    }
    part = request.GET.get("part")
    if part in PARTS:
        return render(request, PARTS[part], context)
    return render(request, "chain/explorer/account.html", context)


def search(request):
    """Height, block hash, transaction hash or address: go to the page that shows it."""
    query = request.GET.get("q", "").strip().lower().lstrip("#")
    if (height := whole_number(query, max_digits=18)) is not None:
        return redirect("explorer-block", height=height)
    if is_hex64(query):
        block = selectors.block_find(block_hash=query)
        if block is not None:
            return redirect("explorer-block", height=block.height)
        if selectors.transaction_find(tx_hash=query) is not None:
            return redirect("explorer-tx", tx_hash=query)
        if selectors.account_known(address=query):
            return redirect("explorer-account", address=query)
    return _not_found(request, "search", query)
