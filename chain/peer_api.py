"""The peer protocol: what validator and follower sites send each other (docs/CONSENSUS.md).

Plain JSON over HTTP; no session, no CSRF token (nothing here acts for a
user). Every request is signed by a registered node's key (a validator record of
the chain: an active one votes, an inactive one runs a follower;
chain.consensus.peer_auth) and checked before its body is decoded; only GETs of
status and blocks may come unsigned, when GTX_PEER_OPEN_READS allows. Consensus
messages, lookups and pushed blocks come from active validators only; a follower
may gossip its users' transactions (at GTX_PEER_FOLLOWER_RATE_PER_S) and read.
Every consensus message carries its sender's signature and a batch is refused whole
when one is wrong; gossiped transactions carry their own signatures. The work
itself happens in Celery tasks after the message is stored.

``peer_request_answer`` takes a request as chain.consumers.PeerEndpoint
received it and returns a status and a JSON object; each handler takes the
decoded request (a POST's body, a GET's query parameters) and the
``PeerContext`` read once for it. Every malformed input gets a 4xx with a
stable ``error.code``.
"""

import json
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.cache import cache

from chain import clock, task_queue
from chain.consensus.messages import message_parse, message_verify
from chain.consensus.peer_auth import UNKNOWN_PEER, PeerAuthError, claim_sender, request_claim, signed
from chain.consensus.transport import gossip_valid
from chain.ledger.errors import LedgerError
from chain.ledger.keys import is_address
from chain.ledger.tx import parse_transaction
from chain.ledger.wire import json_decode
from chain.selectors import committed_transactions, consensus_status
from chain.services.admission import MAX_BATCH, BatchRejected, IntakeHead, transactions_submit
from chain.services.consensus.intake import peer_messages_store
from chain.services.mempool import mempool_transactions
from chain.services.sync import blocks_for_peer
from chain.store import binary_cursor

MAX_BLOCKS = 50
MAX_LOOKUP = 10_000
#: Per request: consensus messages, and proposed blocks with them.
MAX_MESSAGES = 1000
MAX_PROPOSED_BLOCKS = 10
#: Per gossip request: a site gossips what one admission batch admitted.
MAX_GOSSIP_TXS = MAX_BATCH
MAX_HEIGHT = 2**53 - 1
_DIGITS = re.compile(r"[0-9]{1,16}")

Reply = tuple[int, dict]

MALFORMED = "malformed"
WRONG_CHAIN = "wrong_chain"
RATE_LIMITED = "rate_limited"


def error(code: str, message: str, status: int = 400) -> Reply:
    return status, {"error": {"code": code, "message": message}}


@dataclass(frozen=True)
class PeerHead:
    """The head as the peer protocol needs it, with the active validators, in one query."""

    chain_id: str
    height: int
    block_hash: str
    state_root: str
    #: The head block's timestamp (0 at genesis): followers tell how far behind they are by it.
    timestamp_ms: int
    params: dict
    #: The round this site is in at the next height (0 before it starts).
    round: int

    @property
    def intake(self) -> IntakeHead:
        return IntakeHead(self.chain_id, self.height, self.params)


@dataclass(frozen=True)
class PeerContext:
    head: PeerHead
    #: The active validators' keys.
    validators: frozenset[str]
    #: The registered node that signed the request; None for an unsigned read.
    sender: str | None

    @property
    def from_validator(self) -> bool:
        return self.sender in self.validators


def peer_context_read() -> tuple[PeerHead, frozenset[str], frozenset[str]]:
    """The head, the active validators' keys and every registered node's key (active or not):
    one plain query per request (peers send tens a second)."""
    with binary_cursor() as cursor:
        chain_id, height, block_hash, state_root, timestamp_ms, params, round, validators, registered = (
            cursor.execute(
                "SELECT h.chain_id, h.height, h.block_hash, h.state_root, "
                "coalesce((SELECT b.timestamp_ms FROM chain_block b WHERE b.height = h.height), 0), "
                "h.params::text, "
                "coalesce((SELECT s.round FROM chain_consensusstate s "
                "          WHERE s.id = 1 AND s.height = h.height + 1), 0), "
                "ARRAY(SELECT public_key FROM chain_validator WHERE active), "
                "ARRAY(SELECT public_key FROM chain_validator) FROM chain_chainhead h"
            ).fetchone()
        )
    head = PeerHead(chain_id, height, block_hash, state_root, timestamp_ms, json.loads(params), round)
    return head, frozenset(validators), frozenset(registered)


# --- authentication and limits ---------------------------------------------------


class _TokenBuckets:
    """Requests allowed per key and second, in this process (daphne serves a site in one).

    In memory, not Redis: a peer request must not pay a round trip to be counted.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, per_second: int, *, spend: bool = True) -> bool:
        """Whether ``key`` has a request left this second; with ``spend``, count one."""
        now = time.monotonic()
        burst = 2.0 * per_second
        with self._lock:
            tokens, at = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * per_second)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            if len(self._buckets) > 10_000:  # keys of clients long gone: start afresh
                self._buckets.clear()
            self._buckets[key] = (tokens - 1.0 if spend else tokens, now)
            return True


_buckets = _TokenBuckets()


def peer_request_answer(
    handler, *, method: str, target: str, headers: dict, body: bytes, client: str
) -> Reply:
    """Authenticate, count and decode one peer request, then run ``handler``.

    The order is the defence: a request without a well-formed, fresh signature
    costs no query; one from a key that is not a registered node's costs one
    query and no signature work; a registered node's costs one ed25519 verify
    before its body is decoded or any other signature checked. Each signer has
    its own bucket: a validator's GTX_PEER_RATE_PER_S, a follower's (an inactive
    validator record) GTX_PEER_FOLLOWER_RATE_PER_S.
    """
    sender = None
    if method != "GET" or signed(headers) or not settings.GTX_PEER_OPEN_READS:
        # Only refused requests count against their address: honest sites may share one.
        if not _buckets.take(f"refused:{client}", settings.GTX_PEER_REFUSED_RATE_PER_S, spend=False):
            return _rate_limited()
        try:
            claim = request_claim(headers, now_ms=clock.now_ms())
            head, validators, registered = peer_context_read()
            sender = claim_sender(
                claim, method=method, target=target, body=body, chain_id=head.chain_id, registered=registered
            )
        except PeerAuthError as exc:
            _buckets.take(f"refused:{client}", settings.GTX_PEER_REFUSED_RATE_PER_S)
            return error(exc.code, exc.message, exc.status)
        rate = settings.GTX_PEER_RATE_PER_S if sender in validators else settings.GTX_PEER_FOLLOWER_RATE_PER_S
        if not _buckets.take(f"peer:{sender}", rate):
            return _rate_limited()
    elif _buckets.take(f"open:{client}", settings.GTX_PEER_OPEN_RATE_PER_S):
        head, validators, _ = peer_context_read()
    else:
        return _rate_limited()
    context = PeerContext(head, validators, sender)
    if method == "GET":
        return handler(_query(target), context)
    try:
        request = json_decode(body)
    except LedgerError as exc:
        return error(exc.code, exc.message)
    if not isinstance(request, dict):
        return error(MALFORMED, "Send a JSON object.")
    return handler(request, context)


def _rate_limited() -> Reply:
    return error(RATE_LIMITED, "Too many peer requests; slow down.", 429)


def _validators_only() -> Reply:
    return error(UNKNOWN_PEER, "Only an active validator's site may send this.", 403)


def _query(target: str) -> dict[str, str]:
    _, _, query = target.partition("?")
    return dict(parse_qsl(query))


# --- the routes -------------------------------------------------------------------


def consensus_messages(body: dict, peer: PeerContext) -> Reply:
    """Signed proposals and votes (with proposed blocks); stored, then a consensus step runs.

    Every message's form, chain id and sender (an active validator) is checked
    before any signature: a batch with a stranger's message is refused at it,
    with no signature verified.
    """
    if not peer.from_validator:
        return _validators_only()
    head = peer.head
    if body.get("chain_id") != head.chain_id:
        return error(WRONG_CHAIN, f"This site runs chain {head.chain_id}.")
    wires, blocks = body.get("messages", []), body.get("blocks", [])
    if (
        type(wires) is not list
        or type(blocks) is not list
        or len(wires) > MAX_MESSAGES
        or len(blocks) > MAX_PROPOSED_BLOCKS
    ):
        return error(
            MALFORMED, f"messages and blocks are lists (at most {MAX_MESSAGES} and {MAX_PROPOSED_BLOCKS})."
        )
    try:
        messages = [message_parse(wire, head.chain_id, peer.validators) for wire in wires]
        for message, signature in messages:
            message_verify(head.chain_id, message, signature)
        result = peer_messages_store(
            messages,
            blocks,
            chain_id=head.chain_id,
            head_height=head.height,
            head_round=head.round,
            head_hash=head.block_hash,
            head_state_root=head.state_root,
            max_block_txs=head.params["max_block_txs"],
        )
    except LedgerError as exc:
        return error(exc.code, exc.message)
    if result["stored"]:
        task_queue.consensus_step_soon()
    if result["ahead"] and cache.add("peer-sync-pending", 1, timeout=2):
        task_queue.sync_soon()  # a peer is at a later height: catch up now, not at the next stall
    return 200, result


def gossiped_transactions(body: dict, peer: PeerContext) -> Reply:
    """Transactions another validator or a follower admitted: admitted here too, and not
    gossiped again.

    The origin must be the registered node that signed the request (checked
    before its signature), and its signature is checked before any transaction's.
    """
    head = peer.head.intake
    transactions = body.get("transactions")
    if type(transactions) is not list or len(transactions) > MAX_GOSSIP_TXS:
        return error(
            MALFORMED, f"Send {{chain_id, origin, transactions, signature}}: at most {MAX_GOSSIP_TXS}."
        )
    if body.get("chain_id") != head.chain_id:
        return error(WRONG_CHAIN, f"This site runs chain {head.chain_id}.")
    if body.get("origin") != peer.sender:
        return error("unknown_origin", "origin is not the registered node that signed the request.", 403)
    try:
        txs = [parse_transaction(wire) for wire in transactions]
    except LedgerError as exc:
        return error(exc.code, exc.message)
    if not gossip_valid(body, head.chain_id, [tx.hash for tx in txs]):
        return error("bad_signature", "The origin's signature does not match.", 403)
    if not txs:
        return 200, {"admitted": 0, "received": 0}
    # A nonce ahead of this site's next one is held: its predecessor may still be on its way.
    try:
        admitted = len(transactions_submit(txs, gossip=False, skip_known=True, hold_gaps=True, head=head))
    except BatchRejected:
        # One refused transaction (a nonce already used here, say) must not keep
        # the others out: admit them one by one.
        admitted = 0
        for tx in txs:
            try:
                admitted += len(
                    transactions_submit([tx], gossip=False, skip_known=True, hold_gaps=True, head=head)
                )
            except BatchRejected:
                pass
    return 200, {"admitted": admitted, "received": len(txs)}


def transactions_lookup(body: dict, peer: PeerContext) -> Reply:
    """Transactions this site holds, by hash, from its mempool or its blocks: for a peer
    checking a proposal (or committing a decided block) whose transactions have not
    all reached it by gossip."""
    if not peer.from_validator:
        return _validators_only()
    hashes = body.get("hashes")
    if type(hashes) is not list or len(hashes) > MAX_LOOKUP or not all(is_address(h) for h in hashes):
        return error(
            MALFORMED, f"Send {{chain_id, hashes}}: at most {MAX_LOOKUP} hashes of 64 lower-case hex digits."
        )
    head = peer.head
    if body.get("chain_id") != head.chain_id:
        return error(WRONG_CHAIN, f"This site runs chain {head.chain_id}.")
    held = mempool_transactions(head.chain_id, hashes)
    missing = [h for h in hashes if h not in held]
    if missing:
        held |= committed_transactions(head.chain_id, missing)
    return 200, {"transactions": [tx.to_wire() for tx in held.values()]}


def _count(query: dict, name: str, default: int) -> int | None:
    value = query.get(name)
    if value is None:
        return default
    return int(value) if _DIGITS.fullmatch(value) else None


def blocks(query: dict, peer: PeerContext) -> Reply:
    first, limit = _count(query, "from", 1), _count(query, "limit", 20)
    if first is None or limit is None or first > MAX_HEIGHT:
        return error(MALFORMED, f"from and limit are decimal integers (from at most {MAX_HEIGHT}).")
    return 200, {"blocks": blocks_for_peer(max(first, 1), min(max(limit, 1), MAX_BLOCKS))}


def status(query: dict, peer: PeerContext) -> Reply:
    data = consensus_status()
    return 200, {
        "height": data["height"],
        "round": data["round"],
        "step": data["step"],
        "block_hash": peer.head.block_hash,
        "state_root": peer.head.state_root,
        "timestamp_ms": peer.head.timestamp_ms,
    }


def followed_blocks(body: dict, peer: PeerContext) -> Reply:
    """Blocks an active validator committed, pushed to this follower (``{chain_id, blocks}``).

    Nothing is trusted for who sent it: a Celery task applies them through the
    sync path (chain.services.sync.blocks_follow), certificate and state root
    verified, and pulls from the validators when they leave a gap.
    """
    if not settings.GTX_FOLLOWER:
        return error("not_a_follower", "This site is a validator: it takes blocks by consensus.", 409)
    if not peer.from_validator:
        return _validators_only()
    if body.get("chain_id") != peer.head.chain_id:
        return error(WRONG_CHAIN, f"This site runs chain {peer.head.chain_id}.")
    pushed = body.get("blocks")
    if type(pushed) is not list or not 1 <= len(pushed) <= MAX_PROPOSED_BLOCKS:
        return error(MALFORMED, f"Send {{chain_id, blocks}}: 1 to {MAX_PROPOSED_BLOCKS} blocks.")
    heights = [_pushed_height(b) for b in pushed]
    if None in heights:
        return error(MALFORMED, "Each block is {header, commit_certificate, txs} with a header height.")
    if max(heights) > peer.head.height:
        task_queue.blocks_follow_soon(pushed)
    return 200, {"height": peer.head.height, "queued": max(heights) > peer.head.height}


def _pushed_height(block) -> int | None:
    header = block.get("header") if type(block) is dict else None
    height = header.get("height") if type(header) is dict else None
    return height if type(height) is int and 0 < height <= MAX_HEIGHT else None
