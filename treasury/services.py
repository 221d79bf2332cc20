"""The treasury's write path: top-ups and cash-outs, checked like the ledger will, then signed.

A person asks for a top-up here (a row of this site, off chain) and pays the
amount to the issuer quoting its reference; the issuer's staff confirm it, which
signs a token_mint with this site's node key, or refuse it with a reason. A
cash-out is the person's own signed cashout_request (tokens escrowed at once);
staff pay it and sign token_burn, or refuse it and sign cashout_release. Under
GTX_TOPUP_AUTO_CONFIRM_TOKENS (the demo) a small top-up is confirmed as it is asked,
and at an issuer's site one asked on chain by another site as its block arrives
(``topups_asked_auto_confirm``, run by beat).

At a site that does not issue, a top-up is relayed on chain: the site's node key
signs topup_request with the person's address, amount and reference, so the
issuer's staff see it in their queue at their own site; they answer with the
token_mint of that reference (``topup_asked_confirm``) or topup_refuse.
"""

import logging
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chain.ledger import errors
from chain.ledger.errors import LedgerError, Refused, ledger_text
from chain.ledger.fields import is_hex64, require_text
from chain.ledger.tx import Transaction
from chain.models import ChainHead, MempoolTx, Validator, Wallet
from chain.node import node_address, node_signing_key
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from chain.units import tokens_text
from treasury.ledger import kinds as k
from treasury.models import CashOut, CashOutStatus, TopUp, TopUpAskedStatus, TopUpRequest, TopUpStatus

log = logging.getLogger(__name__)

TOPUP_PREFIX = "TU"
CASHOUT_PREFIX = "CO"
#: Digits after the prefix: 10^12 references, so a random one is new but for a retry in a trillion.
REFERENCE_DIGITS = 12

# Refusal codes of this site's checks (the ledger's own are in treasury.ledger.kinds).
NOT_ISSUER_SITE = "not_issuer_site"
ALREADY_DECIDED = "already_decided"
BURN_WAITING = "burn_waiting"
ANSWER_WAITING = "answer_waiting"


def _params() -> dict:
    return ChainHead.objects.only("params").get().params


def site_is_issuer(params: dict | None = None) -> bool:
    """Whether this site's node key may mint and burn (genesis or governance named it)."""
    return node_address() in k.issuers_of(params if params is not None else _params())


def site_relays_topups() -> bool:
    """Whether this site's node key may sign topup_request (``k.is_relaying_site``: a validator's
    or a follower's record, not jailed): how a site that does not issue still takes top-ups."""
    return Validator.objects.filter(public_key=node_address(), jailed=False).exists()


def payment_reference(prefix: str) -> str:
    """A fresh reference in the shape a Thai bank transfer or PromptPay bill payment carries."""
    return prefix + "".join(secrets.choice("0123456789") for _ in range(REFERENCE_DIGITS))


def check_amount(amount: int, params: dict) -> None:
    """What token_mint and cashout_request check of an amount, said before anything is signed."""
    try:
        k.require_payment_amount({"amount": amount}, params)
    except LedgerError as exc:
        limit = k.max_payment_units(params)
        raise Refused(
            exc.code,
            ledger_text("Enter an amount above 0 and at most %(max)s GTX.", max=tokens_text(limit)),
            "amount",
        ) from exc


def topup_request(*, user, wallet: Wallet, amount: int) -> TopUpRequest:
    """Record a top-up request of ``amount`` units with a new payment reference.

    When the amount is within GTX_TOPUP_AUTO_CONFIRM_TOKENS and this site is an issuer,
    it is confirmed at once (the demo's stand-in for the bank's payment notice).
    """
    params = _params()
    check_amount(amount, params)
    issuer = site_is_issuer(params)
    if not issuer and not site_relays_topups():
        # Only a site the chain knows may relay a request on chain: elsewhere it would wait forever.
        raise Refused(NOT_ISSUER_SITE, "This site cannot ask the issuer for you: top up at an issuer's site.")
    for _attempt in range(3):
        try:
            with transaction.atomic():
                request = TopUpRequest.objects.create(
                    user=user,
                    address=wallet.address,
                    amount=amount,
                    reference=payment_reference(TOPUP_PREFIX),
                    status=TopUpStatus.PENDING if issuer else TopUpStatus.RELAYED,
                )
                if not issuer:
                    # Signed in the row's transaction: a refusal leaves no request behind.
                    payload = {"to": wallet.address, "amount": amount, "reference": request.reference}
                    request.request_tx_hash = _node_submit("topup_request", payload).hash
                    request.save(update_fields=["request_tx_hash"])
            break
        except IntegrityError:  # the reference was taken: draw again
            continue
    else:
        raise Refused(errors.DUPLICATE, "Could not draw a new payment reference; try again.")
    if not issuer:
        return request
    auto_limit = settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS * params["token_unit"]
    if amount <= auto_limit:
        try:
            return topup_confirm(request_id=request.pk, staff=None)
        except Refused as exc:  # left for the issuer's staff
            log.warning("Top-up %s not confirmed automatically: %s", request.reference, exc.message)
    return request


def topup_confirm(*, request_id: int, staff) -> TopUpRequest:
    """Mint a pending top-up: token_mint signed with the node key, its reference the request's.

    The request is claimed with a conditional update and the mint admitted in the
    same database transaction: two clicks (or staff and the automatic path) mint once.
    """
    if not site_is_issuer():
        raise Refused(NOT_ISSUER_SITE, "This site's node key is not a token issuer.")
    with transaction.atomic():
        claimed = TopUpRequest.objects.filter(pk=request_id, status=TopUpStatus.PENDING).update(
            status=TopUpStatus.CONFIRMED, decided_by=staff, decided_at=timezone.now()
        )
        if claimed != 1:
            raise Refused(ALREADY_DECIDED, "This top-up was already confirmed or refused.")
        request = TopUpRequest.objects.get(pk=request_id)
        payload = {"to": request.address, "amount": request.amount, "reference": request.reference}
        tx = _node_submit("token_mint", payload)
        request.mint_tx_hash = tx.hash
        request.save(update_fields=["mint_tx_hash"])
    return request


def topup_refuse(*, request_id: int, staff, reason: str) -> TopUpRequest:
    reason = _reason(reason)
    refused = TopUpRequest.objects.filter(pk=request_id, status=TopUpStatus.PENDING).update(
        status=TopUpStatus.REFUSED, reason=reason, decided_by=staff, decided_at=timezone.now()
    )
    if refused != 1:
        raise Refused(ALREADY_DECIDED, "This top-up was already confirmed or refused.")
    return TopUpRequest.objects.get(pk=request_id)


def _open_asked_topup(reference: str) -> TopUp:
    """A top-up asked on chain that the issuer may answer now; Refused with the reason otherwise."""
    if not site_is_issuer():
        raise Refused(NOT_ISSUER_SITE, "This site's node key is not a token issuer.")
    topup = TopUp.objects.filter(reference=reference).first()
    if topup is None:
        raise Refused(k.TOPUP_NOT_FOUND, "No top-up was asked for on chain with this reference.")
    if topup.status != TopUpAskedStatus.OPEN:
        raise Refused(k.TOPUP_CLOSED, ledger_text("The top-up is already %(status)s.", status=topup.status))
    # A second answer would fail in its block (topup_closed or reference_used); say so now instead.
    if MempoolTx.objects.filter(
        kind__in=("token_mint", "topup_refuse"), payload__reference=reference
    ).exists():
        raise Refused(ANSWER_WAITING, "An answer to this top-up is already waiting for its block.")
    return topup


def topup_asked_confirm(*, reference: str) -> Transaction:
    """The payment of a top-up asked on chain arrived: mint exactly what was asked, to whom."""
    topup = _open_asked_topup(reference)
    payload = {"to": topup.account, "amount": topup.amount, "reference": topup.reference}
    return _node_submit("token_mint", payload)


def topups_asked_auto_confirm(*, batch: int = 50) -> int:
    """The demo's automatic confirmation for top-ups asked at other sites: at an issuer's site,
    every open asked top-up within GTX_TOPUP_AUTO_CONFIRM_TOKENS is minted, oldest first, as its
    staff would (``topup_asked_confirm``). Beat runs it every few seconds; returns how many."""
    params = _params()
    auto_limit = settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS * params["token_unit"]
    if auto_limit <= 0 or not site_is_issuer(params):
        return 0
    waiting = TopUp.objects.filter(status=TopUpAskedStatus.OPEN, amount__lte=auto_limit).order_by(
        "requested_height", "reference"
    )
    minted = 0
    for reference in waiting.values_list("reference", flat=True)[:batch]:
        try:
            topup_asked_confirm(reference=reference)
        except Refused as exc:  # answered meanwhile, or its answer waits for a block
            log.info("Asked top-up %s not confirmed automatically: %s", reference, exc.message)
            continue
        minted += 1
    return minted


def topup_asked_refuse(*, reference: str, reason: str) -> Transaction:
    """Refuse a top-up asked on chain: topup_refuse with the reason the person reads at their site."""
    reason = _reason(reason)
    topup = _open_asked_topup(reference)
    return _node_submit("topup_refuse", {"reference": topup.reference, "reason": reason})


def cashout_request(*, wallet: Wallet, amount: int) -> Transaction:
    """The holder's cashout_request, signed with their wallet key: the amount is escrowed at once."""
    check_amount(amount, _params())
    key = wallet_key_open(wallet)
    try:
        return transaction_sign_submit(key=key, kind="cashout_request", payload={"amount": amount})
    except Refused as exc:
        raise Refused(exc.code, exc.message, "amount") from exc


def _open_cashout(cashout_id: str) -> CashOut:
    if not site_is_issuer():
        raise Refused(NOT_ISSUER_SITE, "This site's node key is not a token issuer.")
    cashout = CashOut.objects.filter(cashout_id=cashout_id).first() if is_hex64(cashout_id) else None
    if cashout is None:
        raise Refused(k.CASHOUT_NOT_FOUND, "There is no cash-out with this id.")
    if cashout.status != CashOutStatus.OPEN:
        raise Refused(
            k.CASHOUT_CLOSED, ledger_text("The cash-out is already %(status)s.", status=cashout.status)
        )
    # A second answer would fail in its block (cashout_closed); say so now instead.
    if MempoolTx.objects.filter(
        kind__in=("token_burn", "cashout_release"), payload__cashout_id=cashout_id
    ).exists():
        raise Refused(BURN_WAITING, "An answer to this cash-out is already waiting for its block.")
    return cashout


def cashout_confirm(*, cashout_id: str) -> Transaction:
    """The issuer paid the holder off chain: burn the escrowed tokens under a new payout reference."""
    cashout = _open_cashout(cashout_id)
    payload = {
        "cashout_id": cashout.cashout_id,
        "owner": cashout.owner,
        "amount": cashout.amount,
        "reference": payment_reference(CASHOUT_PREFIX),
    }
    return _node_submit("token_burn", payload)


def cashout_refuse(*, cashout_id: str, reason: str) -> Transaction:
    """The issuer will not pay: the escrowed tokens go back to the holder's balance, with the reason."""
    reason = _reason(reason)
    cashout = _open_cashout(cashout_id)
    payload = {"cashout_id": cashout.cashout_id, "owner": cashout.owner, "reason": reason}
    return _node_submit("cashout_release", payload)


def _reason(reason: str) -> str:
    try:
        return require_text(reason.strip(), "reason", k.REASON_MAX, required=True)
    except LedgerError as exc:
        raise Refused(exc.code, "Say why, in at most 200 characters of plain text.", "reason") from exc


def _node_submit(kind: str, payload: dict) -> Transaction:
    return transaction_sign_submit(key=node_signing_key(), kind=kind, payload=payload)
