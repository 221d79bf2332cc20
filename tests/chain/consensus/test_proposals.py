"""Proposals travel as hashes: bodies come from the mempool, the proposal, or a peer's lookup
(after the step: tests/chain/consensus/test_missing_bodies.py)."""

import pytest

from chain.ledger.errors import LedgerError
from chain.ledger.tx import Transaction, parse_transaction
from chain.models import ChainHead, ProposedBlock
from chain.services.admission import transactions_submit
from chain.services.blocks.build import block_build
from chain.services.blocks.check import block_check
from chain.services.consensus.proposals import proposal_transactions
from tests.chain.api.conftest import address, signed
from tests.chain.peer_client import peer_post

LOOKUP = "/peer/v1/transactions/lookup/"


def admitted(username: str, nonce: int = 0) -> dict:
    wire = signed(username, nonce=nonce, payload={"to": address("hydro_nan"), "amount": 5})
    transactions_submit([wire], gossip=False)
    return wire


def test_lookup_returns_bodies_from_the_blocks_too(chain, produce):
    wire = admitted("factory_rayong")
    produce()

    answer = peer_post(LOOKUP, {"chain_id": chain.chain_id, "hashes": [parse_transaction(wire).hash]})

    assert answer.json()["transactions"] == [wire]


def test_lookup_returns_the_mempool_bodies_asked_for(chain):
    wire = admitted("factory_rayong")
    tx_hash = parse_transaction(wire).hash
    answer = peer_post(LOOKUP, {"chain_id": chain.chain_id, "hashes": [tx_hash, "ab" * 32]})

    assert answer.status_code == 200
    assert answer.json()["transactions"] == [wire]
    wrong_chain = peer_post(LOOKUP, {"chain_id": "other", "hashes": []})
    assert wrong_chain.status_code == 400
    assert wrong_chain.json()["error"]["code"] == "wrong_chain"
    malformed = peer_post(LOOKUP, {"chain_id": chain.chain_id, "hashes": "x"})
    assert malformed.status_code == 400


def test_a_proposal_is_assembled_from_carried_bodies_and_the_mempool_in_block_order(chain):
    held = admitted("factory_rayong")
    carried = signed("wind_korat", payload={"to": address("hydro_nan"), "amount": 7})
    hashes = [parse_transaction(carried).hash, parse_transaction(held).hash]
    proposed = ProposedBlock(hash="cd" * 32, height=1, header={}, tx_hashes=hashes, txs=[carried])

    bodies = proposal_transactions(ChainHead.objects.get(), proposed)

    assert [tx.hash for tx in bodies.txs] == hashes
    assert [tx.to_wire() for tx in bodies.txs] == [carried, held]
    # Only the mempool's signature was verified here: the carried one is checked with the block.
    assert bodies.admitted == {hashes[1]}
    assert bodies.missing == []


def test_a_proposal_with_bodies_this_site_lacks_names_them_and_asks_no_peer(chain):
    held = admitted("factory_rayong")
    unknown = signed("wind_korat", payload={"to": address("hydro_nan"), "amount": 7})
    fetched = signed("solar_somchai", payload={"to": address("hydro_nan"), "amount": 9})
    hashes = [parse_transaction(w).hash for w in (held, unknown, fetched)]
    proposed = ProposedBlock(hash="ef" * 32, height=1, header={}, tx_hashes=hashes, fetched_txs=[fetched])

    bodies = proposal_transactions(ChainHead.objects.get(), proposed)

    assert (bodies.txs, bodies.missing) == ([], [hashes[1]])


def test_a_body_not_admitted_here_has_its_signature_checked_with_the_block(chain, node_key):
    """Only transactions read from this site's mempool skip the signature check: a body that
    came with the proposal or from a peer is verified, whatever its hash."""
    admitted("factory_rayong")
    head = ChainHead.objects.get()
    built = block_build(node_key, head, 0, empty_ok=False)
    (tx,) = built.txs
    forged = Transaction.with_known_hash(
        tx.hash, tx.chain_id, tx.sender, tx.nonce, tx.kind, tx.payload, "00" * 64
    )

    def check(admitted_here):
        return block_check(
            head,
            built.header,
            [forged],
            expected_proposer=lambda round: built.header.proposer,
            admitted=admitted_here,
        )

    with pytest.raises(LedgerError, match="signature does not match"):
        check(frozenset())
    assert check(frozenset({tx.hash})).txs == [forged]  # the mempool's copy was verified on admission
