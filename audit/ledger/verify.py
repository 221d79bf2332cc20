"""Re-check stored blocks from genesis without trusting anything the site computed.

Each stored block is rebuilt from its row and its transaction rows and checked
against the chain's own rules (chain.ledger): the header re-hashes to the
stored hash, it links to the block before, its merkle root is recomputed from
the transactions re-hashed from their fields, every transaction signature and
every commit-certificate precommit verifies. ``ChainReplay`` optionally runs
every block again on an in-memory state from genesis and compares the roots.

Problems are plain sentences: the first one found names the first bad block.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from chain.ledger.block import (
    BlockHeader,
    block_merkle_root,
    execute_block,
    params_after,
    precommit_valid,
)
from chain.ledger.errors import LedgerError
from chain.ledger.state import Account, MemoryStore, Mining, State, Validator
from chain.ledger.tx import Transaction
from chain.ledger.validators import is_authority, proposer_for, proposer_weights, voting_power


@dataclass(frozen=True, slots=True)
class StoredTx:
    """A transaction row as the site stored it, with its receipt."""

    hash: str
    position: int
    sender: str
    nonce: int
    kind: str
    payload: dict
    signature: str
    ok: bool = True
    error_code: str = ""


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A block row: its header fields, stored hash, certificate and transactions in position order."""

    header: BlockHeader
    hash: str
    result_state_root: str
    commit_certificate: list
    transactions: list[StoredTx]


@dataclass(frozen=True, slots=True)
class BlockCheck:
    """What checking one block found: problems (empty when it holds) and the work done."""

    problems: list[str]
    signatures_checked: int
    precommits_checked: int


def transactions_of(chain_id: str, stored: Iterable[StoredTx]) -> list[Transaction]:
    """Transactions rebuilt from their fields: their hashes are recomputed, never read back."""
    return [Transaction(chain_id, t.sender, t.nonce, t.kind, t.payload, t.signature) for t in stored]


def block_check(block: StoredBlock, *, expected_previous_hash: str) -> BlockCheck:
    """Every stateless check of one block, in the order a reader would doubt it."""
    header = block.header
    problems: list[str] = []
    if header.previous_hash != expected_previous_hash:
        problems.append(
            f"previous_hash {header.previous_hash[:16]}… does not link to the block before "
            f"(expected {expected_previous_hash[:16]}…)."
        )
    rehashed = header.hash
    if rehashed != block.hash:
        problems.append(
            f"the header re-hashes to {rehashed[:16]}…, not to the stored hash {block.hash[:16]}…."
        )
    if not header.meets_difficulty():
        problems.append(
            f"the header hash does not meet its proof-of-work difficulty ({header.difficulty} bits)."
        )
    positions = [t.position for t in block.transactions]
    if positions != list(range(len(positions))):
        problems.append("transaction positions are not 0, 1, 2, … in order.")
    if len(block.transactions) != header.tx_count:
        problems.append(f"the header counts {header.tx_count} transactions; {len(positions)} are stored.")
    txs = transactions_of(header.chain_id, block.transactions)
    signatures = 0
    for stored, tx in zip(block.transactions, txs, strict=True):
        if tx.hash != stored.hash:
            problems.append(
                f"transaction at position {stored.position} ({stored.hash[:16]}…): its fields hash to "
                f"{tx.hash[:16]}… (payload or fields changed)."
            )
        signatures += 1
        if not tx.signature_valid():
            problems.append(
                f"transaction at position {stored.position} ({stored.hash[:16]}…): the signature does "
                "not verify against its sender."
            )
    merkle = block_merkle_root(txs)
    if merkle != header.merkle_root:
        problems.append(
            f"the merkle root of the stored transactions is {merkle[:16]}…, the header says "
            f"{header.merkle_root[:16]}…."
        )
    if not block.commit_certificate:
        problems.append("the commit certificate holds no precommit.")
    # A precommit signs the header's hash: checked against the recomputed header, so a
    # certificate of the stored (possibly forged) hash cannot pass for a changed header.
    for index, precommit in enumerate(block.commit_certificate):
        if not isinstance(precommit, dict) or not precommit_valid(header, precommit):
            who = precommit.get("validator", "?") if isinstance(precommit, dict) else "?"
            problems.append(f"precommit {index} (validator {str(who)[:16]}…) does not verify.")
    return BlockCheck(problems, signatures, len(block.commit_certificate))


class ChainReplay:
    """Runs stored blocks again from genesis in memory, strictly, and compares the roots.

    ``block_replay`` returns the problems of one block (empty when its state
    roots and receipts match) and records which accounts the block changed,
    so callers can keep balances over time.
    """

    def __init__(self, genesis_records: list, genesis_params: dict) -> None:
        self.store = MemoryStore.holding(genesis_records)
        self.params = genesis_params

    def block_replay(self, block: StoredBlock) -> tuple[list[str], list[Account]]:
        header = block.header
        problems: list[str] = []
        if header.state_root != self.store.root:
            problems.append(
                f"the header's state root {header.state_root[:16]}… is not the replayed state root "
                f"{self.store.root[:16]}… after the block before."
            )
        problems += self._consensus_problems(block)
        txs = transactions_of(header.chain_id, block.transactions)
        try:
            state, result = self._execute(header, txs)
        except LedgerError as exc:
            return [*problems, f"re-executing the block fails: {exc.message}"], []
        receipts = [(r.ok, r.code) for r in result.receipts]
        stored = [(t.ok, t.error_code) for t in block.transactions]
        for position, (replayed, kept) in enumerate(zip(receipts, stored, strict=False)):
            if replayed != kept:
                problems.append(
                    f"transaction at position {position}: replay gives ok={replayed[0]} {replayed[1]!r}, "
                    f"the stored receipt says ok={kept[0]} {kept[1]!r}."
                )
                break
        if result.energy != header.energy:
            problems.append(f"replayed energy {result.energy} differs from the header's {header.energy}.")
        if state.root != block.result_state_root:
            problems.append(
                f"the replayed state root after the block is {state.root[:16]}…, the stored one is "
                f"{block.result_state_root[:16]}…."
            )
        changed = list(state.dirty_records().get(Account.table, []))
        self.params = params_after(self.params, state)
        self.store.write(state)
        return problems, changed

    def _consensus_problems(self, block: StoredBlock) -> list[str]:
        """The certificate against the validator set as replayed before the block: its signers
        hold more than 2/3 of the voting power and include an authority, and the proposer is
        the one the proposer rule picks for the block's round (chain.ledger.validators)."""
        header = block.header
        validators = sorted(self.store.tables.get(Validator.table, {}).values(), key=lambda v: v.public_key)
        held = self.store.tables.get(Account.table, {})
        accounts = {v.public_key: held[v.public_key] for v in validators if v.public_key in held}
        power = voting_power(validators, accounts)
        total = sum(power.values())
        signers = {p.get("validator") for p in block.commit_certificate if isinstance(p, dict)}
        weight = sum(power.get(s, 0) for s in signers)
        problems = []
        if not 3 * weight > 2 * total:
            problems.append(
                f"the certificate's signers hold {weight} of {total} units of voting power; "
                "more than 2/3 must sign."
            )
        if not any(is_authority(v) and v.public_key in signers and v.public_key in power for v in validators):
            problems.append("no authority signed the commit certificate.")
        off = frozenset(k for k, m in self.store.tables.get(Mining.table, {}).items() if not m.mining)
        weights = proposer_weights(validators, accounts, self.params, off)
        if weights:
            expected = proposer_for(weights, header.previous_hash, header.round)
            if header.proposer != expected:
                problems.append(
                    f"the proposer {header.proposer[:16]}… is not the one the proposer rule picks for "
                    f"round {header.round} ({expected[:16]}…)."
                )
        return problems

    def _execute(self, header: BlockHeader, txs: list[Transaction]):
        """One strict run of the block over the replayed store, which it does not write; the
        header says who proposed it in which round (the block's start counts that)."""
        state = State(self.store, self.store.accumulator)
        result = execute_block(
            state,
            txs,
            chain_id=header.chain_id,
            height=header.height,
            timestamp_ms=header.timestamp_ms,
            params=self.params,
            strict=True,
            verify_signatures=False,  # block_check verified each one
            proposer=header.proposer,
            round=header.round,
            previous_hash=header.previous_hash,
        )
        return state, result
