"""This site's consensus driver: runs the height machine over the database, one step at a time.

A step (``consensus_step``) takes the consensus advisory lock, restores the
machine from ``ConsensusState`` and the stored messages of the height, feeds
it what arrived and the timeouts that are due, starts the height when there is
work, and saves the new state and our signed messages, all in one database
transaction. When the machine decides, the block is written in that same
transaction. Messages leave for the peers only after commit
(chain.consensus.transport), so a message we sent is always one we saved:
a restarted site never signs two different votes for one round.

No peer is asked anything under the lock (transport refuses): a proposal whose
transaction bodies this site lacks gets no verdict yet, and a task fetches them
after commit and steps again (``proposal_bodies_fetch_soon``).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction

from chain import clock, task_queue
from chain.consensus import transport
from chain.consensus.machine import PROPOSAL, HeightMachine, RoundState, Timeouts
from chain.consensus.messages import sign_message
from chain.models import Block, ChainHead, ConsensusMessage, ConsensusState, MempoolTx, ProposedBlock
from chain.selectors import peer_urls_at, validator_set
from chain.services.consensus.commit import decided_block_commit
from chain.services.consensus.evidence import evidence_record
from chain.services.consensus.proposals import proposal_build, proposal_valid
from chain.services.consensus.step_needed import begin_block_due_now, proposes_first, step_needed
from chain.services.consensus.stored import height_messages, proposal_wire
from chain.store import row_for_update

#: pg advisory lock id: one consensus step at a time per site.
CONSENSUS_LOCK = 0x67747862  # "gtxb"
STATE_FIELDS = [f for f in RoundState.__dataclass_fields__ if f != "height"]


@dataclass
class Outbox:
    """What a step sends once committed: signed messages and the blocks they propose."""

    messages: list[dict] = field(default_factory=list)
    blocks: list[dict] = field(default_factory=list)
    #: When to step again (ms): the timeouts this step set, or a second look after a commit.
    steps_at_ms: list[int] = field(default_factory=list)
    #: Blocks this step built and proposed, by hash.
    proposed: dict[str, ProposedBlock] = field(default_factory=dict)
    #: Where the messages go, read under the step's head (not again after commit).
    chain_id: str = ""
    peer_urls: list[str] = field(default_factory=list)
    #: Proposed blocks whose bodies we lack: block hash -> the missing transactions' hashes.
    bodies_missing: dict[str, list[str]] = field(default_factory=dict)


def timeouts_of(params: dict) -> Timeouts:
    return Timeouts(
        propose_ms=params.get("propose_timeout_ms", 3000),
        vote_ms=params.get("vote_timeout_ms", 1000),
        step_ms=params.get("timeout_step_ms", 500),
    )


def _load_state(head: ChainHead) -> tuple[ConsensusState, RoundState]:
    row = row_for_update(ConsensusState, 1)
    height = head.height + 1
    if row is None or row.height != height:
        row = row or ConsensusState(id=1)
        fresh = RoundState(height)
        row.height = height
        for name in STATE_FIELDS:
            setattr(row, name, getattr(fresh, name))
        row.timeouts = []
        row.progress_at = datetime.now(UTC)
        row.save()
    state = RoundState(
        height,
        **{name: getattr(row, name) for name in STATE_FIELDS if name not in ("decided", "decided_round")},
    )
    return row, state


def next_timeout_ms() -> int | None:
    """When this site's next pending timeout falls due (ms), for the timer to arm; None if none.

    Those of a decided height may linger in the row until the next height starts
    here: only future ones count, so a stale one cannot fire again and again.
    """
    now = clock.now_ms()
    timeouts = ConsensusState.objects.filter(id=1).values_list("timeouts", flat=True).first() or []
    return min((due for due, *_ in timeouts if due > now), default=None)


def _save_state(row: ConsensusState, state: RoundState) -> None:
    for name in STATE_FIELDS:
        if name not in ("decided", "decided_round"):
            setattr(row, name, getattr(state, name))
    row.save()


def consensus_step(node_key, *, when_needed: bool = False, start_any: bool = False) -> Block | None:
    """Advance consensus as far as the stored messages and the clock allow; the block decided, if any.

    At most one block per call: a begin-block hook that stays due cannot make
    a solo site spin. What ``step_needed`` finds once a block is written
    (messages of the next height, or work when this site proposes it) gets a
    step of its own.

    With ``when_needed`` (the tasks), it steps only when ``step_needed``, asked
    before the lock and again once it holds it: the step that held the lock
    may have done this one's work (a precommit that arrived while the block it
    decides was being written, say).
    """
    if when_needed and not step_needed(start_any=start_any):
        return None
    outbox = Outbox()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Steps queue on the lock: a message that arrives during a step is
            # seen by the next one, not left for the next tick.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CONSENSUS_LOCK])
        if when_needed and not step_needed(start_any=start_any):
            return None
        with transport.peer_io_forbidden("under the consensus lock"):
            block = _step(node_key, outbox)
        if outbox.bodies_missing:
            transaction.on_commit(lambda: _fetch_after_commit(outbox.bodies_missing))
        if outbox.messages:
            transaction.on_commit(lambda: _send_after_commit(outbox))
        if block is not None and step_needed():
            transaction.on_commit(_step_later)  # the next height starts now, not at the next tick
        if outbox.steps_at_ms:
            transaction.on_commit(lambda: _step_at(outbox.steps_at_ms))
    return block


def _step_later() -> None:
    task_queue.consensus_step_soon()


def _step_at(due_ms: list[int]) -> None:
    """A step at each of ``due_ms`` (timeouts, or a second look after a commit): beat need not poll."""
    for due in sorted(set(due_ms)):
        task_queue.consensus_step_at(due)


def _send_after_commit(outbox: Outbox) -> None:
    """Send our new messages to every peer from a background thread: no task hop on the hot path."""
    if outbox.peer_urls:
        body = {"chain_id": outbox.chain_id, "messages": outbox.messages, "blocks": outbox.blocks}
        transport.post_to_all_later(outbox.peer_urls, "/peer/v1/consensus/", body)


def _fetch_after_commit(bodies_missing: dict[str, list[str]]) -> None:
    """A fetch of the bodies each proposal lacks: the step that follows it gives the verdict."""
    for block_hash, tx_hashes in bodies_missing.items():
        task_queue.proposal_bodies_fetch_soon(block_hash, tx_hashes)


def _step(node_key, outbox: Outbox) -> Block | None:
    head = row_for_update(ChainHead, 1)
    if head is None:
        raise ChainHead.DoesNotExist("No chain head: the site has no genesis.")
    me = node_key.verify_key.encode().hex()
    row, state = _load_state(head)
    validators = validator_set(head)
    if me not in validators.power:
        return None  # an observer: it follows the chain by syncing, it does not vote
    chain_id = head.chain_id
    outbox.chain_id, outbox.peer_urls = chain_id, peer_urls_at(head.block_hash, head.state_root, me)
    processed, fresh = height_messages(state.height)

    def propose(round: int) -> str:
        proposed = proposal_build(node_key, head, round)
        outbox.proposed[proposed.hash] = proposed
        return proposed.hash

    machine = HeightMachine(
        me,
        state,
        validators,
        timeouts_of(head.params),
        valid=lambda block_hash: proposal_valid(
            head, validators, block_hash, bodies_missing=outbox.bodies_missing
        ),
        get_value=propose,
    )
    machine.restore(processed)
    actions = []
    for message in fresh:
        actions.append(machine.receive(message))
    now = clock.now_ms()
    due = [t for t in row.timeouts if t[0] <= now]
    row.timeouts = [t for t in row.timeouts if t[0] > now]
    for _, step, height, round in sorted(due):
        actions.append(machine.on_timeout(step, height, round))
    if not state.started and (fresh or _has_work(head)):
        actions.append(machine.start())
    actions.append(machine.evaluate())

    for action in actions:
        for message in action.broadcast:
            wire = sign_message(node_key, chain_id, message)
            ConsensusMessage.objects.create(
                height=message.height,
                round=message.round,
                type=message.type,
                sender=me,
                block_hash=message.block_hash,
                pol_round=message.pol_round,
                signature=wire["signature"],
                processed=True,
            )
            outbox.messages.append(wire)
            if message.type == PROPOSAL:
                proposed = outbox.proposed.get(message.block_hash)  # else a valid value of an earlier round
                proposed = proposed or ProposedBlock.objects.get(hash=message.block_hash)
                outbox.blocks.append(proposal_wire(proposed))
        for timeout in action.timeouts:
            row.timeouts.append([now + timeout.duration_ms, timeout.step, timeout.height, timeout.round])
            outbox.steps_at_ms.append(now + timeout.duration_ms)
        for evidence in action.evidence:
            evidence_record(evidence)
    if state.decided:
        block = decided_block_commit(head, validators, state, machine)
        # The decided height's timeouts are moot. The next height waits only for its
        # proposer: the others start it when its proposal arrives (or at beat's tick).
        # A batch admitted while the block was written counted its transactions as
        # waiting, so queued no step: the proposer looks again one block interval on
        # (a no-op when the next height is under way by then).
        if proposes_first(head.block_hash, head.state_root):
            outbox.steps_at_ms = [now + head.params["block_interval_ms"]]
        else:
            outbox.steps_at_ms = []
        ConsensusState.objects.filter(id=1).update(progress_at=datetime.now(UTC))
        return block
    _save_state(row, state)
    return None


def _has_work(head: ChainHead) -> bool:
    return MempoolTx.objects.exists() or begin_block_due_now(head.block_hash, head.state_root, head.params)
