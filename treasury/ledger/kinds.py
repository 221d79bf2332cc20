"""Treasury kinds: tokens in against a payment, tokens out against a cash-out.

An issuer (a validator named in genesis ``[treasury] issuers``, the params'
``issuers`` list of addresses) signs ``token_mint`` when a payment has reached
it off chain, and ``token_burn`` when it has paid a cash-out; it may refuse a
cash-out with ``cashout_release``. A holder signs ``cashout_request``, which
moves the amount from its balance into ``escrow_tokens`` at once.

A site that does not issue relays its users' top-ups on chain: its node key signs
``topup_request`` (a newcomer's account does not exist yet and could sign
nothing), which every site sees; the issuer answers with the ``token_mint`` of
that reference, which must match it, or with ``topup_refuse``. A site is a
registered validator record, active (it votes) or not (a follower, which serves
users but does not vote), and not jailed: jailing suspends a node's rights, as it
does an authority's, until an authority unjails it.

Total supply changes here only: a mint adds ``amount`` (``minted_units``), a
burn removes it (``burned_units``); a request and a release move tokens inside
one account. Every payment reference is used once on the chain (mint or burn),
so one bank transfer can never be credited twice.
"""

from dataclasses import replace

from chain.ledger import errors
from chain.ledger.encoding import MAX_SAFE_INTEGER
from chain.ledger.errors import LedgerError
from chain.ledger.fields import is_payment_reference, require_hex64, require_text
from chain.ledger.keys import is_address
from chain.ledger.kinds import BlockContext, TxKind, release_matured_unbonding
from chain.ledger.state import Account, State, Validator
from chain.ledger.tx import Transaction, require_amount, require_fields

from .records import BURN, BURNT, MINT, MINTED, OPEN, REFUSED, RELEASED, CashOut, Payment, TopUp

REASON_MAX = 200

# Refusal codes (API clients match on them; views and tests import them).
NOT_ISSUER = "not_issuer"
BAD_REFERENCE = "bad_reference"
REFERENCE_USED = "reference_used"
CASHOUT_NOT_FOUND = "cashout_not_found"
CASHOUT_CLOSED = "cashout_closed"
CASHOUT_MISMATCH = "cashout_mismatch"
NOT_A_SITE = "not_a_site"
TOPUP_NOT_FOUND = "topup_not_found"
TOPUP_CLOSED = "topup_closed"
TOPUP_MISMATCH = "topup_mismatch"


def issuers_of(params: dict) -> list[str]:
    return params.get("issuers", [])


def max_payment_units(params: dict) -> int:
    """The most one mint, burn or cash-out moves; 0 (a genesis without ``[treasury]``) allows none."""
    return params.get("max_payment_units", 0)


def require_payment_amount(payload: dict, params: dict) -> None:
    limit = max_payment_units(params)
    if limit <= 0:
        raise LedgerError(errors.BAD_AMOUNT, "This chain has no treasury: max_payment_units is 0.")
    require_amount(payload, "amount", maximum=min(limit, MAX_SAFE_INTEGER))


def _require_reference(payload: dict) -> None:
    if not is_payment_reference(payload["reference"]):
        raise LedgerError(
            BAD_REFERENCE,
            "reference must be 8 to 20 upper-case letters and digits, starting with a letter.",
        )


def _require_issuer(tx: Transaction, ctx: BlockContext) -> None:
    if tx.sender not in issuers_of(ctx.params):
        raise LedgerError(NOT_ISSUER, "Only a token issuer named by genesis or governance can sign this.")


def _require_unused(state: State, reference: str) -> None:
    if state.get(Payment.table, reference) is not None:
        raise LedgerError(
            REFERENCE_USED,
            "Payment reference %(reference)s was already used on this chain.",
            {"reference": reference},
        )


def _open_cashout(state: State, payload: dict) -> CashOut:
    cashout = state.get(CashOut.table, payload["cashout_id"])
    if cashout is None:
        raise LedgerError(CASHOUT_NOT_FOUND, "There is no cash-out with this id.")
    if cashout.status != OPEN:
        raise LedgerError(CASHOUT_CLOSED, "The cash-out is already %(status)s.", {"status": cashout.status})
    if cashout.owner != payload["owner"]:
        raise LedgerError(CASHOUT_MISMATCH, "owner is not the account that asked for the cash-out.")
    return cashout


# --- token_mint ------------------------------------------------------------


def _check_mint(payload: dict, params: dict) -> None:
    require_fields(payload, {"to", "amount", "reference"}, {"to", "amount", "reference"})
    if not is_address(payload["to"]):
        raise LedgerError(errors.BAD_ADDRESS, "to must be an address: 64 lowercase hex characters.")
    require_payment_amount(payload, params)
    _require_reference(payload)


def _apply_mint(state: State, tx: Transaction, ctx: BlockContext) -> None:
    _require_issuer(tx, ctx)
    to, amount, reference = tx.payload["to"], tx.payload["amount"], tx.payload["reference"]
    _require_unused(state, reference)
    asked = state.get(TopUp.table, reference)
    if asked is not None:  # asked for on chain: the mint answers exactly that request
        _require_open_topup(asked)
        if (asked.account, asked.amount) != (to, amount):
            raise LedgerError(
                TOPUP_MISMATCH,
                "Top-up %(reference)s was asked for %(amount)s units to %(account)s: mint that.",
                {"reference": reference, "amount": asked.amount, "account": asked.account},
            )
        state.put(replace(asked, status=MINTED, closed_height=ctx.height, issuer=tx.sender))
    # A first top-up is how a new account comes to exist on the chain.
    recipient = state.account(to)
    state.put(recipient.with_balance(recipient.balance + amount))
    state.put(Payment(reference, MINT, to, amount, tx.sender, ctx.height, tx.hash, ""))
    ctx.energy["minted_units"] = ctx.energy.get("minted_units", 0) + amount
    ctx.emit("token_minted", account=to, amount=amount, reference=reference, parties=[to])


TOKEN_MINT = TxKind(
    name="token_mint",
    check_payload=_check_mint,
    prefetch=lambda tx: {
        Account.table: [tx.sender, tx.payload["to"]],
        Payment.table: [tx.payload["reference"]],
        TopUp.table: [tx.payload["reference"]],
    },
    apply=_apply_mint,
)


# --- topup_request / topup_refuse ------------------------------------------


def _require_open_topup(topup: TopUp | None) -> TopUp:
    if topup is None:
        raise LedgerError(TOPUP_NOT_FOUND, "No top-up was asked for on chain with this reference.")
    if topup.status != OPEN:
        raise LedgerError(TOPUP_CLOSED, "The top-up is already %(status)s.", {"status": topup.status})
    return topup


def is_relaying_site(validator: Validator | None) -> bool:
    """Whether a node may ask the issuer for its users (``topup_request``): a registered validator
    record, active or a follower, and not jailed."""
    return validator is not None and not validator.jailed


def _apply_topup_request(state: State, tx: Transaction, ctx: BlockContext) -> None:
    if not is_relaying_site(state.get(Validator.table, tx.sender)):
        raise LedgerError(
            NOT_A_SITE,
            "Only a registered site's node key (a validator's or a follower's, not jailed) "
            "relays top-ups on chain.",
        )
    reference = tx.payload["reference"]
    _require_unused(state, reference)
    if state.get(TopUp.table, reference) is not None:
        raise LedgerError(
            REFERENCE_USED,
            "Payment reference %(reference)s was already asked for on this chain.",
            {"reference": reference},
        )
    to, amount = tx.payload["to"], tx.payload["amount"]
    state.put(TopUp(reference, to, amount, tx.sender, OPEN, ctx.height))
    ctx.emit("topup_requested", account=to, amount=amount, reference=reference, parties=[to])


def _check_topup_refuse(payload: dict, params: dict) -> None:
    require_fields(payload, {"reference", "reason"}, {"reference", "reason"})
    _require_reference(payload)
    require_text(payload["reason"], "reason", REASON_MAX, required=True)


def _apply_topup_refuse(state: State, tx: Transaction, ctx: BlockContext) -> None:
    _require_issuer(tx, ctx)
    topup = _require_open_topup(state.get(TopUp.table, tx.payload["reference"]))
    state.put(
        replace(
            topup, status=REFUSED, closed_height=ctx.height, issuer=tx.sender, reason=tx.payload["reason"]
        )
    )
    ctx.emit("topup_refused", account=topup.account, reference=topup.reference, parties=[topup.account])


TOPUP_REQUEST = TxKind(
    name="topup_request",
    check_payload=_check_mint,  # the same fields as the mint that will answer it
    prefetch=lambda tx: {
        Account.table: [tx.sender],
        Validator.table: [tx.sender],
        Payment.table: [tx.payload["reference"]],
        TopUp.table: [tx.payload["reference"]],
    },
    apply=_apply_topup_request,
)
TOPUP_REFUSE = TxKind(
    name="topup_refuse",
    check_payload=_check_topup_refuse,
    prefetch=lambda tx: {Account.table: [tx.sender], TopUp.table: [tx.payload["reference"]]},
    apply=_apply_topup_refuse,
)


# --- cashout_request -------------------------------------------------------


def _check_request(payload: dict, params: dict) -> None:
    require_fields(payload, {"amount"}, {"amount"})
    require_payment_amount(payload, params)


def _apply_request(state: State, tx: Transaction, ctx: BlockContext) -> None:
    amount = tx.payload["amount"]
    if state.get(CashOut.table, tx.hash) is not None:
        raise LedgerError(errors.DUPLICATE, "A cash-out with this id already exists.")
    account = release_matured_unbonding(state.account(tx.sender), ctx.height)
    if account.balance < amount:
        raise LedgerError(
            errors.INSUFFICIENT_FUNDS,
            "The free balance %(balance)s is less than the %(amount)s units to cash out.",
            {"balance": account.balance, "amount": amount},
        )
    state.put(
        replace(account, balance=account.balance - amount, escrow_tokens=account.escrow_tokens + amount)
    )
    state.put(CashOut(tx.hash, tx.sender, amount, OPEN, ctx.height))
    ctx.emit("cashout_requested", cashout_id=tx.hash, account=tx.sender, amount=amount, parties=[tx.sender])


CASHOUT_REQUEST = TxKind(
    name="cashout_request",
    check_payload=_check_request,
    prefetch=lambda tx: {Account.table: [tx.sender], CashOut.table: [tx.hash]},
    apply=_apply_request,
    token_debit=lambda payload, params: payload["amount"],
)


# --- token_burn / cashout_release ------------------------------------------


def _check_burn(payload: dict, params: dict) -> None:
    fields = {"cashout_id", "owner", "amount", "reference"}
    require_fields(payload, fields, fields)
    require_hex64(payload["cashout_id"], "cashout_id (a cash-out's id)", errors.BAD_FIELD)
    if not is_address(payload["owner"]):
        raise LedgerError(errors.BAD_ADDRESS, "owner must be an address: 64 lowercase hex characters.")
    require_payment_amount(payload, params)
    _require_reference(payload)


def _apply_burn(state: State, tx: Transaction, ctx: BlockContext) -> None:
    _require_issuer(tx, ctx)
    cashout = _open_cashout(state, tx.payload)
    amount, reference = tx.payload["amount"], tx.payload["reference"]
    if cashout.amount != amount:
        raise LedgerError(
            CASHOUT_MISMATCH,
            "The cash-out is for %(amount)s units, not %(asked)s.",
            {"amount": cashout.amount, "asked": amount},
        )
    _require_unused(state, reference)
    owner = state.account(cashout.owner)
    state.put(replace(owner, balance=owner.balance, escrow_tokens=owner.escrow_tokens - amount))
    state.put(_closed(cashout, BURNT, ctx, issuer=tx.sender, reference=reference))
    state.put(
        Payment(reference, BURN, cashout.owner, amount, tx.sender, ctx.height, tx.hash, cashout.cashout_id)
    )
    ctx.energy["burned_units"] = ctx.energy.get("burned_units", 0) + amount
    ctx.emit(
        "token_burnt", account=cashout.owner, amount=amount, reference=reference, parties=[cashout.owner]
    )


def _check_release(payload: dict, params: dict) -> None:
    fields = {"cashout_id", "owner", "reason"}
    require_fields(payload, fields, fields)
    require_hex64(payload["cashout_id"], "cashout_id (a cash-out's id)", errors.BAD_FIELD)
    if not is_address(payload["owner"]):
        raise LedgerError(errors.BAD_ADDRESS, "owner must be an address: 64 lowercase hex characters.")
    require_text(payload["reason"], "reason", REASON_MAX, required=True)


def _apply_release(state: State, tx: Transaction, ctx: BlockContext) -> None:
    _require_issuer(tx, ctx)
    cashout = _open_cashout(state, tx.payload)
    owner = state.account(cashout.owner)
    state.put(
        replace(
            owner, balance=owner.balance + cashout.amount, escrow_tokens=owner.escrow_tokens - cashout.amount
        )
    )
    state.put(_closed(cashout, RELEASED, ctx, issuer=tx.sender, reason=tx.payload["reason"]))
    ctx.emit(
        "cashout_released", cashout_id=cashout.cashout_id, account=cashout.owner, parties=[cashout.owner]
    )


def _closed(
    cashout: CashOut, status: str, ctx: BlockContext, *, issuer: str, reference="", reason=""
) -> CashOut:
    return replace(
        cashout, status=status, closed_height=ctx.height, issuer=issuer, reference=reference, reason=reason
    )


def _cashout_prefetch(tx: Transaction) -> dict:
    keys = {Account.table: [tx.sender, tx.payload["owner"]], CashOut.table: [tx.payload["cashout_id"]]}
    if "reference" in tx.payload:
        keys[Payment.table] = [tx.payload["reference"]]
    return keys


TOKEN_BURN = TxKind(
    name="token_burn", check_payload=_check_burn, prefetch=_cashout_prefetch, apply=_apply_burn
)
CASHOUT_RELEASE = TxKind(
    name="cashout_release", check_payload=_check_release, prefetch=_cashout_prefetch, apply=_apply_release
)
