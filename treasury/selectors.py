"""The treasury's read path: a holder's requests, the issuer's queue, every mint and burn, the totals."""

from functools import cache

from django.conf import settings
from django.db.models import Count, Q, Sum

from chain.ledger.genesis import load_genesis
from chain.ledger.state import Account
from chain.models import ChainHead, DoubleSign, MempoolTx, Validator
from meters.models import Meter
from treasury.ledger import kinds as k
from treasury.ledger.records import BURN, MINT
from treasury.models import (
    CashOut,
    CashOutStatus,
    Payment,
    TopUp,
    TopUpAskedStatus,
    TopUpRequest,
    TopUpStatus,
)


def treasury_params() -> dict:
    """Who issues, the most one payment moves, and the demo's automatic confirmation limit (units)."""
    params = ChainHead.objects.only("params").get().params
    return {
        "issuers": k.issuers_of(params),
        "max_payment_units": k.max_payment_units(params),
        "auto_confirm_units": settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS * params["token_unit"],
    }


def issuer_sites() -> list[Validator]:
    """The validators that issue tokens: where a person at a site that does not can top up."""
    return list(Validator.objects.filter(public_key__in=treasury_params()["issuers"]).order_by("name"))


def topups_of(*, user, limit: int = 20) -> list[TopUpRequest]:
    """A person's top-up requests, newest first, each with ``credited_height`` once its mint is in a
    block, and for one relayed on chain ``asked`` (its TopUp record, once in a block: the issuer's answer)."""
    requests = list(TopUpRequest.objects.filter(user=user)[:limit])
    references = [r.reference for r in requests]
    heights = dict(Payment.objects.filter(reference__in=references).values_list("reference", "height"))
    asked = {t.reference: t for t in TopUp.objects.filter(reference__in=references)}
    for request in requests:
        request.credited_height = heights.get(request.reference, 0)
        request.asked = asked.get(request.reference)
    return requests


def cashouts_of(*, address: str, limit: int = 20) -> list[CashOut]:
    return list(CashOut.objects.filter(owner=address)[:limit])


def cashout_requests_waiting(*, address: str) -> list[int]:
    """Amounts of this holder's cashout_request transactions still waiting for a block."""
    return [m.payload["amount"] for m in MempoolTx.objects.filter(sender=address, kind="cashout_request")]


def topup_queue() -> list[TopUpRequest]:
    """Pending top-ups, oldest first: the issuer's staff confirm the payments they received."""
    return list(
        TopUpRequest.objects.filter(status=TopUpStatus.PENDING)
        .select_related("user")
        .order_by("created_at", "id")
    )


def topups_asked_queue() -> list[TopUp]:
    """Top-ups asked on chain at other sites and still open, oldest first, each with
    ``answer_waiting`` when a mint or refusal of it is in the mempool and ``site_name``."""
    topups = list(
        TopUp.objects.filter(status=TopUpAskedStatus.OPEN).order_by("requested_height", "reference")
    )
    references = [t.reference for t in topups]
    waiting = set(
        MempoolTx.objects.filter(
            kind__in=("token_mint", "topup_refuse"), payload__reference__in=references
        ).values_list("payload__reference", flat=True)
    )
    names = dict(
        Validator.objects.filter(public_key__in={t.site for t in topups}).values_list("public_key", "name")
    )
    for topup in topups:
        topup.answer_waiting = topup.reference in waiting
        topup.site_name = names.get(topup.site, "")
    return topups


def topups_recent(*, limit: int = 20) -> list[TopUpRequest]:
    return list(
        TopUpRequest.objects.exclude(status=TopUpStatus.PENDING).select_related("user", "decided_by")[:limit]
    )


def cashout_queue() -> list[CashOut]:
    """Open cash-outs, oldest first, each with ``answer_waiting`` when a burn or release is in the mempool."""
    cashouts = list(
        CashOut.objects.filter(status=CashOutStatus.OPEN).order_by("requested_height", "cashout_id")
    )
    waiting = set(
        MempoolTx.objects.filter(
            kind__in=("token_burn", "cashout_release"),
            payload__cashout_id__in=[c.cashout_id for c in cashouts],
        ).values_list("payload__cashout_id", flat=True)
    )
    for cashout in cashouts:
        cashout.answer_waiting = cashout.cashout_id in waiting
    return cashouts


def payments_list(*, direction: str | None = None):
    """Every mint and burn on the chain, newest first (the regulator's list and export)."""
    payments = Payment.objects.all()
    return payments.filter(direction=direction) if direction else payments


@cache
def genesis_supply() -> int:
    """Every token that existed before block 1 (balances and stake of the genesis file), in units."""
    records = load_genesis(settings.GTX_GENESIS_PATH).records()
    return sum(record.total_tokens for record in records if isinstance(record, Account))


def supply_reconciliation() -> dict:
    """Supply now against where it came from: genesis + mints - burns + meter rewards - slashes.

    ``difference`` is 0 on a sound chain: supply changes by no other rule.
    """
    totals = Payment.objects.aggregate(
        minted=Sum("amount", filter=Q(direction=MINT), default=0),
        mints=Count("reference", filter=Q(direction=MINT)),
        burned=Sum("amount", filter=Q(direction=BURN), default=0),
        burns=Count("reference", filter=Q(direction=BURN)),
    )
    rewards = Meter.objects.aggregate(n=Sum("minted_units_total", default=0))["n"]
    slashed = DoubleSign.objects.aggregate(n=Sum("slashed", default=0))["n"]
    escrowed = CashOut.objects.filter(status=CashOutStatus.OPEN).aggregate(n=Sum("amount", default=0))["n"]
    supply = ChainHead.objects.only("total_supply").get().total_supply
    genesis = genesis_supply()
    expected = genesis + totals["minted"] - totals["burned"] + rewards - slashed
    return {
        **totals,
        "genesis": genesis,
        "meter_rewards": rewards,
        "slashed": slashed,
        "cashout_escrow": escrowed,
        "supply": supply,
        "expected": expected,
        "difference": supply - expected,
    }
