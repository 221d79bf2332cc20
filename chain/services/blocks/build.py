"""Our proposal for the next height: the mempool, executed leniently, checked to write, mined."""

import logging

from chain import clock
from chain.ledger.block import (
    BlockHeader,
    BlockResult,
    begin_block_due,
    block_merkle_root,
    execute_block,
    mine,
    params_after,
    required_difficulty,
)
from chain.ledger.errors import LedgerError
from chain.ledger.state import State
from chain.ledger.tx import Transaction
from chain.models import ChainHead
from chain.selectors import validators_hash_at
from chain.services.blocks.check import BuiltBlock, execution_unwritable, head_ms
from chain.services.mempool import mempool_drop, mempool_take
from chain.store import DatabaseStore

log = logging.getLogger(__name__)

#: A transaction left out of a proposal because the block would not have written with it.
UNWRITABLE = "unwritable"


def block_build(node_key, head: ChainHead, round: int, *, empty_ok: bool) -> BuiltBlock | None:
    """Our proposal for the next height: the mempool round-robin over senders, run leniently.

    A transaction that cannot be included is dropped from the mempool (and
    recorded as dropped). Returns None when there is nothing to include and
    ``empty_ok`` is false (no begin-block work due either).
    """
    params = head.params
    pending = mempool_take(head.chain_id, params["max_block_txs"])
    height = head.height + 1
    timestamp_ms = max(clock.now_ms(), head_ms(head) + 1)
    store = DatabaseStore()
    if not pending and not empty_ok and not begin_block_due(store, timestamp_ms, params):
        return None
    proposer = node_key.verify_key.encode().hex()

    def run(txs: list[Transaction]) -> tuple[State, BlockResult]:
        state = State(store, int(head.accumulator, 16))
        result = execute_block(
            state,
            txs,
            chain_id=head.chain_id,
            height=height,
            timestamp_ms=timestamp_ms,
            params=params,
            strict=False,
            verify_signatures=False,
            proposer=proposer,
            round=round,
            previous_hash=head.block_hash,
        )
        return state, result

    state, result = run(pending)
    dirty = state.dirty_records()
    unwritable: list[tuple[Transaction, LedgerError]] = []
    while problems := execution_unwritable(result, dirty):
        # The field rules should make this impossible: never propose what would not write,
        # and leave out the transaction that made it so instead of stalling on it.
        culprit = _first_unwritable(run, pending)
        log.error("Height %s: transaction %s would not write (%s); dropped", height, culprit.hash, problems)
        error = LedgerError(UNWRITABLE, "The block would not write: %(problem)s.", {"problem": problems[0]})
        unwritable.append((culprit, error))
        pending = [tx for tx in pending if tx is not culprit]
        state, result = run(pending)
        dirty = state.dirty_records()
    result.dropped.extend(unwritable)
    if result.dropped:
        mempool_drop(result.dropped)
    if not result.included and not empty_ok and not dirty:
        return None
    header = mine(
        BlockHeader(
            chain_id=head.chain_id,
            height=height,
            timestamp_ms=timestamp_ms,
            previous_hash=head.block_hash,
            merkle_root=block_merkle_root(result.included),
            state_root=head.state_root,
            proposer=proposer,
            round=round,
            difficulty=required_difficulty(result.energy, params),
            nonce=0,
            tx_count=len(result.included),
            energy=result.energy,
            validators_hash=validators_hash_at(head.block_hash, head.state_root),
        )
    )
    return BuiltBlock(
        header, result.included, result, state, head.block_hash, params_after(params, state), dirty
    )


def _first_unwritable(run, pending: list[Transaction]) -> Transaction:
    """The transaction whose execution first makes the block unwritable: the shortest failing
    prefix, found in log2(len(pending)) executions. Raises if the empty block already fails."""
    low, high = 0, len(pending)  # the prefix of ``low`` writes; that of ``high`` does not
    state, result = run([])
    if execution_unwritable(result, state.dirty_records()):
        raise LedgerError(UNWRITABLE, "The block's begin-block work would not write.")
    while high - low > 1:
        middle = (low + high) // 2
        state, result = run(pending[:middle])
        if execution_unwritable(result, state.dirty_records()):
            high = middle
        else:
            low = middle
    return pending[high - 1]
