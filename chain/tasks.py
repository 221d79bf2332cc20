"""Celery tasks: thin wrappers over services.

Consensus steps run when something happens: peer messages arrive, work reaches
an empty mempool, a height commits, a timeout falls due. Beat's tick is the
backstop: it starts heights for begin-block work, finds timeouts whose step was
lost, reports evidence and notices a stalled height. Services queue these by
name through chain.task_queue, which names every task here.
"""

from datetime import UTC, datetime, timedelta

from celery import shared_task

from chain import task_queue
from chain.consensus import transport
from chain.consensus.messages import message_wire
from chain.models import ChainHead, ConsensusMessage, ConsensusState
from chain.node import node_signing_key
from chain.peers import peer_urls
from chain.services.admission import intake_upkeep, waiting_forward_again
from chain.services.consensus.evidence import evidence_report
from chain.services.consensus.proposals import proposal_bodies_fetch as bodies_fetch
from chain.services.consensus.step import consensus_step as step
from chain.services.consensus.step import next_timeout_ms
from chain.services.consensus.stored import (
    consensus_prune,
    proposal_wire,
    proposed_blocks_to_relay,
    stored_message,
)
from chain.services.scaling import coordinator_tick, shard_batch_admit
from chain.services.sync import blocks_follow as follow
from chain.services.sync import followers_push as push
from chain.services.sync import sync_from_peers
from chain.store import churning_tables_vacuum

#: A height that has not moved for this long resends its messages and asks peers how far they are.
STALL = timedelta(seconds=2)


@shared_task(name=task_queue.CONSENSUS_TICK, ignore_result=True)
def consensus_tick() -> int | None:
    """Beat's tick (GTX_TICK_S): lost timeouts, heights for begin-block work, pruning, the hold
    queue and dropped receipts, recovery when stuck."""
    # A step already queued (peer messages woke it) does what this one would.
    queued = task_queue.consensus_step_queued()
    block = None if queued else step(node_signing_key(), when_needed=True, start_any=True)
    consensus_prune()
    intake_upkeep()
    evidence_report()
    row = ConsensusState.objects.filter(id=1).first()
    if row is not None and row.progress_at and datetime.now(UTC) - row.progress_at > STALL:
        ConsensusState.objects.filter(id=1).update(progress_at=datetime.now(UTC))
        if sync_from_peers():
            step(node_signing_key())
        elif row.started:
            task_queue.consensus_resend_soon()
    return block.height if block else None


@shared_task(name=task_queue.CONSENSUS_TIMEOUT, ignore_result=True)
def consensus_timeout(due_ms: int | None = None) -> int | None:
    """A timeout fell due: a step, unless the height moved on and nothing else is waiting;
    then the timer is armed for the next timeout still pending."""
    task_queue.timeout_timer.fired(due_ms)
    block = step(node_signing_key(), when_needed=True)
    due = next_timeout_ms()
    if due is not None:
        task_queue.consensus_step_at(due)
    return block.height if block else None


@shared_task(name=task_queue.CONSENSUS_STEP, ignore_result=True)
def consensus_step(when_needed: bool = True) -> int | None:
    """Peer messages arrived, or work did: process them now rather than at the next tick.

    Skipped when they are moot by now: a precommit that arrived while this
    site was writing the block it decides, or work that waits for another
    site's proposal. Not skipped (``when_needed`` false) after a proposal's
    missing bodies arrived: its message was processed already, but not judged.
    """
    if when_needed:
        task_queue.consensus_step_started()
    block = step(node_signing_key(), when_needed=when_needed)
    return block.height if block else None


@shared_task(name=task_queue.PROPOSAL_BODIES_FETCH, ignore_result=True)
def proposal_bodies_fetch(block_hash: str, tx_hashes: list[str]) -> int:
    """A step found a proposal whose bodies we lack: fetch them from the peers (no lock held),
    then have the consensus worker step, so that the proposal gets its verdict (and our vote)
    now. Not a step here: the block would be executed in this process, and the consensus
    worker, which writes it when it is decided, would execute it again."""
    fetched = bodies_fetch(block_hash, tx_hashes)
    if fetched:
        task_queue.consensus_step_for_bodies()
    return fetched


@shared_task(name=task_queue.VACUUM_CHURNING, ignore_result=True)
def vacuum_churning() -> None:
    """Every other tick, in the general worker: VACUUM the tables that churn (chain.store)."""
    churning_tables_vacuum()


@shared_task(name=task_queue.MEMPOOL_FORWARD_AGAIN, ignore_result=True)
def mempool_forward_again() -> int:
    """In the general worker (it waits on peers): gossip again what waited here too long."""
    return waiting_forward_again(ChainHead.objects.only("chain_id").get().chain_id)


@shared_task(name=task_queue.CONSENSUS_RESEND, ignore_result=True)
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


@shared_task(name=task_queue.FOLLOW_TICK, ignore_result=True)
def follow_tick() -> int:
    """A follower's beat tick (instead of the consensus tick): pull whatever blocks the
    validators have that no push brought, keep its intake (held transactions, receipts), and
    forward again its users' transactions that no block has brought back yet."""
    applied = sync_from_peers()
    intake_upkeep()
    waiting_forward_again(ChainHead.objects.only("chain_id").get().chain_id)
    return applied


@shared_task(name=task_queue.BLOCKS_FOLLOW, ignore_result=True)
def blocks_follow(bodies: list) -> int:
    """Blocks a validator pushed to this follower: verified and applied as sync applies them."""
    return follow(bodies)


@shared_task(name=task_queue.FOLLOWERS_PUSH, ignore_result=True)
def followers_push(height: int) -> int:
    """A block this validator proposed is committed: send it to the registered followers."""
    return push(height)


@shared_task(name=task_queue.SYNC, ignore_result=True)
def sync() -> int:
    """A peer is ahead of us: fetch, verify and apply its blocks, then go on with consensus."""
    applied = sync_from_peers()
    if applied:
        step(node_signing_key())
    return applied


@shared_task(name=task_queue.INTAKE_SHARD_ADMIT, ignore_result=False)
def intake_shard_admit(wires: list, shard: int, queued_at_us: int, door_passed: bool = False) -> dict:
    """A batch the API's intake sent to its shard's queue (chain.services.scaling)."""
    return shard_batch_admit(wires, shard, queued_at_us, door_passed)


@shared_task(name=task_queue.SCALING_COORDINATE, ignore_result=True)
def scaling_coordinate() -> int:
    """Beat's scaling coordinator: the active shard count after this tick."""
    decision = coordinator_tick()
    return decision.shards_to if decision else -1
