"""The peer protocol: what validator sites send each other (docs/CONSENSUS.md).

Plain JSON over HTTP; no session, no CSRF token (nothing here acts for a
user). Every consensus message carries its sender's signature and is refused
whole when one is wrong; gossiped transactions carry their own signatures.
The work itself happens in Celery tasks after the message is stored.

Each handler takes the request's JSON object (a POST's body, a GET's query
parameters) and returns a status and a JSON object. chain.consumers.PeerEndpoint
serves them outside Django's request handling: peers send tens of these a
second, and Django's middleware chain cost twice the handler's own work.
"""

from django.core.cache import cache

from chain.consensus.messages import parse_message
from chain.consensus.transport import gossip_valid
from chain.ledger.errors import LedgerError
from chain.ledger.tx import parse_transaction
from chain.models import ChainHead
from chain.services.admission import BatchRejected, intake_head, transactions_submit
from chain.services.blocks import committed_transactions, mempool_transactions
from chain.services.consensus import active_validators, consensus_status, peer_messages_store
from chain.services.sync import blocks_for_peer

MAX_BLOCKS = 50
MAX_LOOKUP = 10_000

Reply = tuple[int, dict]


def error(code: str, message: str, status: int = 400) -> Reply:
    return status, {"error": {"code": code, "message": message}}


def consensus_messages(body: dict) -> Reply:
    """Signed proposals and votes (with proposed blocks); stored, then a consensus step runs."""
    from chain.tasks import consensus_step_soon, sync

    head = intake_head()
    if body.get("chain_id") != head.chain_id:
        return error("wrong_chain", f"This site runs chain {head.chain_id}.")
    wires, blocks = body.get("messages", []), body.get("blocks", [])
    if not isinstance(wires, list) or not isinstance(blocks, list) or len(wires) > 1000 or len(blocks) > 10:
        return error("malformed", "messages and blocks are lists (at most 1000 and 10).")
    try:
        messages = [parse_message(wire, head.chain_id) for wire in wires]
        result = peer_messages_store(messages, blocks, head_height=head.height)
    except LedgerError as exc:
        return error(exc.code, exc.message)
    if result["stored"]:
        consensus_step_soon()
    if result["ahead"] and cache.add("peer-sync-pending", 1, timeout=2):
        sync.delay()  # a peer is at a later height: catch up now, not at the next stall
    return 200, result


def gossiped_transactions(body: dict) -> Reply:
    """Transactions another validator admitted: admitted here too, and not gossiped again."""
    if not isinstance(body.get("transactions"), list):
        return error("malformed", "Send {chain_id, origin, transactions, signature}.")
    head = intake_head()
    if body.get("chain_id") != head.chain_id:
        return error("wrong_chain", f"This site runs chain {head.chain_id}.")
    try:
        txs = [parse_transaction(wire) for wire in body["transactions"]]
    except LedgerError as exc:
        return error(exc.code, exc.message)
    if body.get("origin") not in active_validators():
        return error("unknown_origin", "origin is not an active validator.", 403)
    if not gossip_valid(body, head.chain_id, [tx.hash for tx in txs]):
        return error("bad_signature", "The origin's signature does not match.", 403)
    try:
        admitted = len(transactions_submit(txs, gossip=False, skip_known=True, head=head))
    except BatchRejected:
        # One refused transaction (a nonce already used here, say) must not keep
        # the others out: admit them one by one.
        admitted = 0
        for tx in txs:
            try:
                admitted += len(transactions_submit([tx], gossip=False, skip_known=True, head=head))
            except BatchRejected:
                pass
    return 200, {"admitted": admitted, "received": len(txs)}


def transactions_lookup(body: dict) -> Reply:
    """Transactions this site holds, by hash, from its mempool or its blocks: for a peer
    checking a proposal (or committing a decided block) whose transactions have not
    all reached it by gossip."""
    hashes = body.get("hashes")
    if (
        not isinstance(hashes, list)
        or len(hashes) > MAX_LOOKUP
        or not all(isinstance(h, str) for h in hashes)
    ):
        return error("malformed", f"Send {{chain_id, hashes}}: at most {MAX_LOOKUP} hashes.")
    head = intake_head()
    if body.get("chain_id") != head.chain_id:
        return error("wrong_chain", f"This site runs chain {head.chain_id}.")
    held = mempool_transactions(head.chain_id, hashes)
    missing = [h for h in hashes if h not in held]
    if missing:
        held |= committed_transactions(head.chain_id, missing)
    return 200, {"transactions": [tx.to_wire() for tx in held.values()]}


def blocks(query: dict) -> Reply:
    try:
        first = int(query.get("from", "1"))
        limit = min(int(query.get("limit", "20")), MAX_BLOCKS)
    except ValueError:
        return error("malformed", "from and limit are integers.")
    return 200, {"blocks": blocks_for_peer(max(first, 1), max(limit, 1))}


def status(query: dict) -> Reply:
    data = consensus_status()
    head = ChainHead.objects.only("block_hash", "state_root").get()
    return 200, {
        "height": data["height"],
        "round": data["round"],
        "step": data["step"],
        "block_hash": head.block_hash,
        "state_root": head.state_root,
    }
