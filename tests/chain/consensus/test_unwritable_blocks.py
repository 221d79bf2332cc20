"""A decided block always writes: what would not is never proposed and never voted for.

Issue 14, finding 7: a transaction holding text PostgreSQL cannot store, carried in
a peer's proposal, could have made honest sites decide a block they then could not
write, on every attempt.
"""

from dataclasses import asdict, replace
from types import SimpleNamespace

import pytest

from chain.ledger.block import (
    INVALID_BLOCK,
    BlockHeader,
    block_merkle_root,
    execute_block,
    mine,
    required_difficulty,
)
from chain.ledger.errors import LedgerError
from chain.ledger.genesis import demo_key
from chain.ledger.kinds import KINDS
from chain.ledger.state import Account, State
from chain.ledger.tx import Transaction, sign_transaction
from chain.models import Account as AccountRow
from chain.models import ChainHead, DroppedTx, ProposedBlock
from chain.selectors import validators_hash_at
from chain.services.admission import transactions_submit
from chain.services.blocks.build import UNWRITABLE, block_build
from chain.services.blocks.check import block_check
from chain.services.consensus import proposals
from chain.store import DatabaseStore
from tests.chain.api.conftest import address, ledger_snapshot

pytestmark = pytest.mark.django_db

SENDER = "factory_rayong"


def poisoned(head: ChainHead, memo: str) -> Transaction:
    """A correctly signed transfer whose memo PostgreSQL cannot store (built in Python:
    no JSON decoder and no admission in the way, as a rogue proposer would carry it)."""
    return sign_transaction(
        demo_key(SENDER),
        chain_id=head.chain_id,
        nonce=0,
        kind="transfer",
        payload={"to": address("wind_korat"), "amount": 1, "memo": memo},
    )


def proposal(head: ChainHead, node_key, txs: list[Transaction]) -> BlockHeader:
    """The header a proposer would send for ``txs`` on top of ``head`` (as block_build makes it)."""
    state = State(DatabaseStore(), int(head.accumulator, 16))
    proposer = node_key.verify_key.encode().hex()
    timestamp_ms = int(head.last_block_at.timestamp() * 1000) + 1 if head.last_block_at else 1
    result = execute_block(
        state,
        txs,
        chain_id=head.chain_id,
        height=head.height + 1,
        timestamp_ms=timestamp_ms,
        params=head.params,
        strict=False,
        verify_signatures=False,
        proposer=proposer,
        previous_hash=head.block_hash,
    )
    return mine(
        BlockHeader(
            chain_id=head.chain_id,
            height=head.height + 1,
            timestamp_ms=timestamp_ms,
            previous_hash=head.block_hash,
            merkle_root=block_merkle_root(result.included),
            state_root=head.state_root,
            proposer=proposer,
            round=0,
            difficulty=required_difficulty(result.energy, head.params),
            nonce=0,
            tx_count=len(result.included),
            energy=result.energy,
            validators_hash=validators_hash_at(head.block_hash, head.state_root),
        )
    )


@pytest.mark.parametrize("memo", ["nul \x00", "surrogate \ud800", "low \udfff"])
def test_a_proposal_carrying_unstorable_text_fails_the_check_before_any_vote(chain, node_key, memo):
    head = ChainHead.objects.get()
    tx = poisoned(head, memo)
    header = proposal(head, node_key, [tx])
    before = ledger_snapshot()

    with pytest.raises(LedgerError) as info:
        block_check(head, header, [tx], expected_proposer=lambda round: header.proposer)

    assert info.value.code == INVALID_BLOCK
    assert "would not write" in info.value.message
    assert ledger_snapshot() == before


def test_such_a_proposal_gets_no_vote_and_a_verdict(chain, node_key, monkeypatch):
    head = ChainHead.objects.get()
    tx = poisoned(head, "nul \x00")
    header = proposal(head, node_key, [tx])
    ProposedBlock.objects.create(
        hash=header.hash, height=header.height, header=asdict(header), tx_hashes=[tx.hash], txs=[]
    )
    # As if a peer's lookup handed the body over (the peer protocol's decoder refuses it first).
    held = proposals.ProposalBodies([tx], frozenset(), missing=[])
    monkeypatch.setattr(proposals, "proposal_transactions", lambda head, proposed: held)
    validators = SimpleNamespace(proposer=lambda round: header.proposer)  # what proposal_valid asks of it

    assert proposals.proposal_valid(head, validators, header.hash) is False
    verdict = ProposedBlock.objects.get(hash=header.hash).verdict
    assert verdict != "valid" and "would not write" in verdict


def test_the_proposer_leaves_out_a_transaction_that_would_not_write(chain, node_key, monkeypatch):
    """Should a kind ever make a record its table refuses, the proposer finds the transaction
    that did it, drops it, and proposes the rest instead of a block no site could write."""
    transfer = KINDS["transfer"]

    def apply_with_a_bug(state, tx, ctx):
        transfer.apply(state, tx, ctx)
        if tx.payload.get("memo") == "poison":
            state.put(Account(address=tx.sender + "!"))  # one character longer than its column

    monkeypatch.setitem(KINDS, "transfer", replace(transfer, apply=apply_with_a_bug))
    head = ChainHead.objects.get()
    wires = [
        sign_transaction(
            demo_key(who),
            chain_id=head.chain_id,
            nonce=0,
            kind="transfer",
            payload={"to": address("home_malee"), "amount": 1, **extra},
        ).to_wire()
        for who, extra in [("wind_korat", {}), (SENDER, {"memo": "poison"}), ("hydro_nan", {})]
    ]
    transactions_submit(wires, gossip=False)

    built = block_build(node_key, head, 0, empty_ok=False)

    assert [tx.sender for tx in built.txs] == [address("wind_korat"), address("hydro_nan")]
    dropped = DroppedTx.objects.get()
    assert (dropped.sender, dropped.error_code) == (address(SENDER), UNWRITABLE)
    assert not AccountRow.objects.filter(address__startswith=address(SENDER) + "!").exists()
