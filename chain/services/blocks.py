"""Block production on this site, and the chain's set-up from genesis.

A block is applied in one database transaction: read the mempool, execute in
the ledger core, then write with one statement per table. Anything raised
before the commit leaves the previous state exactly as it was.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from chain import events
from chain.ledger.block import (
    INVALID_BLOCK,
    BlockHeader,
    BlockResult,
    begin_block_due,
    block_merkle_root,
    execute_block,
    mine,
    params_after,
    required_difficulty,
    validators_hash,
)
from chain.ledger.errors import LedgerError
from chain.ledger.fields import require_storable_tree
from chain.ledger.genesis import Genesis, demo_key
from chain.ledger.state import ACCUMULATOR_MOD, State, leaf_value, state_root
from chain.ledger.tx import Transaction
from chain.models import Block, ChainHead, ChainTx, DroppedTx, Validator
from chain.store import DatabaseStore, binary_cursor, column_problem, records_unwritable, write_records

log = logging.getLogger(__name__)

#: A transaction left out of a proposal because the block would not have written with it.
UNWRITABLE = "unwritable"


class ChainAlreadyInitialised(Exception):
    pass


def chain_init(genesis: Genesis) -> ChainHead:
    """Write the genesis state. Running it again with the same genesis changes nothing."""
    with transaction.atomic():
        head = ChainHead.objects.select_for_update().first()
        if head is not None:
            if head.genesis_hash != genesis.hash:
                raise ChainAlreadyInitialised(
                    f"This database holds chain {head.chain_id} from another genesis "
                    f"({head.genesis_hash[:12]}…); use a fresh database."
                )
            return head
        records = genesis.records()
        by_table: dict[str, list] = {}
        for record in records:
            by_table.setdefault(record.table, []).append(record)
        write_records(by_table)
        accumulator = sum(leaf_value(r.table, r) for r in records) % ACCUMULATOR_MOD
        return ChainHead.objects.create(
            chain_id=genesis.chain_id,
            genesis_hash=genesis.hash,
            params=genesis.params,
            height=0,
            block_hash=genesis.hash,
            accumulator=accumulator.to_bytes(256, "big").hex(),
            state_root=state_root(accumulator),
            total_supply=sum(r.total_tokens for r in by_table.get("account", [])),
        )


def demo_users_create(genesis: Genesis, password: str) -> list[str]:
    """Demo logins for genesis accounts (keys from public demo seeds) and a staff admin."""
    from chain.services.wallets import wallet_create

    User = get_user_model()
    created = []
    for entry in genesis.accounts:
        user, new = User.objects.get_or_create(
            username=entry["username"], defaults={"first_name": entry["display_name"][:150]}
        )
        if new:
            user.set_password(password)
            user.save(update_fields=["password"])
            wallet_create(
                user=user, role=entry["role"], region=entry["region"], key=demo_key(entry["username"])
            )
            created.append(entry["username"])
    admin, new = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    if new:
        admin.set_password(password)
        admin.save(update_fields=["password"])
        created.append("admin")
    return created


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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


def block_build(node_key, head: ChainHead, round: int, *, empty_ok: bool) -> BuiltBlock | None:
    """Our proposal for the next height: the mempool round-robin over senders, run leniently.

    A transaction that cannot be included is dropped from the mempool (and
    recorded as dropped). Returns None when there is nothing to include and
    ``empty_ok`` is false (no begin-block work due either).
    """
    params = head.params
    pending = _mempool_take(head.chain_id, params["max_block_txs"])
    height = head.height + 1
    timestamp_ms = max(_now_ms(), _head_ms(head) + 1)
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
    while problems := _execution_unwritable(result, dirty):
        # The field rules should make this impossible: never propose what would not write,
        # and leave out the transaction that made it so instead of stalling on it.
        culprit = _first_unwritable(run, pending)
        log.error("Height %s: transaction %s would not write (%s); dropped", height, culprit.hash, problems)
        unwritable.append((culprit, LedgerError(UNWRITABLE, f"The block would not write: {problems[0]}.")))
        pending = [tx for tx in pending if tx is not culprit]
        state, result = run(pending)
        dirty = state.dirty_records()
    result.dropped.extend(unwritable)
    if result.dropped:
        dropped = {tx.hash for tx, _ in result.dropped}
        with binary_cursor() as cursor:
            cursor.execute("DELETE FROM chain_mempooltx WHERE hash = ANY(%b)", [sorted(dropped)])
        DroppedTx.objects.bulk_create(
            [
                DroppedTx(
                    hash=tx.hash,
                    sender=tx.sender,
                    nonce=tx.nonce,
                    kind=tx.kind,
                    error_code=exc.code,
                    error_message=exc.message,
                )
                for tx, exc in result.dropped
            ],
            ignore_conflicts=True,
        )
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
            validators_hash=_validators_hash_at(head.block_hash, head.state_root),
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
    if _execution_unwritable(result, state.dirty_records()):
        raise LedgerError(UNWRITABLE, "The block's begin-block work would not write.")
    while high - low > 1:
        middle = (low + high) // 2
        state, result = run(pending[:middle])
        if _execution_unwritable(result, state.dirty_records()):
            high = middle
        else:
            low = middle
    return pending[high - 1]


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
        problems.append(f"height {header.height} is not {head.height + 1}")
    if header.previous_hash != head.block_hash:
        problems.append("previous_hash is not our head")
    if header.state_root != head.state_root:
        problems.append("state_root differs from ours after the previous block")
    if header.proposer != expected_proposer(header.round):
        problems.append(f"proposer is not the one chosen for round {header.round}")
    if not _head_ms(head) < header.timestamp_ms <= _now_ms() + params.get("max_clock_drift_ms", 5_000):
        problems.append("timestamp is not after the previous block or is in the future")
    if header.merkle_root != block_merkle_root(txs) or header.tx_count != len(txs):
        problems.append("merkle root or transaction count does not match the transactions")
    if header.validators_hash != _validators_hash_at(head.block_hash, head.state_root):
        problems.append("validators_hash is not the active validator set")
    if len(txs) > params["max_block_txs"]:
        problems.append("too many transactions")
    if problems:
        raise LedgerError(INVALID_BLOCK, "; ".join(problems))
    for tx in txs:
        if tx.hash not in admitted and not tx.signature_valid():
            raise LedgerError(INVALID_BLOCK, f"Transaction {tx.hash}: the signature does not match.")
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
        raise LedgerError(INVALID_BLOCK, f"the block would not write: {'; '.join(problems[:5])}")
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
    return problems + _execution_unwritable(result, dirty, checked_payloads=checked_payloads)


def _execution_unwritable(
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
        problems.append("chain_chaintx.hash: a transaction twice in the block")
    if checked_payloads is not None:
        for tx in txs:
            if tx.hash in checked_payloads:
                continue
            try:
                require_storable_tree(tx.payload)
            except LedgerError as exc:
                problems.append(f"chain_chaintx.payload of {tx.hash}: {exc.message}")
    return problems + records_unwritable(dirty)


def block_write(head: ChainHead, built: BuiltBlock, certificate: list[dict]) -> Block:
    """Write a decided block and its state changes; the caller's transaction makes it atomic.

    Expects the consensus lock and ``head`` locked (select_for_update) and
    still at ``built.base_hash``. Events go out after commit.
    """
    header, result, state = built.header, built.result, built.state
    if head.block_hash != built.base_hash:
        raise RuntimeError("The head moved since the block was executed.")
    block = Block.objects.create(
        height=header.height,
        hash=header.hash,
        previous_hash=header.previous_hash,
        timestamp_ms=header.timestamp_ms,
        merkle_root=header.merkle_root,
        state_root=header.state_root,
        proposer=header.proposer,
        round=header.round,
        difficulty=header.difficulty,
        nonce=header.nonce,
        tx_count=header.tx_count,
        energy=header.energy,
        validators_hash=header.validators_hash,
        commit_certificate=certificate,
        result_state_root=state.root,
    )
    stored = _mempool_remove(built.txs)
    tx_party_lists = [tx_parties(tx) for tx in result.included]
    _chain_txs_copy(header.height, result, tx_party_lists, stored)
    write_records(built.dirty)
    _mempool_drop_stale(built.txs)
    head.height = header.height
    head.block_hash = header.hash
    head.last_block_at = datetime.fromtimestamp(header.timestamp_ms / 1000, tz=UTC)
    head.accumulator = state.accumulator.to_bytes(256, "big").hex()
    head.state_root = state.root
    head.params = built.next_params
    # Supply changes only by the mint (verified renewable export) and burn (slashing) rules.
    head.total_supply += header.energy.get("minted_units", 0) - header.energy.get("burned_units", 0)
    head.save(
        update_fields=[
            "height",
            "block_hash",
            "last_block_at",
            "accumulator",
            "state_root",
            "params",
            "total_supply",
        ]
    )
    # Events name accounts a transaction touched without naming them in its
    # payload (the resting side of a trade, the grid operator's fee).
    parties = sorted(
        {party for tx_party_list in tx_party_lists for party in tx_party_list}
        | {party for event in result.events for party in event.get("parties", ())}
    )
    transaction.on_commit(lambda: events.block_committed(block, parties, result.events))
    return block


def active_validator_keys() -> list[str]:
    return list(Validator.objects.filter(active=True, jailed=False).values_list("public_key", flat=True))


@lru_cache(maxsize=1)
def _validators_hash_at(block_hash: str, state_root: str) -> str:
    """The active set's hash, read once per head: only a block changes who is active."""
    return validators_hash(active_validator_keys())


def _head_ms(head: ChainHead) -> int:
    return int(head.last_block_at.timestamp() * 1000) if head.last_block_at else 0


def _mempool_remove(txs: list[Transaction]) -> dict[str, tuple[str, str]]:
    """Take the block's transactions out of the mempool, in one statement.

    Returns hash -> (payload JSON, received_at) for COPY: as the mempool stored
    them, else (a body from the proposal or a peer) as received now.
    """
    with binary_cursor() as cursor:
        cursor.execute(
            "DELETE FROM chain_mempooltx WHERE hash = ANY(%b) "
            "RETURNING hash, payload::text, received_at::text",
            [[tx.hash for tx in txs]],
        )
        stored = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    now = datetime.now(UTC).isoformat()
    for tx in txs:
        if tx.hash not in stored:
            stored[tx.hash] = (json.dumps(tx.payload, separators=(",", ":")), now)
    return stored


def _mempool_drop_stale(txs: list[Transaction]) -> None:
    """Drop what waits with a nonce the block's senders have now used (once their accounts are written)."""
    with binary_cursor() as cursor:
        cursor.execute(
            "DELETE FROM chain_mempooltx m USING chain_account a "
            "WHERE m.sender = a.address AND m.nonce < a.nonce AND a.address = ANY(%b)",
            [sorted({tx.sender for tx in txs})],
        )


def block_produce(node_key) -> Block | None:
    """One consensus step on this site; the block it commits, if any.

    With this site as the only validator (a solo chain, the tests' genesis),
    a step proposes, votes and commits the next block at once.
    """
    from chain.services.consensus import consensus_step

    return consensus_step(node_key)


def _mempool_take(chain_id: str, limit: int) -> list[Transaction]:
    """The first ``limit`` mempool transactions in block order: round-robin over senders.

    Each turn (chain.services.admission) holds at most one transaction per sender, in
    nonce order, so a block takes every waiting sender's next transaction before anyone's
    second: a sender flooding the mempool cannot keep another's out of the next block.
    One range of the (turn, id) index, as cheap as arrival order was.
    """
    return _transaction_rows(
        chain_id,
        "SELECT hash, sender, nonce, kind, payload::text, signature "
        "FROM chain_mempooltx ORDER BY turn, id LIMIT %b",
        [limit],
    )


def mempool_transactions(chain_id: str, hashes: list[str]) -> dict[str, Transaction]:
    """The transactions of ``hashes`` this site holds in its mempool, by hash."""
    txs = _transaction_rows(
        chain_id,
        "SELECT hash, sender, nonce, kind, payload::text, signature "
        "FROM chain_mempooltx WHERE hash = ANY(%b)",
        [hashes],
    )
    return {tx.hash: tx for tx in txs}


def committed_transactions(chain_id: str, hashes: list[str]) -> dict[str, Transaction]:
    """The transactions of ``hashes`` already in this site's blocks, by hash."""
    txs = _transaction_rows(
        chain_id,
        "SELECT hash, sender, nonce, kind, payload::text, signature FROM chain_chaintx WHERE hash = ANY(%b)",
        [hashes],
    )
    return {tx.hash: tx for tx in txs}


def _transaction_rows(chain_id: str, sql: str, params: list) -> list[Transaction]:
    """Mempool or block rows as transactions, without ORM objects.

    Admission (or the block) verified each signature and computed each hash from
    these same fields, so the transactions carry their hash. The payloads are decoded
    with one ``json.loads`` for the block, not one call per transaction.
    """
    with binary_cursor() as cursor:
        rows = cursor.execute(sql, params).fetchall()
    payloads = json.loads("[" + ",".join([row[4] for row in rows]) + "]")
    return [
        Transaction.with_known_hash(hash_, chain_id, sender, nonce, kind, payload, signature)
        for (hash_, sender, nonce, kind, _, signature), payload in zip(rows, payloads, strict=True)
    ]


def _chain_txs_copy(
    height: int, result, parties: list[list[str]], stored: dict[str, tuple[str, str]]
) -> None:
    """Every included transaction with its receipt, in one COPY.

    The rows are written as COPY text here: psycopg's ``write_row`` looks up a
    dumper for every value, which costs three times as much per transaction.
    Hashes, the sender, the signature (each verified), kinds, codes and
    timestamps are hex or plain words; the payload, the message and the parties
    (any 64-character string a payload names) are escaped.
    """
    lines = []
    rows = zip(result.included, result.receipts, parties, strict=True)
    for position, (tx, receipt, tx_party_list) in enumerate(rows):
        payload_json, received_at = stored[tx.hash]
        lines.append(
            f"{tx.hash}\t{height}\t{position}\t{tx.sender}\t{tx.nonce}\t{tx.kind}\t"
            f"{_copy_text(payload_json)}\t{tx.signature}\t{'t' if receipt.ok else 'f'}\t"
            f"{receipt.code}\t{_copy_text(receipt.message)}\t{_copy_text(_text_array(tx_party_list))}\t"
            f"{received_at}\n"
        )
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY chain_chaintx (hash, block_id, position, sender, nonce, kind, payload, signature, ok, "
            "error_code, error_message, parties, received_at) FROM STDIN"
        ) as copy:
            copy.write("".join(lines))


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab, newline and carriage return escaped.

    Four ``replace`` scans in C: ``str.translate`` to two-character escapes went
    through a dict per character, and was a tenth of a commit's CPU.
    """
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _text_array(values: list[str]) -> str:
    """A text[] literal, each element quoted (a payload may name any 64-character string)."""
    return "{" + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]) + "}"


def tx_parties(tx: Transaction) -> list[str]:
    """Accounts a transaction concerns: its sender and any address in its payload."""
    parties = {tx.sender}
    for key in ("to", "counterparty", "owner"):
        value = tx.payload.get(key)
        if isinstance(value, str) and len(value) == 64:
            parties.add(value)
    return sorted(parties)
