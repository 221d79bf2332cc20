"""The mempool: an account's pending view, and take, look up, drop and remove for blocks.

Admission (chain.services.admission) inserts. The pending view (``pending_views``:
next nonce, free tokens, free Wh, net of what already waits) is the one every signer
reads: admission, browser wallets, the node's own transactions, meters. Everything
else that touches ``chain_mempooltx`` for a block is here too, in plain SQL with
arrays bound on the server (chain.store.binary_cursor): a block moves thousands of
rows at a time.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from chain.ledger.errors import LedgerError
from chain.ledger.tx import Transaction
from chain.models import ChainHead, DroppedTx
from chain.store import binary_cursor, transaction_rows


@dataclass(frozen=True, slots=True)
class PendingView:
    """An account as its next transaction sees it: committed state net of what already waits."""

    #: The nonce the next transaction must carry: the committed one plus those waiting.
    next_nonce: int
    #: Tokens the next transaction may take: the balance (with unbonded stake whose release
    #: height the next block reaches) less the most the waiting transactions may take.
    free_tokens: int
    #: Wh the next transaction may sell or spend, less what waiting transactions hold.
    free_wh: int
    #: Transactions of the account waiting in the mempool.
    waiting: int
    #: The last round-robin turn among them (0 when none waits): see admission's turns.
    last_turn: int


def pending_views(addresses: list[str], *, next_height: int) -> dict[str, PendingView]:
    """The pending view of every known account of ``addresses`` (unknown ones are left out).

    Accounts and the mempool are read in one statement, hence one snapshot: a block
    committing in between cannot make a replayed nonce look fresh.
    """
    with binary_cursor() as cursor:
        cursor.execute(
            """
            SELECT a.address, a.nonce,
                   -- unbonded stake whose release height is reached is spendable in the next block
                   a.balance + CASE WHEN a.unbonding_release_height <= %b THEN a.unbonding ELSE 0 END,
                   a.energy_wh,
                   COALESCE(m.pending, 0), COALESCE(m.debit, 0), COALESCE(m.energy_debit, 0),
                   COALESCE(m.last_turn, 0)
              FROM chain_account a
              LEFT JOIN (SELECT sender, count(*) AS pending, sum(token_debit)::bigint AS debit,
                                sum(energy_debit_wh)::bigint AS energy_debit, max(turn) AS last_turn
                           FROM chain_mempooltx WHERE sender = ANY(%b) GROUP BY sender) m
                ON m.sender = a.address
             WHERE a.address = ANY(%b)
            """,
            [next_height, addresses, addresses],
        )
        return {
            address: PendingView(nonce + waiting, spendable - debit, energy_wh - energy_debit, waiting, turn)
            for address, nonce, spendable, energy_wh, waiting, debit, energy_debit, turn in cursor.fetchall()
        }


def next_nonce(address: str) -> int:
    """The nonce ``address``'s next transaction must carry (0 for an account not on chain yet)."""
    next_height = ChainHead.objects.values_list("height", flat=True).get() + 1
    view = pending_views([address], next_height=next_height).get(address)
    return view.next_nonce if view is not None else 0


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
