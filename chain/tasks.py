"""Celery tasks: thin wrappers over services.

Consensus steps run when something happens: peer messages arrive, work reaches
an empty mempool, a height commits, a timeout falls due. Beat's tick is the
backstop: it starts heights for begin-block work, finds timeouts whose step was
lost, reports evidence and notices a stalled height.
"""

import logging
import time
from datetime import UTC, datetime, timedelta

from celery import shared_task
from django.core.cache import cache

from chain.consensus import transport
from chain.consensus.messages import message_wire
from chain.models import ChainHead, ConsensusMessage, ConsensusState
from chain.node import node_signing_key
from chain.peers import peer_urls
from chain.services.consensus import (
    consensus_prune,
    evidence_report,
    next_timeout_ms,
    proposal_wire,
    proposed_blocks_to_relay,
    stored_message,
)
from chain.services.consensus import consensus_step as step
from chain.services.sync import sync_from_peers
from chain.store import churning_tables_vacuum

log = logging.getLogger(__name__)

#: A height that has not moved for this long resends its messages and asks peers how far they are.
STALL = timedelta(seconds=2)
#: Set while a consensus step waits in the queue (consensus_step_soon).
STEP_QUEUED = "consensus-step-queued"
#: A timeout's step still runs this late (a busy worker); after that the tick covers it.
TIMEOUT_STEP_EXPIRES_S = 5


@shared_task(name="chain.produce_block", ignore_result=True)
def produce_block() -> int | None:
    """Beat's tick (GTX_TICK_S): lost timeouts, heights for begin-block work, pruning, recovery when stuck."""
    # A step already queued (peer messages woke it) does what this one would.
    queued = cache.get(STEP_QUEUED) is not None
    block = None if queued else step(node_signing_key(), when_needed=True, start_any=True)
    consensus_prune()
    evidence_report()
    row = ConsensusState.objects.filter(id=1).first()
    if row is not None and row.progress_at and datetime.now(UTC) - row.progress_at > STALL:
        ConsensusState.objects.filter(id=1).update(progress_at=datetime.now(UTC))
        if sync_from_peers():
            step(node_signing_key())
        elif row.started:
            consensus_resend.delay()
    return block.height if block else None


def consensus_step_soon() -> None:
    """Queue a consensus step unless one is already waiting: one step sees every stored message."""
    if cache.add(STEP_QUEUED, 1, timeout=5):
        consensus_step.delay()


#: This process's armed timer: the due time (ms) of the timeout step it queued last, if
#: that step has not run yet. One timer at a time: when it fires, it arms the next.
_armed_ms: int | None = None


def consensus_step_at(due_ms: int) -> None:
    """Queue a consensus step for when a timeout falls due (the worker holds it until then).

    Only when it is due before the timer already armed: that one fires first and
    arms the next. Most timeouts never fire (the height decides first), so a
    height queues about one timer instead of one for each timeout it sets. Beat's
    tick still finds any timeout whose step was lost (a worker restart, say).
    """
    global _armed_ms
    now = time.time_ns() // 1_000_000
    if _armed_ms is not None and now <= _armed_ms + TIMEOUT_STEP_EXPIRES_S * 1000 and _armed_ms <= due_ms:
        return
    delay_s = max(0.0, (due_ms - now) / 1000)
    consensus_timeout.apply_async(args=[due_ms], countdown=delay_s, expires=delay_s + TIMEOUT_STEP_EXPIRES_S)
    _armed_ms = due_ms


@shared_task(name="chain.consensus_timeout", ignore_result=True)
def consensus_timeout(due_ms: int | None = None) -> int | None:
    """A timeout fell due: a step, unless the height moved on and nothing else is waiting;
    then the timer is armed for the next timeout still pending."""
    global _armed_ms
    if _armed_ms == due_ms:
        _armed_ms = None
    block = step(node_signing_key(), when_needed=True)
    due = next_timeout_ms()
    if due is not None:
        consensus_step_at(due)
    return block.height if block else None


@shared_task(name="chain.consensus_step", ignore_result=True)
def consensus_step() -> int | None:
    """Peer messages arrived, or work did: process them now rather than at the next tick.

    Skipped when they are moot by now: a precommit that arrived while this
    site was writing the block it decides, or work that waits for another
    site's proposal.
    """
    cache.delete(STEP_QUEUED)
    block = step(node_signing_key(), when_needed=True)
    return block.height if block else None


@shared_task(name="chain.vacuum_churning", ignore_result=True)
def vacuum_churning() -> None:
    """Every other tick, in the general worker: VACUUM the tables that churn (chain.store)."""
    churning_tables_vacuum()


@shared_task(name="chain.consensus_resend", ignore_result=True)
def consensus_resend() -> None:
    """Stuck at a height: send every message we hold of it (ours and relayed) and the proposed blocks.

    The gossip that makes a lost message arrive in the end; signatures make
    relaying others' messages safe.
    """
    head = ChainHead.objects.only("chain_id", "height", "block_hash").get()
    height = head.height + 1
    rows = ConsensusMessage.objects.filter(height=height)
    messages = [{**message_wire(stored_message(m)), "signature": m.signature} for m in rows]
    relayed = proposed_blocks_to_relay(height=height, previous_hash=head.block_hash)
    proposed = [proposal_wire(p) for p in relayed]
    if messages:
        body = {"chain_id": head.chain_id, "messages": messages, "blocks": proposed}
        transport.post_to_all(list(peer_urls().values()), "/peer/v1/consensus/", body)


@shared_task(name="chain.sync", ignore_result=True)
def sync() -> int:
    """A peer is ahead of us: fetch, verify and apply its blocks, then go on with consensus."""
    applied = sync_from_peers()
    if applied:
        step(node_signing_key())
    return applied
