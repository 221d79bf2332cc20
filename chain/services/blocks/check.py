"""A block executed but not written, and the full check of a peer's block before a vote.

The write check (``block_unwritable``) runs before a site proposes a block or
votes for one: a block the sites decide is a block every site can write.
"""

from dataclasses import dataclass

from chain import clock
from chain.ledger.block import (
    INVALID_BLOCK,
    BlockHeader,
    BlockResult,
    block_merkle_root,
    execute_block,
    params_after,
    required_difficulty,
)
from chain.ledger.errors import LedgerError, ledger_text
from chain.ledger.fields import require_storable_tree
from chain.ledger.state import State
from chain.ledger.tx import Transaction
from chain.models import Block, ChainHead, ChainTx
from chain.selectors import validators_hash_at
from chain.store import DatabaseStore, column_problem, records_unwritable


@dataclass
class BuiltBlock:
    """A block executed over the committed state but not written: a proposal, ours or a peer's.

    ``state`` holds its changes; it is only valid while the head is still
    ``base_hash`` (one block at a time, under the consensus lock).
    """

    header: BlockHeader
    txs: list[Transaction]
    result: BlockResult
    state: State
    base_hash: str
    next_params: dict
    #: The state's changed records per table, as ``block_unwritable`` checked them.
    dirty: dict


def head_ms(head: ChainHead) -> int:
    """The head block's timestamp (ms); 0 at genesis."""
    return int(head.last_block_at.timestamp() * 1000) if head.last_block_at else 0


def block_check(
    head: ChainHead,
    header: BlockHeader,
    txs: list[Transaction],
    *,
    expected_proposer,
    admitted: frozenset[str] = frozenset(),
) -> BuiltBlock:
    """A peer's proposal, checked in full before we vote for it; LedgerError says what is wrong.

    Header fields against our head, the proposer for the header's round, the
    merkle root, the validator set, then every transaction re-executed strictly
    (signatures verified unless ``admitted`` names it: read from this site's
    mempool, whose admission verified it), the energy metadata and the proof of work.
    """
    params = head.params
    problems = []
    if header.chain_id != head.chain_id or header.height != head.height + 1:
        problems.append(
            ledger_text(
                "height %(height)s is not %(expected)s", height=header.height, expected=head.height + 1
            )
        )
    if header.previous_hash != head.block_hash:
        problems.append(ledger_text("previous_hash is not our head"))
    if header.state_root != head.state_root:
        problems.append(ledger_text("state_root differs from ours after the previous block"))
    if header.proposer != expected_proposer(header.round):
        problems.append(ledger_text("proposer is not the one chosen for round %(round)s", round=header.round))
    if not head_ms(head) < header.timestamp_ms <= clock.now_ms() + params.get("max_clock_drift_ms", 5_000):
        problems.append(ledger_text("timestamp is not after the previous block or is in the future"))
    if header.merkle_root != block_merkle_root(txs) or header.tx_count != len(txs):
        problems.append(ledger_text("merkle root or transaction count does not match the transactions"))
    if header.validators_hash != validators_hash_at(head.block_hash, head.state_root):
        problems.append(ledger_text("validators_hash is not the active validator set"))
    if len(txs) > params["max_block_txs"]:
        problems.append(ledger_text("too many transactions"))
    if problems:
        reasons = "; ".join(problems)
        raise LedgerError(INVALID_BLOCK, reasons)
    for tx in txs:
        if tx.hash not in admitted and not tx.signature_valid():
            raise LedgerError(
                INVALID_BLOCK, "Transaction %(tx)s: the signature does not match.", {"tx": tx.hash}
            )
    state = State(DatabaseStore(), int(head.accumulator, 16))
    result = execute_block(
        state,
        txs,
        chain_id=head.chain_id,
        height=header.height,
        timestamp_ms=header.timestamp_ms,
        params=params,
        strict=True,
        verify_signatures=False,
        proposer=header.proposer,
        round=header.round,
        previous_hash=header.previous_hash,
    )
    if result.energy != header.energy:
        raise LedgerError(INVALID_BLOCK, "energy metadata does not match the executed block")
    if header.difficulty != required_difficulty(result.energy, params) or not header.meets_difficulty():
        raise LedgerError(INVALID_BLOCK, "proof of work missing or below the target")
    dirty = state.dirty_records()
    problems = block_unwritable(header, result, dirty, checked_payloads=admitted)
    if problems:
        raise LedgerError(
            INVALID_BLOCK, "the block would not write: %(problems)s", {"problems": "; ".join(problems[:5])}
        )
    return BuiltBlock(header, txs, result, state, head.block_hash, params_after(params, state), dirty)


def block_unwritable(
    header: BlockHeader, result: BlockResult, dirty: dict, *, checked_payloads: frozenset[str] = frozenset()
) -> list[str]:
    """Why writing this executed block would fail, after the sites decided it; [] when it writes.

    Run before a site proposes or votes: the header's row, every transaction's row
    with its receipt, and every changed record must fit their columns exactly
    (chain.store.column_problem). Payloads named in ``checked_payloads`` came from
    this site's mempool, which holds them as jsonb already.
    """
    block_row = {
        "height": header.height,
        "hash": header.hash,
        "previous_hash": header.previous_hash,
        "timestamp_ms": header.timestamp_ms,
        "merkle_root": header.merkle_root,
        "state_root": header.state_root,
        "proposer": header.proposer,
        "round": header.round,
        "difficulty": header.difficulty,
        "nonce": header.nonce,
        "tx_count": header.tx_count,
        "energy": header.energy,
        "validators_hash": header.validators_hash,
    }
    problems = [p for name, value in block_row.items() if (p := column_problem(Block, name, [value]))]
    return problems + execution_unwritable(result, dirty, checked_payloads=checked_payloads)


def execution_unwritable(
    result: BlockResult, dirty: dict, *, checked_payloads: frozenset[str] | None = None
) -> list[str]:
    """The transactions' rows (chain_chaintx) and the changed records: see ``block_unwritable``.

    Without ``checked_payloads`` every transaction came from this site's mempool (a proposal).
    """
    txs, receipts = result.included, result.receipts
    columns = {
        "hash": [tx.hash for tx in txs],
        "sender": [tx.sender for tx in txs],
        "nonce": [tx.nonce for tx in txs],
        "kind": [tx.kind for tx in txs],
        "signature": [tx.signature for tx in txs],
        "error_code": [r.code for r in receipts],
        "error_message": [r.message for r in receipts],
    }
    problems = [p for name, values in columns.items() if (p := column_problem(ChainTx, name, values))]
    if len(set(columns["hash"])) != len(txs):
        problems.append(ledger_text("chain_chaintx.hash: a transaction twice in the block"))
    if checked_payloads is not None:
        for tx in txs:
            if tx.hash in checked_payloads:
                continue
            try:
                require_storable_tree(tx.payload)
            except LedgerError as exc:
                problems.append(
                    ledger_text("chain_chaintx.payload of %(tx)s: %(reason)s", tx=tx.hash, reason=exc.message)
                )
    return problems + records_unwritable(dirty)
