"""token_mint, cashout_request, token_burn, cashout_release: each rule and each refusal."""

import pytest

from chain.ledger import errors
from chain.ledger.kinds import get_kind
from tests.treasury.harness import (
    ISSUER,
    LIMIT,
    TOKEN,
    address,
    cashouts,
    new_chain,
    payments,
    snapshot,
    supply,
)
from treasury.ledger import kinds as k
from treasury.ledger.records import BURN, BURNT, MINT, OPEN, RELEASED

NEWCOMER = "newcomer_a"


def mint(chain, amount=100 * TOKEN, reference="TU0000000001", to=NEWCOMER, signer=ISSUER):
    return chain.block(
        [chain.tx(signer, "token_mint", {"to": address(to), "amount": amount, "reference": reference})]
    )


def receipt(result):
    [r] = result.receipts
    return r


def test_a_mint_creates_the_account_and_adds_exactly_its_amount_to_the_supply():
    chain = new_chain()
    before = supply(chain)
    assert address(NEWCOMER) not in chain.store.tables["account"]
    result = mint(chain)
    assert receipt(result).ok
    assert chain.account(NEWCOMER).balance == 100 * TOKEN
    assert supply(chain) == before + 100 * TOKEN
    assert result.energy["minted_units"] == 100 * TOKEN
    payment = payments(chain)["TU0000000001"]
    assert (payment.direction, payment.account, payment.amount) == (MINT, address(NEWCOMER), 100 * TOKEN)
    assert payment.issuer == address(ISSUER) and payment.height == 1
    assert result.events[-1]["type"] == "token_minted" and result.events[-1]["parties"] == [address(NEWCOMER)]


@pytest.mark.parametrize(
    ("payload_change", "code"),
    [
        ({"amount": 0}, errors.BAD_AMOUNT),
        ({"amount": -5}, errors.BAD_AMOUNT),
        ({"amount": LIMIT + 1}, errors.BAD_AMOUNT),
        ({"amount": True}, errors.BAD_AMOUNT),
        ({"reference": "tu0000000001"}, k.BAD_REFERENCE),
        ({"reference": "TU0000000001\n"}, k.BAD_REFERENCE),
        ({"reference": "TU 000000001"}, k.BAD_REFERENCE),
        ({"reference": "1U0000000001"}, k.BAD_REFERENCE),
        ({"reference": "TU01"}, k.BAD_REFERENCE),
        ({"reference": "T" * 21}, k.BAD_REFERENCE),
        ({"to": address(NEWCOMER).upper()}, errors.BAD_ADDRESS),
        ({"memo": "x"}, errors.BAD_FIELD),
    ],
)
def test_it_refuses_a_bad_mint_and_changes_nothing(payload_change, code):
    chain = new_chain()
    before = snapshot(chain)
    payload = {"to": address(NEWCOMER), "amount": 100 * TOKEN, "reference": "TU0000000001"} | payload_change
    r = receipt(chain.block([chain.tx(ISSUER, "token_mint", payload)]))
    assert (r.ok, r.code) == (False, code)
    assert snapshot(chain) == before


def test_a_mint_signed_by_anyone_but_an_issuer_is_refused():
    chain = new_chain()
    before = snapshot(chain)
    for forger in ("MEA", "SIAM_TRADERS", "home_malee"):
        r = receipt(mint(chain, signer=forger))
        assert (r.ok, r.code) == (False, k.NOT_ISSUER)
    assert snapshot(chain) == before


def test_governance_can_name_another_issuer_through_the_params():
    chain = new_chain()
    chain.params = chain.params | {"issuers": [*chain.params["issuers"], address("MEA")]}
    assert receipt(mint(chain, signer="MEA")).ok


def test_a_payment_reference_is_used_once_ever_by_mint_or_burn():
    chain = new_chain()
    assert receipt(mint(chain)).ok
    before = snapshot(chain)
    r = receipt(mint(chain, to="newcomer_b"))
    assert (r.ok, r.code) == (False, k.REFERENCE_USED)
    assert snapshot(chain) == before
    # A burn may not reuse it either.
    request = chain.tx(NEWCOMER, "cashout_request", {"amount": 10 * TOKEN})
    chain.block([request])
    r = receipt(chain.block([burn_tx(chain, request.hash, 10 * TOKEN, "TU0000000001")]))
    assert (r.ok, r.code) == (False, k.REFERENCE_USED)


def burn_tx(chain, cashout_id, amount, reference="CO0000000001", owner=NEWCOMER, signer=ISSUER):
    payload = {"cashout_id": cashout_id, "owner": address(owner), "amount": amount, "reference": reference}
    return chain.tx(signer, "token_burn", payload)


def release_tx(chain, cashout_id, reason="Bank account name does not match", owner=NEWCOMER, signer=ISSUER):
    payload = {"cashout_id": cashout_id, "owner": address(owner), "reason": reason}
    return chain.tx(signer, "cashout_release", payload)


def test_a_cashout_escrows_at_once_and_a_burn_takes_it_out_of_the_supply():
    chain = new_chain()
    mint(chain)
    request = chain.tx(NEWCOMER, "cashout_request", {"amount": 40 * TOKEN})
    assert receipt(chain.block([request])).ok
    account = chain.account(NEWCOMER)
    assert (account.balance, account.escrow_tokens) == (60 * TOKEN, 40 * TOKEN)
    assert cashouts(chain)[request.hash].status == OPEN
    before = supply(chain)
    result = chain.block([burn_tx(chain, request.hash, 40 * TOKEN)])
    assert receipt(result).ok and result.energy["burned_units"] == 40 * TOKEN
    account = chain.account(NEWCOMER)
    assert (account.balance, account.escrow_tokens) == (60 * TOKEN, 0)
    assert supply(chain) == before - 40 * TOKEN
    cashout = cashouts(chain)[request.hash]
    assert (cashout.status, cashout.reference, cashout.closed_height) == (BURNT, "CO0000000001", 3)
    payment = payments(chain)["CO0000000001"]
    assert (payment.direction, payment.amount, payment.cashout_id) == (BURN, 40 * TOKEN, request.hash)


def test_a_refused_cashout_returns_the_tokens_and_keeps_the_reason():
    chain = new_chain()
    mint(chain)
    request = chain.tx(NEWCOMER, "cashout_request", {"amount": 40 * TOKEN})
    chain.block([request])
    before = supply(chain)
    assert receipt(chain.block([release_tx(chain, request.hash)])).ok
    account = chain.account(NEWCOMER)
    assert (account.balance, account.escrow_tokens) == (100 * TOKEN, 0)
    assert supply(chain) == before
    cashout = cashouts(chain)[request.hash]
    assert (cashout.status, cashout.reason) == (RELEASED, "Bank account name does not match")
    # Closed: neither a burn nor a second release applies.
    for tx in (burn_tx(chain, request.hash, 40 * TOKEN), release_tx(chain, request.hash)):
        r = receipt(chain.block([tx]))
        assert (r.ok, r.code) == (False, k.CASHOUT_CLOSED)


def test_it_refuses_a_cashout_above_the_free_balance():
    chain = new_chain()
    mint(chain)
    chain.block([chain.tx(NEWCOMER, "cashout_request", {"amount": 70 * TOKEN})])
    before = snapshot(chain)
    # 30 tokens are free: the 70 in escrow cannot be asked for twice.
    r = receipt(chain.block([chain.tx(NEWCOMER, "cashout_request", {"amount": 31 * TOKEN})]))
    assert (r.ok, r.code) == (False, errors.INSUFFICIENT_FUNDS)
    assert snapshot(chain) == before


def test_the_kind_tells_admission_what_a_cashout_may_take():
    assert get_kind("cashout_request").token_debit({"amount": 7}, {}) == 7
    assert get_kind("token_mint").token_debit({"amount": 7}, {}) == 0


@pytest.mark.parametrize(
    ("change", "signer", "code"),
    [
        ({}, "MEA", k.NOT_ISSUER),
        ({}, "home_malee", k.NOT_ISSUER),
        ({"amount": 39 * TOKEN}, ISSUER, k.CASHOUT_MISMATCH),
        ({"owner": "home_malee"}, ISSUER, k.CASHOUT_MISMATCH),
        ({"cashout_id": "ab" * 32}, ISSUER, k.CASHOUT_NOT_FOUND),
        ({"reference": "co0000000001"}, ISSUER, k.BAD_REFERENCE),
    ],
)
def test_it_refuses_a_bad_burn_and_changes_nothing(change, signer, code):
    chain = new_chain()
    mint(chain)
    request = chain.tx(NEWCOMER, "cashout_request", {"amount": 40 * TOKEN})
    chain.block([request])
    before = snapshot(chain)
    args = {"cashout_id": request.hash, "amount": 40 * TOKEN, "reference": "CO0000000001", "owner": NEWCOMER}
    args |= change
    r = receipt(chain.block([burn_tx(chain, signer=signer, **args)]))
    assert (r.ok, r.code) == (False, code)
    assert snapshot(chain) == before


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "bad\u202ereason"])
def test_a_release_needs_a_reason(reason):
    chain = new_chain()
    mint(chain)
    request = chain.tx(NEWCOMER, "cashout_request", {"amount": 40 * TOKEN})
    chain.block([request])
    before = snapshot(chain)
    r = receipt(chain.block([release_tx(chain, request.hash, reason=reason)]))
    assert (r.ok, r.code) == (False, errors.BAD_FIELD)
    assert snapshot(chain) == before
