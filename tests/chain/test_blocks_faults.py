"""A block either commits whole or leaves the previous state; a restarted site resumes its chain."""

import dataclasses

import pytest
from django.db import connection

from chain.ledger import kinds
from chain.ledger.block import (
    block_merkle_root,
    execute_block,
    precommit_valid,
)
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.state import MemoryStore, State
from chain.ledger.tx import Transaction, sign_transaction
from chain.models import Account, Block, ChainHead, ChainTx, DroppedTx, MempoolTx
from chain.node import node_signing_key
from chain.services.admission import transactions_submit
from chain.services.blocks import write as block_write_module
from chain.services.consensus.step import consensus_step

pytestmark = pytest.mark.django_db(transaction=True)  # the consensus step's transaction is the outermost one

SENDERS = ("home_malee", "factory_rayong", "wind_korat")


class Crash(Exception):
    """Stands for anything unexpected: a bug, a lost connection, a full disk."""


def submit_transfers(genesis, count: int, *, first_nonce: int = 0) -> list[Transaction]:
    """``count`` transfers from each sender to the next one, admitted through the mempool."""
    txs = []
    for i, name in enumerate(SENDERS):
        to = address_of(demo_key(SENDERS[(i + 1) % len(SENDERS)]))
        for nonce in range(first_nonce, first_nonce + count):
            txs.append(
                sign_transaction(
                    demo_key(name),
                    chain_id=genesis.chain_id,
                    nonce=nonce,
                    kind="transfer",
                    payload={"to": to, "amount": 1_000 + nonce},
                )
            )
    transactions_submit([tx.to_wire() for tx in txs])
    return txs


def chain_snapshot() -> dict:
    head = ChainHead.objects.values().get()
    return {
        "head": head,
        "accounts": list(Account.objects.order_by("address").values()),
        "mempool": list(MempoolTx.objects.order_by("id").values_list("hash", "sender", "nonce")),
        "blocks": list(Block.objects.order_by("height").values_list("height", "hash")),
        "chain_txs": ChainTx.objects.count(),
        "dropped": DroppedTx.objects.count(),
    }


def crash_after(calls: int, real):
    count = {"n": 0}

    def wrapper(*args, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            raise Crash("injected failure")
        return real(*args, **kwargs)

    return wrapper


@pytest.fixture
def crash_transfer_apply(monkeypatch):
    """The transfer kind raises an unexpected error on its fourth transaction."""
    kind = kinds.KINDS["transfer"]
    monkeypatch.setitem(kinds.KINDS, "transfer", dataclasses.replace(kind, apply=crash_after(3, kind.apply)))


@pytest.fixture
def crash_state_write(monkeypatch):
    """Writing the state tables fails after the block row and its transactions were written."""
    monkeypatch.setattr(block_write_module, "write_records", crash_after(0, block_write_module.write_records))


@pytest.fixture
def crash_head_save(monkeypatch):
    """Moving the chain head fails after every other table was written."""
    monkeypatch.setattr(ChainHead, "save", crash_after(0, ChainHead.save))


@pytest.mark.parametrize("crash", ["crash_transfer_apply", "crash_state_write", "crash_head_save"])
def test_a_failure_midway_through_a_block_leaves_the_previous_state(chain, genesis, produce, request, crash):
    submit_transfers(genesis, 2)
    produce()  # a committed block before, so the previous state is not genesis
    submit_transfers(genesis, 3, first_nonce=2)
    before = chain_snapshot()
    request.getfixturevalue(crash)

    with pytest.raises(Crash):
        produce()

    assert chain_snapshot() == before


def test_after_a_failed_block_the_next_attempt_commits_everything(chain, genesis, produce, monkeypatch):
    submit_transfers(genesis, 3)
    before = chain_snapshot()
    monkeypatch.setattr(block_write_module, "write_records", crash_after(0, block_write_module.write_records))
    with pytest.raises(Crash):
        produce()
    monkeypatch.undo()

    block = produce()

    assert block.height == before["head"]["height"] + 1
    assert block.tx_count == 3 * len(SENDERS)
    assert MempoolTx.objects.count() == 0
    assert ChainTx.objects.filter(block=block, ok=True).count() == 3 * len(SENDERS)


def test_a_restarted_site_continues_from_its_stored_chain(chain, genesis, produce, node_key):
    for round_ in range(3):
        submit_transfers(genesis, 2, first_nonce=2 * round_)
        produce()
    last = Block.objects.order_by("-height").first()
    # A restart: new database connection, node key read again from its file.
    connection.close()
    node_signing_key.cache_clear()
    submit_transfers(genesis, 1, first_nonce=6)

    block = consensus_step(node_signing_key())

    assert block.height == last.height + 1
    assert block.previous_hash == last.hash
    assert block.state_root == last.result_state_root
    assert ChainHead.objects.get().height == block.height


def test_re_executing_every_stored_block_from_genesis_reproduces_its_roots(chain, genesis, produce):
    submit_transfers(genesis, 3)
    produce()
    stake = sign_transaction(
        demo_key("hydro_nan"), chain_id=genesis.chain_id, nonce=0, kind="stake_bond", payload={"amount": 5}
    )
    overspend = sign_transaction(
        demo_key("hydro_nan"),
        chain_id=genesis.chain_id,
        nonce=1,
        kind="stake_unbond",
        payload={"amount": 10**12},
    )
    transactions_submit([stake.to_wire(), overspend.to_wire()])
    submit_transfers(genesis, 2, first_nonce=3)
    produce()

    replayed = MemoryStore.holding(genesis.records())
    previous_hash = genesis.hash
    for block in Block.objects.order_by("height"):
        assert block.previous_hash == previous_hash
        assert block.state_root == replayed.root
        stored = list(ChainTx.objects.filter(block=block).order_by("position"))
        txs = [
            Transaction(genesis.chain_id, t.sender, t.nonce, t.kind, t.payload, t.signature) for t in stored
        ]
        state = State(replayed, replayed.accumulator)
        result = execute_block(
            state,
            txs,
            chain_id=genesis.chain_id,
            height=block.height,
            timestamp_ms=block.timestamp_ms,
            params=ChainHead.objects.get().params,
            strict=True,
            verify_signatures=True,
            proposer=block.proposer,
            round=block.round,
            previous_hash=block.previous_hash,
        )
        replayed.write(state)
        assert state.root == block.result_state_root
        assert [(r.ok, r.code) for r in result.receipts] == [(t.ok, t.error_code) for t in stored]
        # The merkle root and count come from the replayed transactions, not the stored row.
        header = dataclasses.replace(
            block.header(genesis.chain_id), merkle_root=block_merkle_root(txs), tx_count=len(txs)
        )
        assert header.hash == block.hash
        assert all(precommit_valid(header, vote) for vote in block.commit_certificate)
        previous_hash = block.hash
    assert replayed.root == ChainHead.objects.get().state_root
    assert ChainTx.objects.get(hash=overspend.hash).error_code == "insufficient_stake"
