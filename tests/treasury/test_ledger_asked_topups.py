"""topup_request (a site's node key asks the issuer for its user) and the issuer's answers: the
token_mint of that reference, which must match it, or topup_refuse. Each rule and each refusal."""

from dataclasses import replace

import pytest

from chain.ledger import errors
from chain.ledger.state import State, Validator
from tests.treasury.harness import (
    ISSUER,
    LIMIT,
    TOKEN,
    address,
    new_chain,
    payments,
    snapshot,
    supply,
    topups,
)
from treasury.ledger import kinds as k
from treasury.ledger.records import MINTED, OPEN, REFUSED

NEWCOMER = "newcomer_a"
SITE = "MEA"  # a validator that does not issue: its users' top-ups are asked on chain
REFERENCE = "TU0000000042"


def ask(chain, *, site=SITE, to=NEWCOMER, amount=50 * TOKEN, reference=REFERENCE):
    payload = {"to": address(to), "amount": amount, "reference": reference}
    [receipt] = chain.block([chain.tx(site, "topup_request", payload)]).receipts
    return receipt


def answer(chain, kind, payload, signer=ISSUER):
    result = chain.block([chain.tx(signer, kind, payload)])
    [receipt] = result.receipts
    return receipt, result


def set_jailed(chain, site: str, jailed: bool) -> None:
    state = State(chain.store, chain.store.accumulator)
    state.put(replace(state.get(Validator.table, address(site)), jailed=jailed))
    state.commit_tx()
    chain.store.write(state)


def mint_payload(to=NEWCOMER, amount=50 * TOKEN, reference=REFERENCE):
    return {"to": address(to), "amount": amount, "reference": reference}


def test_a_site_asks_and_every_site_sees_the_open_request_without_any_token_moving():
    chain = new_chain()
    before = supply(chain)
    assert ask(chain).ok
    topup = topups(chain)[REFERENCE]
    assert (topup.account, topup.amount, topup.site, topup.status, topup.requested_height) == (
        address(NEWCOMER),
        50 * TOKEN,
        address(SITE),
        OPEN,
        1,
    )
    assert supply(chain) == before and address(NEWCOMER) not in chain.store.tables["account"]


def test_the_issuers_mint_of_that_reference_credits_and_closes_it():
    chain = new_chain()
    ask(chain)
    receipt, result = answer(chain, "token_mint", mint_payload())
    assert receipt.ok and result.energy["minted_units"] == 50 * TOKEN
    assert chain.account(NEWCOMER).balance == 50 * TOKEN
    topup = topups(chain)[REFERENCE]
    assert (topup.status, topup.closed_height, topup.issuer) == (MINTED, 2, address(ISSUER))
    assert payments(chain)[REFERENCE].account == address(NEWCOMER)


def test_the_issuer_refuses_with_a_reason_and_nothing_is_minted():
    chain = new_chain()
    ask(chain)
    before = supply(chain)
    receipt, result = answer(chain, "topup_refuse", {"reference": REFERENCE, "reason": "No payment arrived"})
    assert receipt.ok
    topup = topups(chain)[REFERENCE]
    assert (topup.status, topup.reason, topup.issuer) == (REFUSED, "No payment arrived", address(ISSUER))
    assert supply(chain) == before
    assert result.events[-1]["type"] == "topup_refused" and result.events[-1]["parties"] == [
        address(NEWCOMER)
    ]
    # The reference is spent: no later mint can credit it.
    receipt, _ = answer(chain, "token_mint", mint_payload())
    assert (receipt.ok, receipt.code) == (False, k.TOPUP_CLOSED)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": 51 * TOKEN}, k.TOPUP_MISMATCH),
        ({"to": "newcomer_b"}, k.TOPUP_MISMATCH),
    ],
)
def test_a_mint_that_does_not_match_the_request_is_refused(change, code):
    chain = new_chain()
    ask(chain)
    before = snapshot(chain)
    payload = mint_payload(**change)
    receipt, _ = answer(chain, "token_mint", payload)
    assert (receipt.ok, receipt.code) == (False, code)
    assert snapshot(chain) == before


@pytest.mark.parametrize("forger", ["home_malee", "newcomer_b"])
def test_a_request_from_anyone_but_a_site_is_refused(forger):
    chain = new_chain()
    chain.block([chain.tx(ISSUER, "token_mint", mint_payload(to="newcomer_b", reference="TU0000000001"))])
    before = snapshot(chain)
    receipt = ask(chain, site=forger)
    assert (receipt.ok, receipt.code) == (False, k.NOT_A_SITE)
    assert snapshot(chain) == before


def test_a_follower_site_asks_too_its_validator_record_is_inactive():
    chain = new_chain()
    follower = chain.store.tables[Validator.table][address("ERC")]
    assert not follower.active and not follower.jailed
    assert ask(chain, site="ERC").ok
    assert topups(chain)[REFERENCE].site == address("ERC")


@pytest.mark.parametrize("site", [SITE, "ERC"])
def test_a_jailed_site_is_refused_until_unjailed(site):
    chain = new_chain()
    set_jailed(chain, site, True)  # as the ledger jails after missed rounds or evidence
    before = snapshot(chain)
    receipt = ask(chain, site=site)
    assert (receipt.ok, receipt.code) == (False, k.NOT_A_SITE)
    assert snapshot(chain) == before
    set_jailed(chain, site, False)  # an authority unjailed it
    assert ask(chain, site=site).ok


@pytest.mark.parametrize("forger", [SITE, "home_malee"])
def test_a_refusal_from_anyone_but_an_issuer_is_refused(forger):
    chain = new_chain()
    ask(chain)
    before = snapshot(chain)
    receipt, _ = answer(chain, "topup_refuse", {"reference": REFERENCE, "reason": "forged"}, signer=forger)
    assert (receipt.ok, receipt.code) == (False, k.NOT_ISSUER)
    assert snapshot(chain) == before


def test_a_reference_is_asked_once_and_never_after_a_mint_used_it():
    chain = new_chain()
    answer(chain, "token_mint", mint_payload(reference="TU0000000001"))
    ask(chain)
    before = snapshot(chain)
    for reference in (REFERENCE, "TU0000000001"):
        receipt = ask(chain, reference=reference)
        assert (receipt.ok, receipt.code) == (False, k.REFERENCE_USED)
    assert snapshot(chain) == before


def test_an_answer_is_given_once():
    chain = new_chain()
    ask(chain)
    answer(chain, "token_mint", mint_payload())
    before = snapshot(chain)
    receipt, _ = answer(chain, "topup_refuse", {"reference": REFERENCE, "reason": "too late"})
    assert (receipt.ok, receipt.code) == (False, k.TOPUP_CLOSED)
    receipt, _ = answer(chain, "token_mint", mint_payload())
    assert (receipt.ok, receipt.code) == (False, k.REFERENCE_USED)
    assert snapshot(chain) == before


def test_refusing_what_was_never_asked_is_refused():
    chain = new_chain()
    before = snapshot(chain)
    receipt, _ = answer(chain, "topup_refuse", {"reference": REFERENCE, "reason": "?"})
    assert (receipt.ok, receipt.code) == (False, k.TOPUP_NOT_FOUND)
    assert snapshot(chain) == before


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": 0}, errors.BAD_AMOUNT),
        ({"amount": -1}, errors.BAD_AMOUNT),
        ({"amount": LIMIT + 1}, errors.BAD_AMOUNT),
        ({"reference": "tu0000000042"}, k.BAD_REFERENCE),
        ({"to": address(NEWCOMER).upper()}, errors.BAD_ADDRESS),
        ({"memo": "x"}, errors.BAD_FIELD),
    ],
)
def test_a_malformed_request_is_refused_and_changes_nothing(change, code):
    chain = new_chain()
    before = snapshot(chain)
    payload = mint_payload() | change
    [receipt] = chain.block([chain.tx(SITE, "topup_request", payload)]).receipts
    assert (receipt.ok, receipt.code) == (False, code)
    assert snapshot(chain) == before


@pytest.mark.parametrize("reason", ["", "  ", "x" * 201, "two\nlines"])
def test_a_refusal_needs_a_one_line_reason(reason):
    chain = new_chain()
    ask(chain)
    before = snapshot(chain)
    receipt, _ = answer(chain, "topup_refuse", {"reference": REFERENCE, "reason": reason})
    assert (receipt.ok, receipt.code) == (False, errors.BAD_FIELD)
    assert snapshot(chain) == before
