"""A demo chain with short governance periods, a staked producer and one open proposal."""

import pytest

from chain.models import ChainHead
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from governance import services
from governance.ledger import rules as r
from governance.models import Proposal

TOKEN = 1_000_000
#: Short periods so a proposal's life fits a test: 4 blocks of voting, executed 2 blocks after.
#: A long block interval: governance never asks for a block by itself here, so each block
#: comes from a transaction (``tick``) and the heights are exactly the test's.
#: The quorum is 20% so that EGAT's stake alone reaches it, whatever share of all stake it holds.
SHORT = {
    "voting_period_blocks": 4,
    "execution_delay_blocks": 2,
    "block_interval_ms": 600_000,
    "quorum_ppm": 200_000,
}


@pytest.fixture
def gov_chain(chain, users, produce):
    """Short periods; solar_somchai has 1500 tokens staked (block 1)."""
    head = ChainHead.objects.get()
    head.params = {**head.params, **SHORT}
    head.save(update_fields=["params"])
    transaction_sign_submit(
        key=wallet_key_open(users["solar_somchai"].wallet),
        kind="stake_bond",
        payload={"amount": 1500 * TOKEN},
    )
    assert produce().height == 1
    return head


@pytest.fixture
def open_proposal(gov_chain, users, produce) -> Proposal:
    """Proposal #1 (gate closure 5 -> 10 minutes), made in block 2 by solar_somchai."""
    services.proposal_create(
        wallet=users["solar_somchai"].wallet,
        payload={
            "title": "Longer gate closure",
            "action": r.PARAM_CHANGE,
            "param": "gate_closure_minutes",
            "value": 10,
        },
    )
    assert produce().height == 2
    return Proposal.objects.get(number=1)


@pytest.fixture
def tick(gov_chain, users, produce):
    """One more block: a one-unit transfer makes it, whatever governance waits for."""

    def make():
        transaction_sign_submit(
            key=wallet_key_open(users["factory_rayong"].wallet),
            kind="transfer",
            payload={"to": users["home_malee"].wallet.address, "amount": 1},
        )
        block = produce()
        assert block is not None
        return block

    return make
