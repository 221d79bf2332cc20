"""Proposals: ours, built from the mempool, and a peer's, checked in full before we vote for it.

A peer's block is checked under the consensus lock with the bodies this site
holds: carried with the proposal, in our mempool, or fetched earlier. While
some are missing there is no verdict yet (no vote), and their hashes are
handed back so that ``proposal_bodies_fetch`` asks the peers for them after
the step commits: no peer request is made under the lock. Each verdict is kept
with the block.
"""

import logging
from dataclasses import asdict, dataclass

from django.db import transaction

from chain.consensus import transport
from chain.consensus.machine import ValidatorSet
from chain.ledger.block import header_from_wire
from chain.ledger.errors import LedgerError
from chain.ledger.tx import Transaction, parse_transaction
from chain.models import ChainHead, ProposedBlock
from chain.peers import peer_urls
from chain.services.blocks.build import block_build
from chain.services.blocks.check import BuiltBlock, block_check
from chain.services.mempool import mempool_transactions

log = logging.getLogger(__name__)


class ExecutedBlocks:
    """Blocks executed on this site (our proposals, checked peer blocks), for the commit to reuse.

    Keyed by the head they were executed on and their block hash: an execution
    is valid only on that head, so the entries of another head are dropped as
    soon as a later one is asked for.
    """

    def __init__(self) -> None:
        self._head_hash = ""
        self._blocks: dict[str, BuiltBlock] = {}

    def _at(self, head_hash: str) -> dict[str, BuiltBlock]:
        if head_hash != self._head_hash:
            self._head_hash, self._blocks = head_hash, {}
        return self._blocks

    def get(self, head_hash: str, block_hash: str) -> BuiltBlock | None:
        return self._at(head_hash).get(block_hash)

    def put(self, built: BuiltBlock) -> None:
        self._at(built.base_hash)[built.header.hash] = built


executed_blocks = ExecutedBlocks()


def proposal_build(node_key, head: ChainHead, round: int) -> ProposedBlock:
    """Our proposal for ``round`` of the next height, executed (kept for the commit) and stored."""
    built = block_build(node_key, head, round, empty_ok=True)
    block_hash = built.header.hash
    executed_blocks.put(built)
    proposed = ProposedBlock(
        hash=block_hash,
        height=built.header.height,
        header=asdict(built.header),
        tx_hashes=[tx.hash for tx in built.txs],
        txs=[],
        verdict="valid",
    )
    # One statement: a peer may have sent us this very block already.
    ProposedBlock.objects.bulk_create(
        [proposed],
        update_conflicts=True,
        unique_fields=["hash"],
        update_fields=["height", "header", "tx_hashes", "txs", "verdict"],
    )
    return proposed


@dataclass(frozen=True)
class ProposalBodies:
    """A proposed block's transactions as this site holds them."""

    #: In block order; empty while any is missing.
    txs: list[Transaction]
    #: The hashes of those read from our mempool, whose signatures admission verified.
    admitted: frozenset[str]
    #: The hashes held nowhere here yet, in block order.
    missing: list[str]


def proposal_transactions(head: ChainHead, proposed: ProposedBlock) -> ProposalBodies:
    """The proposed block's transactions: carried, fetched earlier, or from our mempool (no peer asked)."""
    found = {}
    for wire in [*proposed.txs, *proposed.fetched_txs]:
        tx = parse_transaction(wire)
        found[tx.hash] = tx
    wanted = [h for h in proposed.tx_hashes if h not in found]
    pooled = mempool_transactions(head.chain_id, wanted)
    found |= pooled
    missing = [h for h in proposed.tx_hashes if h not in found]
    if missing:
        return ProposalBodies([], frozenset(), missing)
    return ProposalBodies([found[h] for h in proposed.tx_hashes], frozenset(pooled), [])


def proposal_valid(
    head: ChainHead,
    validators: ValidatorSet,
    block_hash: str,
    *,
    bodies_missing: dict[str, list[str]] | None = None,
) -> bool | None:
    """Whether a proposed block is one we would vote for: checked in full once, the verdict kept.

    None is no verdict yet: some of its bodies are held nowhere here. Their
    hashes go in ``bodies_missing[block_hash]``, for a fetch once the step's
    transaction commits (``proposal_bodies_fetch``); the round's timeout still
    applies meanwhile. Expects the consensus lock to be held, and asks no peer.
    """
    if executed_blocks.get(head.block_hash, block_hash) is not None:
        return True
    proposed = ProposedBlock.objects.filter(hash=block_hash).first()
    if proposed is None:
        return False  # we do not hold the block: no vote for what we cannot check
    if proposed.verdict and proposed.verdict != "valid":
        return False
    try:
        header = header_from_wire(proposed.header)
        if header.hash != block_hash:
            raise LedgerError("invalid_block", "the header does not hash to the proposed hash")
        bodies = proposal_transactions(head, proposed)
        if bodies.missing:
            if bodies_missing is not None:
                bodies_missing[block_hash] = bodies.missing
            return None
        built = block_check(
            head, header, bodies.txs, expected_proposer=validators.proposer, admitted=bodies.admitted
        )
    except (LedgerError, TypeError, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        log.warning("Proposed block %s refused: %s", block_hash[:12], message)
        ProposedBlock.objects.filter(hash=block_hash).update(verdict=message[:2000] or "invalid")
        return False
    executed_blocks.put(built)
    ProposedBlock.objects.filter(hash=block_hash).update(verdict="valid")
    return True


def proposal_bodies_fetch(block_hash: str, tx_hashes: list[str]) -> int:
    """Ask the peers for bodies of a proposed block that this site lacks and keep them with the
    block; how many new ones were kept. Runs outside the consensus lock (a task after the step).

    Only bodies the block names are kept, each once; each is checked with the block.
    """
    proposed = ProposedBlock.objects.filter(hash=block_hash).only("header", "tx_hashes").first()
    if proposed is None:
        return 0  # decided and pruned meanwhile
    chain_id = ChainHead.objects.only("chain_id").get().chain_id
    named = set(proposed.tx_hashes)
    found = _transactions_fetch(
        chain_id, proposed.header.get("proposer", ""), [h for h in tx_hashes if h in named]
    )
    if not found:
        log.warning("Proposal %s: %d transactions not found at any peer", block_hash[:12], len(tx_hashes))
        return 0
    with transaction.atomic():
        proposed = ProposedBlock.objects.select_for_update().filter(hash=block_hash).first()
        if proposed is None or proposed.verdict:
            # Judged meanwhile (the bodies came by gossip): a body kept now would be one the
            # verdict never checked, and gossip trusts a valid proposal's bodies as verified.
            return 0
        held = {parse_transaction(wire).hash for wire in [*proposed.txs, *proposed.fetched_txs]}
        new = [tx.to_wire() for tx_hash, tx in found.items() if tx_hash not in held]
        if new:
            proposed.fetched_txs = [*proposed.fetched_txs, *new]
            proposed.save(update_fields=["fetched_txs"])
    return len(new)


def _transactions_fetch(chain_id: str, proposer: str, hashes: list[str]) -> dict[str, Transaction]:
    """Ask the proposer's site (then the others) for transactions we do not hold, by hash.

    A body counts only when it hashes to what was asked for; its signature is
    checked with the block (block_check verifies every transaction not admitted here).
    """
    urls = peer_urls()
    order = [urls[proposer]] if proposer in urls else []
    order += [url for url in urls.values() if url not in order]
    found: dict[str, Transaction] = {}
    for url in order:
        wanted = [h for h in hashes if h not in found]
        if not wanted:
            break
        body = transport.post_json(
            url, "/peer/v1/transactions/lookup/", {"chain_id": chain_id, "hashes": wanted}
        )
        answered = (body or {}).get("transactions")
        for wire in answered if type(answered) is list else []:  # a peer's answer is input too
            try:
                tx = parse_transaction(wire)
            except LedgerError:
                continue
            if tx.hash in wanted:
                found[tx.hash] = tx
    return found
