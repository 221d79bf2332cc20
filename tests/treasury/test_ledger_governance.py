"""Governance names another issuer (a licensed retailer's key) or removes one: the `issuer` action."""

import pytest

from chain.ledger.errors import LedgerError
from governance.ledger import rules as r
from tests.governance.harness import make_chain
from tests.trading.harness import TOKEN, address
from tests.treasury.harness import GENESIS

RETAILER = "licensed-retailer"


def passed(chain, payload) -> None:
    """Propose, vote yes with EGAT's stake, and run blocks until the proposal executed."""
    chain.block([chain.tx("solar_somchai", "governance_propose", payload)])
    proposal_id = chain.proposals()[-1].proposal_id
    chain.block([chain.tx("EGAT", "governance_vote", {"proposal_id": proposal_id, "option": "yes"})])
    for _ in range(4):
        chain.block([])


def mint_by(chain, who, reference):
    payload = {"to": address("home_malee"), "amount": 5 * TOKEN, "reference": reference}
    [receipt] = chain.block([chain.tx(who, "token_mint", payload)]).receipts
    return receipt.ok, receipt.code


def test_a_passed_issuer_proposal_lets_that_key_mint_and_a_second_one_stops_it():
    chain = make_chain(GENESIS)
    chain.stake("solar_somchai", 2000)
    assert mint_by(chain, RETAILER, "TU000000000001") == (False, "not_issuer")
    passed(
        chain,
        {"title": "License a retailer", "action": r.ISSUER, "public_key": address(RETAILER), "issuer": True},
    )
    assert sorted(chain.params["issuers"]) == sorted([address("EGAT"), address(RETAILER)])
    assert mint_by(chain, RETAILER, "TU000000000002") == (True, "")
    passed(chain, {"title": "Revoke", "action": r.ISSUER, "public_key": address(RETAILER), "issuer": False})
    assert chain.params["issuers"] == [address("EGAT")]
    assert mint_by(chain, RETAILER, "TU000000000003") == (False, "not_issuer")


@pytest.mark.parametrize(("who", "issuer"), [("EGAT", True), (RETAILER, False)])
def test_a_proposal_that_changes_nothing_is_refused(who, issuer):
    payload = {"title": "No-op", "action": r.ISSUER, "public_key": address(who), "issuer": issuer}
    with pytest.raises(LedgerError) as refused:
        r.check_propose_payload(payload, GENESIS.params)
    assert refused.value.code == r.BAD_PROPOSAL
