"""The mempool: an account's pending view, take, look up, drop and remove for blocks, the
receipts of dropped transactions, and the hold queue of transactions a nonce ahead.

Admission (chain.services.admission) inserts. The pending view (``pending_views``:
next nonce, free tokens, free Wh, net of what already waits) is the one every signer
reads: admission, browser wallets, the node's own transactions, meters. Everything
else that touches ``chain_mempooltx`` for a block is here too, in plain SQL with
arrays bound on the server (chain.store.binary_cursor): a block moves thousands of
rows at a time.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chain import events
from chain.ledger import errors
from chain.ledger.errors import LedgerError
from chain.ledger.tx import Transaction
from chain.models import ChainHead, ChainTx, DroppedTx
from chain.store import binary_cursor, transaction_rows


@dataclass(frozen=True, slots=True)
class PendingView:
    """An account as its next transaction sees it: committed state net of what already waits."""

    #: The nonce the next transaction must carry: the committed one plus those waiting that
    #: continue it without a gap.
    next_nonce: int
    #: Tokens the next transaction may take: the balance (with unbonded stake whose release
    #: height the next block reaches) less the most the waiting transactions may take (those
    #: whose nonce is not used yet).
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

    The next nonce counts only the waiting transactions that continue the committed
    nonce without a gap. A row whose nonce a block already used (gossip that was checked
    before the block committed and written after it) or one past a dropped predecessor
    would otherwise count a transaction that exists nowhere: the "expected nonce n+1"
    a client can never satisfy. Such rows leave at the next block (chain.services.blocks.build).
    """
    with binary_cursor() as cursor:
        cursor.execute(
            """
            SELECT a.address, a.nonce,
                   -- unbonded stake whose release height is reached is spendable in the next block
                   a.balance + CASE WHEN a.unbonding_release_height <= %b THEN a.unbonding ELSE 0 END,
                   a.energy_wh,
                   m.waiting, COALESCE(m.run, 0), COALESCE(m.debit, 0), COALESCE(m.energy_debit, 0),
                   COALESCE(m.last_turn, 0)
              FROM chain_account a
              CROSS JOIN LATERAL (
                    SELECT count(*) AS waiting,
                           count(*) FILTER (WHERE w.nonce >= a.nonce
                                              AND w.nonce - a.nonce = w.position) AS run,
                           sum(w.token_debit) FILTER (WHERE w.nonce >= a.nonce)::bigint AS debit,
                           sum(w.energy_debit_wh) FILTER (WHERE w.nonce >= a.nonce)::bigint AS energy_debit,
                           max(w.turn) AS last_turn
                      FROM (SELECT nonce, token_debit, energy_debit_wh, turn,
                                   -- the row's place among those not yet used: equal to its
                                   -- distance from the committed nonce while there is no gap
                                   count(*) FILTER (WHERE nonce >= a.nonce) OVER (ORDER BY nonce) - 1
                                       AS position
                              FROM chain_mempooltx WHERE sender = a.address) w) m
             WHERE a.address = ANY(%b)
            """,
            [next_height, addresses],
        )
        rows = cursor.fetchall()
    return {
        address: PendingView(nonce + run, spendable - debit, energy_wh - energy_debit, waiting, turn)
        for address, nonce, spendable, energy_wh, waiting, run, debit, energy_debit, turn in rows
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


@transaction.atomic  # the receipts with the removal, or neither
def mempool_drop(dropped: list[tuple[Transaction, LedgerError]]) -> None:
    """Take transactions a proposal could not include out of the mempool, and record why."""
    with binary_cursor() as cursor:
        cursor.execute(
            "DELETE FROM chain_mempooltx WHERE hash = ANY(%b)", [sorted({tx.hash for tx, _ in dropped})]
        )
    dropped_receipts_write([(tx, exc.code, exc.message) for tx, exc in dropped])


def dropped_receipts_write(dropped: list[tuple[Transaction, str, str]]) -> None:
    """Receipts (code, message) for transactions that leave this site unwritten, kept
    GTX_DROPPED_RECEIPT_DAYS, and after commit a word to their senders' open pages. None for
    a hash committed here: a late copy of a committed transaction (its nonce now used) was
    never lost."""
    if not dropped:
        return
    hashes = [tx.hash for tx, _, _ in dropped]
    committed = set(ChainTx.objects.filter(hash__in=hashes).values_list("hash", flat=True))
    receipts = [
        DroppedTx(
            hash=tx.hash,
            sender=tx.sender,
            nonce=tx.nonce,
            kind=tx.kind,
            error_code=code,
            error_message=message,
        )
        for tx, code, message in dropped
        if tx.hash not in committed
    ]
    DroppedTx.objects.bulk_create(receipts, ignore_conflicts=True)
    if receipts:
        # No block will name the sender: their open pages hear of the drop this way.
        senders = [receipt.sender for receipt in receipts]
        transaction.on_commit(lambda: events.transactions_dropped(senders))


def dropped_receipts_prune() -> int:
    """Forget receipts older than GTX_DROPPED_RECEIPT_DAYS (beat's tick); how many went."""
    cutoff = timezone.now() - timedelta(days=settings.GTX_DROPPED_RECEIPT_DAYS)
    return DroppedTx.objects.filter(dropped_at__lt=cutoff).delete()[0]


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


def mempool_drop_stale(chain_id: str, txs: list[Transaction], height: int) -> None:
    """Drop what waits or is held with a nonce the block's senders have now used (once their
    accounts are written): that transaction, or another with its nonce, was committed. Each
    not committed gets a receipt."""
    senders = sorted({tx.sender for tx in txs})
    stale = []
    for table in ("chain_mempooltx", "chain_heldtx"):
        stale += transaction_rows(
            chain_id,
            f"DELETE FROM {table} m USING chain_account a "  # noqa: S608 - one of two table names
            "WHERE m.sender = a.address AND m.nonce < a.nonce AND a.address = ANY(%b) "
            "RETURNING m.hash, m.sender, m.nonce, m.kind, m.payload::text, m.signature",
            [senders],
        )
    dropped_receipts_write(
        [
            (tx, errors.NONCE_REPLAYED, f"Block {height} committed another transaction of nonce {tx.nonce}.")
            for tx in stale
        ]
    )


# --- the hold queue: transactions a nonce ahead, waiting for their predecessor ----------------


def held_insert(txs: list[Transaction]) -> set[str]:
    """Hold ``txs`` (signatures verified); the hashes held (a twin hash or nonce is not)."""
    now = timezone.now()
    with binary_cursor() as cursor:
        cursor.execute(
            "INSERT INTO chain_heldtx (hash, sender, nonce, kind, payload, signature, received_at) "
            "SELECT h, s, n, k, p::jsonb, sig, %b "
            "FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[], %b::text[]) "
            "AS u(h, s, n, k, p, sig) ON CONFLICT DO NOTHING RETURNING hash",
            [
                now,
                [tx.hash for tx in txs],
                [tx.sender for tx in txs],
                [tx.nonce for tx in txs],
                [tx.kind for tx in txs],
                [json.dumps(tx.payload) for tx in txs],
                [tx.signature for tx in txs],
            ],
        )
        return {row[0] for row in cursor.fetchall()}


def held_counts(senders: list[str]) -> tuple[dict[str, int], int]:
    """Transactions held per sender of ``senders``, and held in all."""
    with binary_cursor() as cursor:
        rows = cursor.execute(
            "SELECT sender, count(*) FROM chain_heldtx WHERE sender = ANY(%b) GROUP BY sender "
            "UNION ALL SELECT NULL, count(*) FROM chain_heldtx",
            [senders],
        ).fetchall()
    total = next(count for sender, count in rows if sender is None)
    return {sender: count for sender, count in rows if sender is not None}, total


def held_senders(senders: list[str] | None = None) -> list[str]:
    """Those of ``senders`` (every sender when None) with transactions held."""
    with binary_cursor() as cursor:
        if senders is None:
            cursor.execute("SELECT DISTINCT sender FROM chain_heldtx")
        else:
            cursor.execute("SELECT DISTINCT sender FROM chain_heldtx WHERE sender = ANY(%b)", [senders])
        return sorted(row[0] for row in cursor.fetchall())


def held_take_ready(chain_id: str, senders: list[str]) -> list[Transaction]:
    """Take out of the hold, in nonce order, each sender's held transactions that now follow its
    next nonce without a gap. A concurrent taker gets none of the same rows (DELETE ... RETURNING)."""
    next_height = ChainHead.objects.values_list("height", flat=True).get() + 1
    views = pending_views(senders, next_height=next_height)
    held = transaction_rows(
        chain_id,
        "SELECT hash, sender, nonce, kind, payload::text, signature FROM chain_heldtx "
        "WHERE sender = ANY(%b) ORDER BY sender, nonce",
        [senders],
    )
    expected = {address: view.next_nonce for address, view in views.items()}
    ready = []
    for tx in held:
        if expected.get(tx.sender) == tx.nonce:
            ready.append(tx)
            expected[tx.sender] += 1
    if not ready:
        return []
    with binary_cursor() as cursor:
        cursor.execute(
            "DELETE FROM chain_heldtx WHERE hash = ANY(%b) RETURNING hash", [[tx.hash for tx in ready]]
        )
        taken = {row[0] for row in cursor.fetchall()}
    return [tx for tx in ready if tx.hash in taken]


@transaction.atomic  # the receipts with the removal, or neither
def held_expire(chain_id: str) -> list[Transaction]:
    """Drop what was held longer than GTX_HOLD_SECONDS, with a ``nonce_gap`` receipt each."""
    cutoff = timezone.now() - timedelta(seconds=settings.GTX_HOLD_SECONDS)
    expired = transaction_rows(
        chain_id,
        "DELETE FROM chain_heldtx WHERE received_at < %b "
        "RETURNING hash, sender, nonce, kind, payload::text, signature",
        [cutoff],
    )
    if expired:
        next_height = ChainHead.objects.values_list("height", flat=True).get() + 1
        views = pending_views(sorted({tx.sender for tx in expired}), next_height=next_height)
        dropped_receipts_write(
            [
                (
                    tx,
                    errors.NONCE_GAP,
                    f"Held {settings.GTX_HOLD_SECONDS} s for nonce "
                    f"{views[tx.sender].next_nonce if tx.sender in views else 0}, which did not arrive.",
                )
                for tx in expired
            ]
        )
    return expired
