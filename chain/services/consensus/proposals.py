"""Proposals: ours, built from the mempool, and a peer's, checked in full (with the bodies
we lack fetched from the peers) before we vote for it. Each verdict is kept with the block.
"""

import logging
from dataclasses import asdict

from chain.consensus import transport
from chain.consensus.machine import ValidatorSet
from chain.ledger.block import header_from_wire
from chain.ledger.errors import LedgerError
from chain.ledger.tx import parse_transaction
from chain.models import ChainHead, ProposedBlock
from chain.peers import peer_urls
from chain.services.blocks.build import block_build
from chain.services.blocks.check import BuiltBlock, block_check
from chain.services.mempool import mempool_transactions

log = logging.getLogger(__name__)

#: Our executed proposals and checked peer blocks, by hash, for the commit to reuse.
#: Valid while the head they were executed on is the head: a new height clears it.
executed_blocks: dict[str, BuiltBlock] = {}


def proposal_build(node_key, head: ChainHead, round: int) -> ProposedBlock:
    """Our proposal for ``round`` of the next height, executed (kept for the commit) and stored."""
    built = block_build(node_key, head, round, empty_ok=True)
    block_hash = built.header.hash
    executed_blocks[block_hash] = built
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


def proposal_transactions(head: ChainHead, proposed: ProposedBlock) -> tuple[list, frozenset] | None:
    """The proposed block's transactions in order (carried, from our mempool, or fetched from
    the peers) and the hashes of those from our mempool, whose signatures admission verified;
    None when some could not be found (no vote: we cannot check what we lack)."""
    found = {}
    for wire in proposed.txs:
        tx = parse_transaction(wire)
        found[tx.hash] = tx
    wanted = [h for h in proposed.tx_hashes if h not in found]
    pooled = mempool_transactions(head.chain_id, wanted)
    found |= pooled
    missing = [h for h in wanted if h not in found]
    if missing:
        found |= _transactions_fetch(head.chain_id, proposed.header.get("proposer", ""), missing)
    if any(h not in found for h in proposed.tx_hashes):
        log.warning("Proposal %s: %d transactions not found at any peer", proposed.hash[:12], len(missing))
        return None
    return [found[h] for h in proposed.tx_hashes], frozenset(pooled)


def _transactions_fetch(chain_id: str, proposer: str, hashes: list[str]) -> dict:
    """Ask the proposer's site (then the others) for transactions we do not hold, by hash.

    A body counts only when it hashes to what was asked for; its signature is
    checked with the block (block_check verifies every transaction not admitted here).
    """
    urls = peer_urls()
    order = [urls[proposer]] if proposer in urls else []
    order += [url for url in urls.values() if url not in order]
    found: dict = {}
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


def proposal_valid(head: ChainHead, validators: ValidatorSet, block_hash: str) -> bool:
    """Whether a proposed block is one we would vote for: checked in full once, the verdict kept."""
    if block_hash in executed_blocks:
        return True
    proposed = ProposedBlock.objects.filter(hash=block_hash).first()
    if proposed is None:
        return False  # we do not hold the block (yet): no vote for what we cannot check
    if proposed.verdict:
        if proposed.verdict != "valid":
            return False
    try:
        header = header_from_wire(proposed.header)
        if header.hash != block_hash:
            raise LedgerError("invalid_block", "the header does not hash to the proposed hash")
        assembled = proposal_transactions(head, proposed)
        if assembled is None:
            return False  # not a verdict: a later round may find them
        txs, admitted = assembled
        built = block_check(head, header, txs, expected_proposer=validators.proposer, admitted=admitted)
    except (LedgerError, TypeError, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        log.warning("Proposed block %s refused: %s", block_hash[:12], message)
        ProposedBlock.objects.filter(hash=block_hash).update(verdict=message[:2000] or "invalid")
        return False
    executed_blocks[block_hash] = built
    ProposedBlock.objects.filter(hash=block_hash).update(verdict="valid")
    return True
