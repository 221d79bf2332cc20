"""The audit read path: trades with both parties, blocks with certificates, account
history, surveillance inputs and the energy reports. Read-only over chain and market.

Every list is paginated and costs a fixed number of queries whatever the page size
(names, deliveries and certificates are fetched per page, never per row).
"""

from collections.abc import Iterable

from django.core.paginator import Paginator
from django.db.models import BigIntegerField, Case, F, Q, Subquery, Sum, Value, When
from django.db.models.functions import Mod

from audit.ledger import surveillance as rules
from audit.models import AccountSnapshot, ChainVerification
from chain.ledger.block import precommit_valid
from chain.models import Account, Block, ChainHead, ChainTx, Validator, Wallet
from trading.ledger.rules import RENEWABLE_SOURCES
from trading.models import Trade

TRADES_PER_PAGE = 50
BLOCKS_PER_PAGE = 25
HISTORY_PER_PAGE = 50
#: Report periods by name, in ms. Days and hours are counted in Thai time (UTC+7, no DST).
PERIODS = {"slot": 900_000, "hour": 3_600_000, "day": 86_400_000}
THAI_OFFSET_MS = 7 * 3_600_000


# --- trades ---------------------------------------------------------------------------------


def trades_filtered(*, slot_ms: int | None = None, zone: str | None = None, account: str | None = None):
    """Every trade, newest first; ``zone`` matches either end, ``account`` either party."""
    trades = Trade.objects.order_by("-height", "-seq")
    if slot_ms is not None:
        trades = trades.filter(delivery_slot_ms=slot_ms)
    if zone:
        trades = trades.filter(Q(seller_zone=zone) | Q(buyer_zone=zone))
    if account:
        trades = trades.filter(Q(buyer=account) | Q(seller=account))
    return trades


def trade_delivered_wh(trades: list[Trade]) -> dict[str, int | None]:
    """Wh delivered per trade id, or None while its slot is not settled (shown "pending").

    The one place that knows where delivery is recorded: the market's settlement
    sets ``delivered_wh`` and ``settled_height`` on the trade when its slot settles.
    """
    return {t.trade_id: t.delivered_wh if t.settled_height else None for t in trades}


def names_by_address(addresses: Iterable[str]) -> dict[str, str]:
    """Who is behind each address: a site user's name, else a validator's name. One query each."""
    addresses = set(addresses)
    names = dict(Validator.objects.filter(public_key__in=addresses).values_list("public_key", "name"))
    names.update(Wallet.objects.filter(address__in=addresses).values_list("address", "user__username"))
    return names


def trades_page(*, page: int, slot_ms=None, zone=None, account=None, per_page: int = TRADES_PER_PAGE) -> dict:
    """One page of trades with both parties' names and delivered Wh."""
    paginator = Paginator(trades_filtered(slot_ms=slot_ms, zone=zone, account=account), per_page)
    trades_on_page = paginator.get_page(page)
    rows = list(trades_on_page.object_list)
    return {
        "page": trades_on_page,
        "trades": rows,
        "names": names_by_address([a for t in rows for a in (t.buyer, t.seller)]),
        "delivered": trade_delivered_wh(rows),
    }


def zone_ids() -> list[str]:
    return [r["id"] for r in ChainHead.objects.only("params").get().params["regions"]]


# --- blocks ---------------------------------------------------------------------------------


def blocks_page(*, page: int, per_page: int = BLOCKS_PER_PAGE) -> dict:
    """One page of blocks, newest first, each with its certificate checked (rows of
    {validator, name, valid}) and whether its header re-hashes to its stored hash."""
    head = ChainHead.objects.only("chain_id").get()
    paginator = Paginator(Block.objects.order_by("-height"), per_page)
    blocks_on_page = paginator.get_page(page)
    names = dict(Validator.objects.values_list("public_key", "name"))
    rows = []
    for block in blocks_on_page.object_list:
        header = block.header(head.chain_id)
        hash_ok = header.hash == block.hash
        votes = [
            {
                "validator": vote.get("validator", ""),
                "name": names.get(vote.get("validator", ""), "unknown validator"),
                "valid": hash_ok and precommit_valid(header, vote),
            }
            for vote in block.commit_certificate
        ]
        rows.append(
            {"block": block, "hash_ok": hash_ok, "votes": votes, "proposer": names.get(block.proposer, "")}
        )
    return {"page": blocks_on_page, "rows": rows}


# --- accounts -------------------------------------------------------------------------------


def account_history_page(*, address: str, page: int, per_page: int = HISTORY_PER_PAGE) -> dict:
    """Every committed transaction touching ``address``, newest first: those it sent or that name
    it (its ``parties``), and those that filled one of its resting orders (the taker's order)."""
    taker_order = Case(When(taker_side="buy", then=F("buy_order_id")), default=F("sell_order_id"))
    filled_by = (
        Trade.objects.filter(Q(buyer=address, taker_side="sell") | Q(seller=address, taker_side="buy"))
        .annotate(taker_order=taker_order)
        .values("taker_order")
    )
    txs = ChainTx.objects.select_related("block").filter(
        Q(parties__contains=[address]) | Q(hash__in=Subquery(filled_by))
    )
    paginator = Paginator(txs.order_by("-block_id", "-position"), per_page)
    txs_on_page = paginator.get_page(page)
    rows = list(txs_on_page.object_list)
    return {
        "page": txs_on_page,
        "transactions": rows,
        "names": names_by_address([address, *(p for tx in rows for p in tx.parties)]),
        "account": Account.objects.filter(address=address).first(),
    }


def account_balances_over_time(*, address: str) -> dict:
    """Balances after each block that changed the account, as the last replay recomputed them."""
    last_replay = ChainVerification.objects.filter(replay=True, status="passed").order_by("-id").first()
    points = list(
        AccountSnapshot.objects.filter(address=address)
        .order_by("height")
        .values("height", "timestamp_ms", "balance", "staked", "escrow_tokens", "energy_wh", "escrow_wh")
    )
    return {"points": points, "replay": last_replay}


def account_trade_count(*, address: str) -> int:
    return Trade.objects.filter(Q(buyer=address) | Q(seller=address)).count()


# --- surveillance ---------------------------------------------------------------------------


def surveillance_findings(
    *, since_ms: int = 0, thresholds: rules.SurveillanceRules | None = None
) -> list[rules.Finding]:
    """Every rule over trades, transfers and cancels since ``since_ms`` (block time). Four queries."""
    thresholds = thresholds or rules.SurveillanceRules()
    trades = [
        rules.TradeFact(*row)
        for row in Trade.objects.filter(timestamp_ms__gte=since_ms).values_list(
            "trade_id", "timestamp_ms", "delivery_slot_ms", "buyer", "seller", "energy_wh", "price_per_kwh"
        )
    ]
    committed = ChainTx.objects.filter(ok=True, block__timestamp_ms__gte=since_ms)
    transfers = [
        rules.TransferFact(sender, recipient, at_ms)
        for sender, recipient, at_ms in committed.filter(kind="transfer").values_list(
            "sender", "payload__to", "block__timestamp_ms"
        )
        if isinstance(recipient, str)
    ]
    cancels = [
        rules.CancelFact(tx_hash, sender, order_id if isinstance(order_id, str) else "", at_ms)
        for tx_hash, sender, order_id, at_ms in committed.filter(kind="order_cancel").values_list(
            "hash", "sender", "payload__order_id", "block__timestamp_ms"
        )
    ]
    owners = {
        address: email.strip().lower()
        for address, email in Wallet.objects.exclude(user__email="").values_list("address", "user__email")
    }
    findings = [
        *rules.self_dealing(trades, transfers, owners, thresholds),
        *rules.wash_trades(trades, thresholds),
        *rules.price_outliers(trades, thresholds),
        *rules.cancel_bursts(cancels, thresholds),
    ]
    return sorted(findings, key=lambda f: (-f.at_ms, f.rule))


# --- reports --------------------------------------------------------------------------------


def _period_start(period_ms: int):
    """The start of a trade's delivery period (Unix ms), computed in the database, in integers."""
    shifted = F("delivery_slot_ms") + Value(THAI_OFFSET_MS)
    # Django's Mod of integers is a float unless told: a period would reach the CSV as "….0".
    return F("delivery_slot_ms") - Mod(shifted, Value(period_ms), output_field=BigIntegerField())


def energy_flows(*, period_ms: int) -> list[dict]:
    """Wh traded per period from seller zone to buyer zone (within a zone when both are the same)."""
    return list(
        Trade.objects.annotate(period_ms=_period_start(period_ms))
        .values("period_ms", "seller_zone", "buyer_zone")
        .annotate(energy_wh=Sum("energy_wh"))
        .order_by("period_ms", "seller_zone", "buyer_zone")
    )


def carbon_credits_g(*, period_ms: int) -> dict[int, dict]:
    """Carbon credits per period in g CO2: what settled trades' delivered renewable Wh avoided
    (the market's ``delivered_carbon_g``), and what unsettled trades would (``carbon_g``).
    The one place that decides which figure is a credit."""
    rows = (
        Trade.objects.annotate(period_ms=_period_start(period_ms))
        .values("period_ms")
        .annotate(
            credited=Sum("delivered_carbon_g", filter=Q(settled_height__gt=0)),
            pending=Sum("carbon_g", filter=Q(settled_height=0)),
            delivered_wh=Sum("delivered_wh", filter=Q(settled_height__gt=0)),
        )
        .order_by("period_ms")
    )
    return {
        r["period_ms"]: {
            "carbon_credits_g": r["credited"] or 0,
            "pending_carbon_g": r["pending"] or 0,
            "delivered_wh": r["delivered_wh"] or 0,
        }
        for r in rows
    }


def energy_report(*, period_ms: int) -> list[dict]:
    """Per period: traded Wh, renewable Wh (by the sell order's source), share in per mille,
    Wh within zones and between zones, delivered Wh (settled trades), carbon credits in g
    (settled) and carbon still pending settlement. Integers only."""
    by_source = (
        Trade.objects.annotate(period_ms=_period_start(period_ms))
        .values("period_ms", "source")
        .annotate(energy_wh=Sum("energy_wh"))
    )
    periods: dict[int, dict] = {}

    def row(start: int) -> dict:
        return periods.setdefault(
            start,
            {
                "period_ms": start,
                "traded_wh": 0,
                "renewable_wh": 0,
                "within_zone_wh": 0,
                "between_zones_wh": 0,
                "delivered_wh": 0,
                "carbon_credits_g": 0,
                "pending_carbon_g": 0,
            },
        )

    for r in by_source:
        entry = row(r["period_ms"])
        entry["traded_wh"] += r["energy_wh"]
        if r["source"] in RENEWABLE_SOURCES:
            entry["renewable_wh"] += r["energy_wh"]
    for flow in energy_flows(period_ms=period_ms):
        key = "within_zone_wh" if flow["seller_zone"] == flow["buyer_zone"] else "between_zones_wh"
        row(flow["period_ms"])[key] += flow["energy_wh"]
    for start, carbon in carbon_credits_g(period_ms=period_ms).items():
        row(start).update(carbon)
    result = [periods[k] for k in sorted(periods)]
    for entry in result:
        entry["renewable_permille"] = (
            entry["renewable_wh"] * 1000 // entry["traded_wh"] if entry["traded_wh"] else 0
        )
    return result
