"""The mempool as blocks use it: take in block order, look up by hash, drop, remove what a block wrote.

Admission (chain.services.admission) inserts; everything else that touches
``chain_mempooltx`` for a block is here, in plain SQL with arrays bound on the server
(chain.store.binary_cursor): a block moves thousands of rows at a time.
"""

import json
from datetime import UTC, datetime

from chain.ledger.errors import LedgerError
from chain.ledger.tx import Transaction
from chain.models import DroppedTx
from chain.store import binary_cursor, transaction_rows


def mempool_take(chain_id: str, limit: int) -> list[Transaction]:
    """The first ``limit`` mempool transactions in block order: round-robin over senders.

    Each turn (chain.services.admission) holds at most one transaction per sender, in
    nonce order, so a block takes every waiting sender's next transaction before anyone's
    second: a sender flooding the mempool cannot keep another's out of the next block.
    One range of the (turn, id) index, as cheap as arrival order was.
    """
    return transaction_rows(
        chain_id,
        "SELECT hash, sender, nonce, kind, payload::text, signature "
        "FROM chain_mempooltx ORDER BY turn, id LIMIT %b",
        [limit],
    )


def mempool_transactions(chain_id: str, hashes: list[str]) -> dict[str, Transaction]:
    """The transactions of ``hashes`` this site holds in its mempool, by hash."""
    txs = transaction_rows(
        chain_id,
        "SELECT hash, sender, nonce, kind, payload::text, signature "
        "FROM chain_mempooltx WHERE hash = ANY(%b)",
        [hashes],
    )
    return {tx.hash: tx for tx in txs}


def mempool_drop(dropped: list[tuple[Transaction, LedgerError]]) -> None:
    """Take transactions a proposal could not include out of the mempool, and record why."""
    with binary_cursor() as cursor:
        cursor.execute(
            "DELETE FROM chain_mempooltx WHERE hash = ANY(%b)", [sorted({tx.hash for tx, _ in dropped})]
        )
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
            for tx, exc in dropped
        ],
        ignore_conflicts=True,
    )


def mempool_remove(txs: list[Transaction]) -> dict[str, tuple[str, str]]:
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


def mempool_drop_stale(txs: list[Transaction]) -> None:
    """Drop what waits with a nonce the block's senders have now used (once their accounts are written)."""
    with binary_cursor() as cursor:
        cursor.execute(
            "DELETE FROM chain_mempooltx m USING chain_account a "
            "WHERE m.sender = a.address AND m.nonce < a.nonce AND a.address = ANY(%b)",
            [sorted({tx.sender for tx in txs})],
        )
