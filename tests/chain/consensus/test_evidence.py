"""Double signing proven on chain: the stake is slashed (burnt), the validator jailed, once."""

import pytest

from chain.consensus.machine import PREVOTE, Message
from chain.consensus.messages import sign_message
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.models import Account, ChainHead, ChainTx, Validator
from chain.services.admission import BatchRejected, transactions_submit
from chain.services.mempool import next_nonce

pytestmark = pytest.mark.django_db(transaction=True)


def evidence_tx(genesis, *, second_hash: str):
    offender = demo_key("MEA")
    votes = [
        sign_message(offender, genesis.chain_id, Message(PREVOTE, 7, 2, address_of(offender), block_hash))
        for block_hash in ("aa" * 32, second_hash)
    ]
    reporter = demo_key("EGAT")
    return sign_transaction(
        reporter,
        chain_id=genesis.chain_id,
        nonce=next_nonce(address_of(reporter)),
        kind="evidence_double_sign",
        payload={"first": votes[0], "second": votes[1]},
    )


def test_a_proven_double_sign_slashes_burns_and_jails(chain, genesis, produce):
    mea = address_of(demo_key("MEA"))
    staked = Account.objects.get(address=mea).staked
    supply = ChainHead.objects.get().total_supply
    tx = evidence_tx(genesis, second_hash="bb" * 32)

    transactions_submit([tx.to_wire()])
    produce()

    slashed = staked * genesis.params["slash_ppm"] // 1_000_000
    assert slashed > 0
    assert ChainTx.objects.get(hash=tx.hash).ok
    assert Account.objects.get(address=mea).staked == staked - slashed
    assert ChainHead.objects.get().total_supply == supply - slashed
    validator = Validator.objects.get(public_key=mea)
    assert validator.jailed and validator.reputation_ppm == 0


def test_the_same_offence_is_punished_once(chain, genesis, produce):
    transactions_submit([evidence_tx(genesis, second_hash="bb" * 32).to_wire()])
    produce()
    again = evidence_tx(genesis, second_hash="cc" * 32)  # same validator, height, round and type
    transactions_submit([again.to_wire()])
    produce()

    receipt = ChainTx.objects.get(hash=again.hash)
    assert not receipt.ok and receipt.error_code == "duplicate"


def test_two_votes_for_the_same_block_are_no_evidence(chain, genesis):
    with pytest.raises(BatchRejected) as refused:
        transactions_submit([evidence_tx(genesis, second_hash="aa" * 32).to_wire()])
    assert refused.value.problems[0]["code"] == "bad_field"


def test_a_forged_vote_is_no_evidence(chain, genesis, produce):
    tx = evidence_tx(genesis, second_hash="bb" * 32)
    forged = dict(tx.payload)
    forged["second"] = {**forged["second"], "signature": "00" * 64}
    bad = sign_transaction(
        demo_key("EGAT"),
        chain_id=genesis.chain_id,
        nonce=tx.nonce,
        kind="evidence_double_sign",
        payload=forged,
    )
    mea = address_of(demo_key("MEA"))
    staked = Account.objects.get(address=mea).staked
    transactions_submit([bad.to_wire()])
    produce()

    assert ChainTx.objects.get(hash=bad.hash).error_code == "bad_signature"
    assert Account.objects.get(address=mea).staked == staked
