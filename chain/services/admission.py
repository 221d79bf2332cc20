"""Mempool admission: a batch of signed transactions is admitted whole or not at all.

Checks, cheapest first, so that a bad batch is refused before the costly part:
shape, chain id, kind and payload, not already seen, room in the mempool, then
in one snapshot the sender known, nonce exactly next, the sender's share of the
mempool (GTX_MEMPOOL_MAX_PER_SENDER) and that the sender can pay what the
transaction may take, counting what is already waiting. Signatures come last
(verified once, here; the block producer trusts the mempool), in chunks that
stop at the first bad one.

A sender's transactions may reach different sites in any order. With ``hold_gaps``
(the API's intake and peers' gossip), one whose nonce is a little ahead of the next
is held (chain.models.HeldTx, bounded by GTX_HOLD_* settings), its signature verified
first, and admitted once its predecessor waits here or is committed: ``held_release``.
"""

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from chain import task_queue
from chain.caches import LatestKeyCache
from chain.consensus import transport
from chain.ledger import errors
from chain.ledger.errors import LedgerError, ledger_text
from chain.ledger.kinds import get_kind
from chain.ledger.tx import Transaction, parse_transaction
from chain.models import MempoolTx
from chain.node import node_signing_key
from chain.peers import peer_urls
from chain.services.mempool import (
    dropped_receipts_prune,
    dropped_receipts_write,
    held_counts,
    held_expire,
    held_insert,
    held_senders,
    held_take_ready,
    mempool_transactions,
    pending_views,
)
from chain.store import binary_cursor
from chain.units import kwh_text, tokens_text

log = logging.getLogger(__name__)

MAX_BATCH = 5000
#: The mempool never holds more than this, whatever the measured rate says: the bound on
#: what peers' gossip may fill (gossip is never refused for the measured limit below).
MEMPOOL_MAX = settings.GTX_MEMPOOL_MAX
#: Under load the mempool holds at most what this site finalized in the last
#: GTX_INTAKE_TARGET_MS (the rate measured over the blocks of RATE_WINDOW_MS), never less
#: than GTX_INTAKE_MIN_WAITING: what it accepts is final within a bounded time, and the excess
#: is refused (503) at once instead of queueing. With no two recent blocks to measure (a new or
#: quiet chain) it holds GTX_INTAKE_MIN_WAITING: a burst after a quiet spell is not taken whole
#: into blocks of seconds each, and the first heights of the load measure the rate.
RATE_WINDOW_MS = 5_000
#: The newest blocks read to measure the rate (a window of faster blocks is cut here).
RATE_BLOCKS = 64
MEMPOOL_FULL = "mempool_full"
#: The sender already has GTX_MEMPOOL_MAX_PER_SENDER transactions waiting: it retries once
#: some are in a block. Its own doing, not the site's, hence HTTP 429 where mempool_full is 503.
SENDER_BUSY = "sender_busy"
#: Intake over shards (chain.services.scaling) got no answer from the batch's shard in time:
#: the site's overload too (503). The batch may still be admitted once a worker takes it.
INTAKE_BUSY = "intake_busy"
#: Seconds a client waits before resending a batch refused for want of room (the Retry-After).
RETRY_AFTER_SECONDS = 2
#: A peer's gossip may hold a sender to twice the cap: the origin site admitted it under its
#: own cap, and this site may still hold the sender's transactions of a block it has not yet
#: committed. Any more would let one validator flood the others' mempools for one account.
PEER_SENDER_CAP_FACTOR = 2
#: The last tenth of the mempool is kept for accounts with fewer than LIGHT_SENDER_MAX
#: transactions waiting (a household, a meter, a browser): when many accounts each fill their
#: share, the heavy ones are refused (503) a little before everybody else would be.
MEMPOOL_RESERVE_SHARE = 10
LIGHT_SENDER_MAX = 16
#: A client's batch the door let in on a fresh measure that it fit (chain.api.shed) is refused
#: for room only once the mempool would hold more than this many times its limit: the door
#: held its room, and peers' gossip may have filled it before intake counted the mempool.
DOOR_OVERFILL = 2


#: The codes of a transaction refused for want of room, not for itself: it may be sent again later.
FOR_WANT_OF_ROOM = frozenset({MEMPOOL_FULL, SENDER_BUSY, INTAKE_BUSY})


@dataclass
class BatchRejected(Exception):
    """Nothing of the batch was admitted; ``problems`` says which item failed and why.

    ``mempool_full`` says the mempool held all its room already, whatever the batch: the door
    may refuse others unread for a moment (chain.api.shed). A batch merely too large for the
    room left does not say so, or one client could keep the door shut for everybody."""

    problems: list[dict]
    mempool_full: bool = False

    @property
    def code(self) -> str:
        return self.problems[0]["code"]

    @property
    def retry_later(self) -> bool:
        """Nothing was wrong with the batch but room: the same batch may be sent again later."""
        return all(p["code"] in FOR_WANT_OF_ROOM for p in self.problems)

    @property
    def message(self) -> str:
        first = self.problems[0]
        if first.get("index") is None:
            return first["message"]
        return ledger_text("Transaction %(tx)s: %(reason)s", tx=first["index"], reason=first["message"])


class AdmittedBatch(list):
    """The batch's transactions, in order; ``held`` names those held for a predecessor."""

    def __init__(self, txs: list[Transaction], held: frozenset[str] = frozenset()):
        super().__init__(txs)
        self.held = held


@dataclass(frozen=True)
class IntakeHead:
    """What intake needs of the chain head."""

    chain_id: str
    height: int
    params: dict


def intake_head() -> IntakeHead:
    """The head's chain id, height and params in one plain query: intake and the peer
    protocol read them for every request, and a model query cost several times more."""
    with binary_cursor() as cursor:
        chain_id, height, params = cursor.execute(
            "SELECT chain_id, height, params::text FROM chain_chainhead"
        ).fetchone()
    return IntakeHead(chain_id, height, json.loads(params))


@dataclass(frozen=True)
class RoomSeen:
    """With the head at ``height``, ``left`` more of a client's transactions fit in the mempool,
    as measured at ``at_ms`` (this process's monotonic clock, milliseconds)."""

    height: int
    left: int
    at_ms: int


#: What intake last measured in this process. Between two blocks the room only shrinks (a
#: client's batch and peers' gossip add to the mempool; only a commit takes from it), so a batch
#: larger than ``left`` will be refused until the head moves: intake's door (chain.api.shed)
#: and the meters bridge read this, and ``room_after_newer_block``, to refuse it unread.
room_seen: RoomSeen | None = None
#: The cache key where the process that commits a block notes the room it leaves (``room_after_commit``).
ROOM_AT_COMMIT_KEY = "intake-room-at-commit"


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def _room_left(room: int, waiting: int) -> int:
    return room - waiting if waiting else MAX_BATCH  # an empty mempool takes any batch (_check_room)


def _note_room(height: int, room: int, waiting: int) -> None:
    global room_seen
    room_seen = RoomSeen(height, _room_left(room, waiting), monotonic_ms())


class RoomAtCommit(NamedTuple):
    """Once the block at ``height`` committed, a batch of up to ``left`` transactions fit in
    the mempool, and the mempool, once not empty, may hold ``limit`` (``intake_limit``)."""

    height: int
    left: int
    limit: int


def room_after_commit(head: IntakeHead) -> None:
    """Note in the site's cache the room left for clients once the block of ``head`` committed:
    the web processes and the meters bridge, which did not see the commit, learn from it that
    the room grew."""
    waiting, _ = _waiting()
    limit = intake_limit(head)
    try:
        cache.set(
            ROOM_AT_COMMIT_KEY, tuple(RoomAtCommit(head.height, _room_left(limit, waiting), limit)), None
        )
    except Exception:  # a dead Redis must not fail a committed block: the door opens without it
        log.exception("Could not note the room after block %s", head.height)


def room_after_newer_block(height: int | None) -> int | None:
    """The room the site's newest block left, if it is newer than ``height`` (None: any block);
    None when there is none, or the note cannot be read (then no one opens or shuts on it)."""
    newer = newer_block_room(height)
    return newer.left if newer is not None else None


def newer_block_room(height: int | None) -> RoomAtCommit | None:
    """The note the site's newest block left (``room_after_commit``), if it is newer than
    ``height`` (None: any block); None when there is none or it cannot be read."""
    try:
        noted = cache.get(ROOM_AT_COMMIT_KEY)
    except Exception:
        log.exception("Could not read the room after the newest block")
        return None
    if noted is None or len(noted) != len(RoomAtCommit._fields):  # none, or a note of another version
        return None
    noted = RoomAtCommit(*noted)
    return noted if height is None or noted.height > height else None


def transactions_submit(
    wires: list,
    *,
    gossip: bool = True,
    skip_known: bool = False,
    hold_gaps: bool = False,
    head: IntakeHead | None = None,
    door_passed: bool = False,
) -> AdmittedBatch:
    """Admit every transaction of ``wires`` (decoded JSON, or parsed) or raise BatchRejected.

    Admitted transactions are gossiped to the other validators once, after
    commit, unless they came by gossip themselves (``gossip=False``). With
    ``skip_known`` (a peer's gossip), those already in the mempool, held or in a block
    are left out before their signatures are checked, instead of refused. With
    ``hold_gaps``, a nonce ahead of the next one is held rather than refused, within
    the hold's bounds. ``head`` is the caller's ``intake_head()``, if it read it already.
    ``door_passed``: a client's batch the door found room for (DOOR_OVERFILL).
    """
    if not isinstance(wires, list) or not wires:
        raise BatchRejected(
            [_problem(None, errors.MALFORMED, ledger_text("Send a transaction or a non-empty list."))]
        )
    if len(wires) > MAX_BATCH:
        raise BatchRejected(
            [
                _problem(
                    None,
                    errors.MALFORMED,
                    ledger_text("A batch holds at most %(count)s transactions.", count=MAX_BATCH),
                )
            ]
        )
    head = head or intake_head()
    room = intake_limit(head)
    client_bound = min(MEMPOOL_MAX, room * DOOR_OVERFILL) if door_passed else room
    if not skip_known:
        # An overloaded site refuses a client's batch before parsing a byte of it.
        _check_room(len(wires), client_bound, head.height, room)
    txs, problems = [], []
    for index, wire in enumerate(wires):
        try:
            # Gossip hands over transactions it parsed already.
            tx = wire if isinstance(wire, Transaction) else parse_transaction(wire)
            _check_stateless(tx, head.chain_id, head.params)
            txs.append(tx)
        except LedgerError as exc:
            problems.append(_problem(index, exc.code, exc.message))
    if problems:
        raise BatchRejected(problems)
    seen = _seen_hashes([tx.hash for tx in txs])
    if skip_known:
        txs = [tx for tx in txs if tx.hash not in seen]
        if not txs:
            return AdmittedBatch([])
    else:
        _refuse_seen(txs, seen)
    # A peer's gossip was admitted under its origin's limit: refusing it here for this site's
    # measured one would only leave it without what the origin's proposals include.
    # A concurrent twin ends in _insert's conflict.
    waiting, oldest_turn = _check_room(
        len(txs), MEMPOOL_MAX if skip_known else client_bound, head.height, room
    )
    debits = [_debits(tx, head.params) for tx in txs]
    # A peer's gossip passed both rules at its origin: held to them again here, it would leave
    # this site without transactions the origin's proposals include.
    sender_cap = settings.GTX_MEMPOOL_MAX_PER_SENDER * (PEER_SENDER_CAP_FACTOR if skip_known else 1)
    # An empty mempool takes any batch whole (_check_room): its reserve does not apply yet.
    reserve_reached = waiting > 0 and waiting + len(txs) > room - room // MEMPOOL_RESERVE_SHARE
    turns = _check_stateful(
        txs,
        debits,
        next_height=head.height + 1,
        sender_cap=sender_cap,
        oldest_turn=oldest_turn,
        crowded=reserve_reached and not skip_known,
        hold_gaps=hold_gaps,
    )
    # A peer's gossip often comes after the proposal that carried the same transactions, and
    # after this site fetched their bodies and verified them with it: not verified twice.
    verified = _verified_with_a_proposal(txs) if skip_known else frozenset()
    unverified = [i for i, tx in enumerate(txs) if tx.hash not in verified]
    bad = _first_bad_signature([txs[i] for i in unverified])
    if bad is not None:
        message = ledger_text("The signature does not match the sender and contents.")
        raise BatchRejected([_problem(unverified[bad], errors.BAD_SIGNATURE, message)])
    held = [tx for tx, turn in zip(txs, turns, strict=True) if turn is None]
    admitted = [i for i, turn in enumerate(turns) if turn is not None]
    with transaction.atomic():
        if admitted:
            _insert([txs[i] for i in admitted], [debits[i] for i in admitted], [turns[i] for i in admitted])
        if held:
            _hold(txs, held)
        if gossip:
            wires, hashes = [tx.to_wire() for tx in txs], [tx.hash for tx in txs]
            transaction.on_commit(lambda: _gossip(head.chain_id, wires, hashes))
        if admitted:
            # Successors this batch's transactions were holding for are admitted now.
            if waiting_successors := held_senders(sorted({txs[i].sender for i in admitted})):
                # robust: the batch is committed whatever happens to its successors.
                transaction.on_commit(lambda: held_release(waiting_successors, head=head), robust=True)
            if not waiting:
                transaction.on_commit(_start_height)
    _note_room(head.height, room, waiting + len(admitted))
    return AdmittedBatch(txs, frozenset(tx.hash for tx in held))


def _hold(txs: list[Transaction], held: list[Transaction]) -> None:
    """Hold ``held``; a conflict means another request held the hash or nonce first."""
    inserted = held_insert(held)
    if len(inserted) != len(held):
        refused = {tx.hash for tx in held} - inserted
        problems = [
            _problem(i, errors.DUPLICATE, ledger_text("Already submitted, or its nonce was just taken."))
            for i, tx in enumerate(txs)
            if tx.hash in refused
        ]
        raise BatchRejected(problems)


def held_release(senders: list[str], *, head: IntakeHead | None = None) -> int:
    """Admit, in nonce order, the held transactions of ``senders`` whose predecessor now waits
    here or is committed; how many were admitted.

    Called after a commit that admitted a predecessor (by a client or by gossip), after a
    block, and by beat's tick. Not gossiped again: each site held its own copy. One refused
    now for want of room is held again; one refused for good gets a dropped receipt.
    """
    head = head or intake_head()
    # One transaction from taking them out of the hold to their admission or receipt: a
    # process that dies in between (a kill, a lost connection) leaves them held, not gone.
    with transaction.atomic():
        ready = held_take_ready(head.chain_id, senders)
        if not ready:
            return 0
        try:
            return len(transactions_submit(ready, gossip=False, skip_known=True, head=head))
        except BatchRejected:
            pass
        admitted, dropped, again = 0, [], []
        for tx in ready:
            try:
                admitted += len(transactions_submit([tx], gossip=False, skip_known=True, head=head))
            except BatchRejected as exc:
                if exc.retry_later:
                    again.append(tx)
                else:
                    dropped.append((tx, exc.code, exc.problems[0]["message"]))
        reheld = held_insert(again) if again else set()
        for tx in again:
            if tx.hash not in reheld:  # another copy of its nonce was held meanwhile
                message = ledger_text("Another transaction of nonce %(nonce)s is held.", nonce=tx.nonce)
                dropped.append((tx, errors.DUPLICATE, message))
        dropped_receipts_write(dropped)
        return admitted


def intake_upkeep() -> None:
    """Beat's tick: release held transactions whose predecessor came by a path that did not
    release them, drop those held past GTX_HOLD_SECONDS (receipt ``nonce_gap``), and forget
    receipts past GTX_DROPPED_RECEIPT_DAYS."""
    head = intake_head()
    if senders := held_senders():
        held_release(senders, head=head)
        held_expire(head.chain_id)
    dropped_receipts_prune()


def _start_height() -> None:
    """Work reached an empty mempool: a consensus step now, not at beat's next tick.

    While the mempool holds work, each commit starts the next height itself.
    """
    task_queue.consensus_step_soon()


def _gossip(chain_id: str, wires: list[dict], hashes: list[str]) -> None:
    """Send newly admitted transactions to the other validators, from a background thread.

    Not a Celery task: the worker's processes are kept for consensus steps,
    which must not queue behind HTTP calls to peers.
    """
    urls = list(peer_urls().values())
    if urls:
        envelope = transport.gossip_envelope(node_signing_key(), chain_id, wires, hashes)
        transport.post_to_all_later(urls, "/peer/v1/transactions/", envelope)


#: A site forwards again what no block has taken after this many seconds: the first gossip may
#: have met a peer down, cut off or busy (it is sent once, not retried), and a follower or a
#: jailed validator never proposes what only it holds.
FORWARD_AGAIN_AFTER_S = 5


def waiting_forward_again(chain_id: str) -> int:
    """Beat's chain.mempool_forward_again (a follower's tick): gossip again, in one request,
    the transactions (at most MAX_BATCH, oldest first) that waited in the mempool over
    FORWARD_AGAIN_AFTER_S; how many.
    Validators admit each once (``skip_known``): a copy they hold costs them a lookup."""
    cutoff = timezone.now() - timedelta(seconds=FORWARD_AGAIN_AFTER_S)
    hashes = list(
        MempoolTx.objects.filter(received_at__lt=cutoff)
        .order_by("id")
        .values_list("hash", flat=True)[:MAX_BATCH]
    )
    urls = list(peer_urls().values())
    if not (hashes and urls):
        return 0
    held = mempool_transactions(chain_id, hashes)
    txs = sorted(held.values(), key=lambda tx: (tx.sender, tx.nonce))
    envelope = transport.gossip_envelope(
        node_signing_key(), chain_id, [tx.to_wire() for tx in txs], [tx.hash for tx in txs]
    )
    transport.post_to_all(urls, "/peer/v1/transactions/", envelope)
    return len(txs)


def _finalize_rate(height: int) -> float | None:
    """The transactions per second the chain's newest blocks finalized: those of the
    RATE_WINDOW_MS up to the newest (None with fewer than two). A site that was quiet
    for a while keeps the rate of its last busy moments: the best guess of what it can do."""
    with binary_cursor() as cursor:
        rows = cursor.execute(
            "SELECT timestamp_ms, tx_count FROM chain_block WHERE height > %s ORDER BY height DESC",
            [height - RATE_BLOCKS],
        ).fetchall()
    window = [row for row in rows if row[0] >= rows[0][0] - RATE_WINDOW_MS] if rows else []
    if len(window) < 2 or window[0][0] <= window[-1][0]:
        return None
    # The oldest block of the window only dates its start: its transactions came before.
    return sum(count for _, count in window[:-1]) * 1000 / (window[0][0] - window[-1][0])


#: Keyed by the head's height: the rate changes only when a block is committed.
_finalize_rates = LatestKeyCache(_finalize_rate)


def intake_limit(head: IntakeHead) -> int:
    """How many transactions the mempool may hold after a client's batch (module docstring)."""
    rate = _finalize_rates.get(head.height)
    if rate is None:
        return min(MEMPOOL_MAX, settings.GTX_INTAKE_MIN_WAITING)
    measured = int(rate * settings.GTX_INTAKE_TARGET_MS / 1000)
    return min(MEMPOOL_MAX, max(settings.GTX_INTAKE_MIN_WAITING, measured))


class IntakeRoom(NamedTuple):
    """What ``intake_room`` measured with the head at ``height``."""

    room: int
    limit: int
    height: int


def intake_room() -> IntakeRoom:
    """How many transactions a batch may bring now and be admitted (``_check_room``'s rule),
    and how many the mempool may hold once not empty (``intake_limit``): what is left for the
    batches after this one, which an empty mempool's room (any batch) does not say.

    For a caller whose batch gathers many clients' independent transactions (the meters
    bridge): it admits what fits and tells the rest to retry, where a batch too large for the
    room left would be refused whole and the mempool would fill only when it ran empty.
    """
    waiting, _ = _waiting()
    head = intake_head()
    limit = intake_limit(head)
    if not waiting:
        return IntakeRoom(MAX_BATCH, limit, head.height)
    _note_room(head.height, limit, waiting)
    return IntakeRoom(max(0, limit - waiting), limit, head.height)


def outside_reserve(room: int, limit: int) -> tuple[int, int]:
    """``room`` and ``limit`` (``intake_room``'s, or a ``RoomAtCommit``'s ``left`` and ``limit``)
    less the mempool's reserve, its last tenth, which admission keeps for light senders
    (``_check_stateful``'s ``crowded``): what a gatherer of many senders' transactions (the
    meters bridge) may fill and know, before it reads a batch, that no sender of it is refused
    for the reserve after its batch was read."""
    reserve = limit // MEMPOOL_RESERVE_SHARE
    return max(0, room - reserve), limit - reserve


def _waiting() -> tuple[int, int]:
    """How many transactions wait in the mempool, and the oldest turn among them (0 when none)."""
    with binary_cursor() as cursor:
        return cursor.execute("SELECT count(*), COALESCE(min(turn), 0) FROM chain_mempooltx").fetchone()


def _check_room(count: int, room: int, height: int, client_room: int) -> tuple[int, int]:
    """``_waiting()``; BatchRejected when ``count`` more do not fit in ``room``, after noting for
    the door the room left for clients (``client_room``, at the head's ``height``).

    An empty mempool takes any batch (at most MAX_BATCH): a batch larger than a small measured
    room is not refused for ever.
    """
    waiting, oldest_turn = _waiting()
    if waiting and waiting + count > room:
        _note_room(height, client_room, waiting)
        raise BatchRejected(
            [
                _problem(
                    None,
                    MEMPOOL_FULL,
                    ledger_text(
                        "The mempool is full (%(waiting)s waiting); retry in a few seconds.", waiting=waiting
                    ),
                )
            ],
            mempool_full=waiting >= room,
        )
    return waiting, oldest_turn


def _seen_hashes(hashes: list[str]) -> set[str]:
    """Those of ``hashes`` already in the mempool, held or in a block."""
    with binary_cursor() as cursor:
        cursor.execute(
            "SELECT hash FROM chain_mempooltx WHERE hash = ANY(%b) "
            "UNION ALL SELECT hash FROM chain_heldtx WHERE hash = ANY(%b) "
            "UNION ALL SELECT hash FROM chain_chaintx WHERE hash = ANY(%b)",
            [hashes, hashes, hashes],
        )
        return {row[0] for row in cursor.fetchall()}


def _refuse_seen(txs: list[Transaction], seen: set[str]) -> None:
    """Name a resubmission for what it is, before its nonce would call it a replay."""
    problems, in_batch = [], set()
    for index, tx in enumerate(txs):
        if tx.hash in seen or tx.hash in in_batch:
            problems.append(
                _problem(
                    index,
                    errors.DUPLICATE,
                    ledger_text("Transaction %(hash)s was already submitted.", hash=tx.hash),
                )
            )
        in_batch.add(tx.hash)
    if problems:
        raise BatchRejected(problems)


def _problem(index, code: str, message: str) -> dict:
    return {"index": index, "code": code, "message": message}


def _check_stateless(tx: Transaction, chain_id: str, params: dict) -> None:
    if tx.chain_id != chain_id:
        raise LedgerError(errors.WRONG_CHAIN, "chain_id must be '%(chain_id)s'.", {"chain_id": chain_id})
    get_kind(tx.kind).check_payload(tx.payload, params)
    tx.signing_bytes  # noqa: B018 - canonical encoding needs the GIL: done here, not in the verifiers


#: ed25519 verification runs in C with the GIL released, so a large batch uses every core.
_VERIFIERS = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="gtx-verify")
PARALLEL_VERIFY_MIN = 64
#: Most transactions per verifier task: few enough that the threads soon see a bad one
#: found, enough that handing a task to a thread costs nothing beside its verifies.
VERIFY_CHUNK = 256


def _verified_with_a_proposal(txs: list[Transaction]) -> frozenset[str]:
    """The hashes of those of ``txs`` that a proposal this site checked and found valid carried
    or had fetched, the same signed bytes with the same signature: block_check verified them.

    The hash covers what is signed but not the signature, so the signature is compared too:
    a forged signature under a verified transaction's hash is verified like any other. Only
    the bodies of the same sender and nonce are read (a hash join), and none while no valid
    proposal holds bodies, which is the common case: its transactions came by gossip first.
    """
    with binary_cursor() as cursor:
        cursor.execute(
            "SELECT b::text FROM chain_proposedblock p "
            "CROSS JOIN LATERAL jsonb_array_elements(p.txs || p.fetched_txs) b "
            "JOIN unnest(%b::text[], %b::bigint[]) w(sender, nonce) "
            "ON b->>'sender' = w.sender AND (b->>'nonce')::bigint = w.nonce "
            "WHERE p.verdict = 'valid'",
            [[tx.sender for tx in txs], [tx.nonce for tx in txs]],
        )
        bodies = [parse_transaction(json.loads(row[0])) for row in cursor.fetchall()]
    signatures = {body.hash: body.signature for body in bodies}
    return frozenset(tx.hash for tx in txs if signatures.get(tx.hash) == tx.signature)


def _first_bad_signature(txs: list[Transaction]) -> int | None:
    """The index of a transaction whose signature does not verify (the first in its chunk), or None.

    Each signature is checked once. Chunks run on the verifier threads; each stops at
    its first bad signature and none starts once one was found, so a batch of forged
    signatures costs about one verify per thread, not one per transaction.
    """
    if len(txs) < PARALLEL_VERIFY_MIN:
        return next((i for i, tx in enumerate(txs) if not tx.signature_valid()), None)
    found = threading.Event()
    # Every core busy however small the batch, and no chunk longer than VERIFY_CHUNK.
    size = min(VERIFY_CHUNK, -(-len(txs) // _VERIFIERS._max_workers))

    def check(start: int) -> int | None:
        for index in range(start, min(start + size, len(txs))):
            if found.is_set():
                return None
            if not txs[index].signature_valid():
                found.set()
                return index
        return None

    bad = [i for i in _VERIFIERS.map(check, range(0, len(txs), size)) if i is not None]
    return min(bad, default=None)


def _debits(tx: Transaction, params: dict) -> tuple[int, int]:
    kind = get_kind(tx.kind)
    return kind.token_debit(tx.payload, params), kind.energy_debit(tx.payload, params)


def _check_stateful(
    txs: list[Transaction],
    debits: list[tuple[int, int]],
    *,
    next_height: int,
    sender_cap: int,
    oldest_turn: int,
    crowded: bool,
    hold_gaps: bool,
) -> list[int | None]:
    """Sender known, nonce next, the sender's waiting transactions within ``sender_cap``, funds.

    When ``crowded`` (the batch would reach the mempool's reserve), only senders with fewer than
    LIGHT_SENDER_MAX transactions waiting are admitted. With ``hold_gaps``, a nonce ahead of the
    next is held (turn None) while the hold has room (``_HoldRoom``); a held transaction counts
    toward no next nonce and no funds: those are checked when it is released.

    Runs before any signature is verified: what it refuses costs one query, whoever sent it.
    Returns each transaction's turn in the round-robin of block order: one past its sender's
    last waiting one, or for a sender with none waiting ``oldest_turn``, the oldest round still
    waiting. A sender who queued thousands is served one per round like everybody else, and
    one who arrives later joins the round in progress rather than the end of the queue.
    """
    views = pending_views(sorted({tx.sender for tx in txs}), next_height=next_height)
    # address -> [next nonce, free tokens, free Wh, waiting, next turn], as the batch goes on
    known = {
        address: [v.next_nonce, v.free_tokens, v.free_wh, v.waiting, max(v.last_turn + 1, oldest_turn)]
        for address, v in views.items()
    }
    problems, turns = [], []
    hold_room = _HoldRoom(sorted(known)) if hold_gaps else None
    #: Senders refused for room in this batch: their later transactions are refused alike (a
    #: retry), not held or reported as a nonce gap the refusal itself made.
    no_room: dict[str, dict] = {}
    for index, tx in enumerate(txs):
        if tx.sender in no_room:
            problems.append({**no_room[tx.sender], "index": index})
            continue
        if tx.sender not in known:
            problems.append(
                _problem(
                    index, errors.UNKNOWN_SENDER, ledger_text("The sender has no account on this chain yet.")
                )
            )
            continue
        next_nonce, free_tokens, free_wh, waiting, turn = known[tx.sender]
        if tx.nonce > next_nonce and hold_room is not None and hold_room.take(tx, next_nonce):
            turns.append(None)
            continue
        if tx.nonce != next_nonce:
            code = errors.NONCE_REPLAYED if tx.nonce < next_nonce else errors.NONCE_GAP
            message = ledger_text(
                "Expected nonce %(expected)s, got %(nonce)s.", expected=next_nonce, nonce=tx.nonce
            )
            # Named as a figure too, so a client resumes from it without reading the message.
            problems.append({**_problem(index, code, message), "expected_nonce": next_nonce})
            continue
        if waiting >= sender_cap:
            no_room[tx.sender] = _problem(
                index,
                SENDER_BUSY,
                ledger_text(
                    "The sender already has %(count)s transactions waiting for a block, "
                    "the most one account may; retry once some are committed.",
                    count=sender_cap,
                ),
            )
            problems.append(no_room[tx.sender])
            continue
        if crowded and waiting >= LIGHT_SENDER_MAX:
            no_room[tx.sender] = _problem(
                index,
                MEMPOOL_FULL,
                ledger_text(
                    "The mempool is nearly full, and its last tenth is kept for accounts with fewer "
                    "than %(count)s transactions waiting; retry in a few seconds.",
                    count=LIGHT_SENDER_MAX,
                ),
            )
            problems.append(no_room[tx.sender])
            continue
        token_debit, energy_debit = debits[index]
        if token_debit > free_tokens:
            problems.append(
                _problem(
                    index,
                    errors.INSUFFICIENT_FUNDS,
                    ledger_text(
                        "Needs %(needed)s tokens but only %(free)s are free "
                        "(the balance less what waiting transactions may take).",
                        needed=tokens_text(token_debit),
                        free=tokens_text(max(free_tokens, 0)),
                    ),
                )
            )
            continue
        if energy_debit > free_wh:
            problems.append(
                _problem(
                    index,
                    errors.INSUFFICIENT_ENERGY,
                    ledger_text(
                        "Needs %(needed)s kWh but only %(free)s kWh are free (less what waiting sells hold).",
                        needed=kwh_text(energy_debit),
                        free=kwh_text(max(free_wh, 0)),
                    ),
                )
            )
            continue
        known[tx.sender] = [
            next_nonce + 1,
            free_tokens - token_debit,
            free_wh - energy_debit,
            waiting + 1,
            turn + 1,
        ]
        turns.append(turn)
    if problems:
        raise BatchRejected(problems)
    return turns


class _HoldRoom:
    """Whether the hold takes one more: at most GTX_HOLD_MAX_PER_SENDER per sender, that many
    nonces ahead of the next, and GTX_HOLD_MAX in all. Counts read once, when first asked."""

    def __init__(self, senders: list[str]):
        self.senders = senders
        self.counts: dict[str, int] | None = None
        self.total = 0

    def take(self, tx: Transaction, next_nonce: int) -> bool:
        per_sender = settings.GTX_HOLD_MAX_PER_SENDER
        if tx.nonce - next_nonce > per_sender:
            return False
        if self.counts is None:
            self.counts, self.total = held_counts(self.senders)
        if self.counts.get(tx.sender, 0) >= per_sender or self.total >= settings.GTX_HOLD_MAX:
            return False
        self.counts[tx.sender] = self.counts.get(tx.sender, 0) + 1
        self.total += 1
        return True


def _insert(txs: list[Transaction], debits: list[tuple[int, int]], turns: list[int]) -> None:
    """One INSERT for the batch; a conflict means another request took the hash or nonce.

    Each column is one array parameter: a 5,000-transaction batch is 10 parameters.
    """
    columns = ([], [], [], [], [], [], [], [], [])
    for tx, (token_debit, energy_debit), turn in zip(txs, debits, turns, strict=True):
        for column, value in zip(
            columns,
            (
                tx.hash,
                tx.sender,
                tx.nonce,
                tx.kind,
                json.dumps(tx.payload),  # already checked canonical-safe by its signing bytes
                tx.signature,
                token_debit,
                energy_debit,
                turn,
            ),
            strict=True,
        ):
            column.append(value)
    with binary_cursor() as cursor:
        cursor.execute(
            "INSERT INTO chain_mempooltx (hash, sender, nonce, kind, payload, signature, "
            "token_debit, energy_debit_wh, turn, received_at) "
            "SELECT h, s, n, k, p::jsonb, sig, d, e, t, %b "
            "FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[], %b::text[], "
            "%b::bigint[], %b::bigint[], %b::bigint[]) "
            "WITH ORDINALITY AS u(h, s, n, k, p, sig, d, e, t, ord) "
            "ORDER BY ord "  # ids follow the batch: within a turn, block order is arrival order
            "ON CONFLICT DO NOTHING RETURNING hash",
            [timezone.now(), *columns],
        )
        inserted = {row[0] for row in cursor.fetchall()}
    if len(inserted) != len(txs):
        problems = [
            _problem(i, errors.DUPLICATE, ledger_text("Already submitted, or its nonce was just taken."))
            for i, tx in enumerate(txs)
            if tx.hash not in inserted
        ]
        raise BatchRejected(problems)
