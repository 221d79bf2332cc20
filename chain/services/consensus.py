"""This site's consensus driver: runs the height machine over the database, one step at a time.

A step (``consensus_step``) takes the consensus advisory lock, restores the
machine from ``ConsensusState`` and the stored messages of the height, feeds
it what arrived and the timeouts that are due, starts the height when there is
work, and saves the new state and our signed messages, all in one database
transaction. When the machine decides, the block is written in that same
transaction. Messages leave for the peers only after commit
(chain.consensus.transport), so a message we sent is always one we saved:
a restarted site never signs two different votes for one round.
"""

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.db import connection, transaction

from chain.consensus.machine import (
    PRECOMMIT,
    PROPOSAL,
    HeightMachine,
    Message,
    RoundState,
    Timeouts,
    ValidatorSet,
)
from chain.consensus.messages import message_wire, sign_message
from chain.ledger.block import BlockHeader, header_from_wire
from chain.ledger.encoding import merkle_root
from chain.ledger.errors import LedgerError
from chain.ledger.keys import is_address
from chain.ledger.state import Account as AccountRecord
from chain.ledger.state import Validator as ValidatorRecord
from chain.ledger.tx import parse_transaction
from chain.ledger.validators import proposer_for, proposer_weights, voting_power
from chain.models import (
    Account,
    Block,
    ChainHead,
    ConsensusMessage,
    ConsensusState,
    Evidence,
    MempoolTx,
    ProposedBlock,
    Validator,
)
from chain.services import blocks as block_services
from chain.services.blocks import BuiltBlock, block_build, block_check, block_write
from chain.store import binary_cursor

log = logging.getLogger(__name__)

#: pg advisory lock id: one consensus step at a time per site.
CONSENSUS_LOCK = 0x67747862  # "gtxb"
#: Our executed proposals and checked peer blocks, by hash, for the commit to reuse.
_EXECUTED: dict[str, BuiltBlock] = {}
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


def _now_ms() -> int:
    """The block producer's clock (one clock for timeouts and for what is due; tests move it)."""
    return block_services._now_ms()


def validator_set(head: ChainHead) -> ValidatorSet:
    """Voting power, authorities and proposer rule for the next height, from the committed state."""
    return _validator_set_at(head.block_hash, head.state_root)


@lru_cache(maxsize=1)
def _validator_set_at(previous: str, state_root: str) -> ValidatorSet:
    """Read once per head: only a block changes the validator records, and every step of a
    height asks for the same set."""
    power, weights, authorities = _validator_powers_at(previous, state_root)
    return ValidatorSet(power, authorities, lambda round: proposer_for(weights, previous, round))


@lru_cache(maxsize=1)
def _validator_powers_at(previous: str, state_root: str) -> tuple[dict, dict, frozenset]:
    """Voting power, proposer weights and authorities after the head ``previous``."""
    validators = [
        ValidatorRecord(**{f: getattr(v, f) for f in ValidatorRecord.__dataclass_fields__ if f != "table"})
        for v in Validator.objects.all()
    ]
    accounts = {
        a.address: AccountRecord(address=a.address, staked=a.staked)
        for a in Account.objects.filter(address__in=[v.public_key for v in validators])
    }
    power = voting_power(validators, accounts)
    authorities = frozenset(v.public_key for v in validators if v.authority and v.public_key in power)
    return power, proposer_weights(validators, accounts), authorities


def _proposer_weights_at(previous: str, state_root: str) -> dict:
    """The proposer weights after the head ``previous`` (the peer protocol checks proposals with them)."""
    return _validator_powers_at(previous, state_root)[1]


def timeouts_of(params: dict) -> Timeouts:
    return Timeouts(
        propose_ms=params.get("propose_timeout_ms", 3000),
        vote_ms=params.get("vote_timeout_ms", 1000),
        step_ms=params.get("timeout_step_ms", 500),
    )


def _load_state(head: ChainHead) -> tuple[ConsensusState, RoundState]:
    row = ConsensusState.objects.select_for_update().filter(id=1).first()
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
        _EXECUTED.clear()
    state = RoundState(
        height,
        **{name: getattr(row, name) for name in STATE_FIELDS if name not in ("decided", "decided_round")},
    )
    return row, state


def consensus_prune() -> None:
    """Forget the messages and proposed blocks of decided heights (beat's tick: off the path of a step),
    and the proposed blocks of the next height that do not extend the head (kept while it was
    the height after next, under a previous hash that did not come to be)."""
    head = ChainHead.objects.only("height", "block_hash").get()
    ConsensusMessage.objects.filter(height__lte=head.height).delete()
    ProposedBlock.objects.filter(height__lte=head.height).delete()
    stale = ProposedBlock.objects.filter(height=head.height + 1).exclude(
        header__previous_hash=head.block_hash
    )
    stale.delete()


def next_timeout_ms() -> int | None:
    """When this site's next pending timeout falls due (ms), for the timer to arm; None if none.

    Those of a decided height may linger in the row until the next height starts
    here: only future ones count, so a stale one cannot fire again and again.
    """
    now = _now_ms()
    timeouts = ConsensusState.objects.filter(id=1).values_list("timeouts", flat=True).first() or []
    return min((due for due, *_ in timeouts if due > now), default=None)


def _save_state(row: ConsensusState, state: RoundState) -> None:
    for name in STATE_FIELDS:
        if name not in ("decided", "decided_round"):
            setattr(row, name, getattr(state, name))
    row.save()


def stored_message(row: ConsensusMessage) -> Message:
    return Message(row.type, row.height, row.round, row.sender, row.block_hash, row.pol_round)


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
        block = _step(node_key, outbox)
        if outbox.messages:
            transaction.on_commit(lambda: _send_after_commit(outbox))
        if block is not None and step_needed():
            transaction.on_commit(_step_later)  # the next height starts now, not at the next tick
        if outbox.steps_at_ms:
            transaction.on_commit(lambda: _step_at(outbox.steps_at_ms))
    return block


#: What step_needed reads, in one statement: a task asks it twice, before and under the lock.
STEP_NEEDED_SQL = """
    SELECT h.height, h.block_hash, h.state_root, h.params::text,
           EXISTS (SELECT 1 FROM chain_consensusmessage m WHERE m.height = h.height + 1 AND NOT m.processed),
           s.height, s.started, s.timeouts::text,
           EXISTS (SELECT 1 FROM chain_mempooltx)
      FROM chain_chainhead h LEFT JOIN chain_consensusstate s ON s.id = 1
"""


def step_needed(*, start_any: bool = False) -> bool:
    """Whether a step has anything to do: one cheap read instead of a whole step.

    A step is needed when peer messages of the height wait, when a timeout is
    due, or, before the height started here, when there is work and this site
    proposes its first round. The other validators start the height when the
    proposal (or any message) arrives; beat's tick passes ``start_any`` so that
    they also start it without one, which arms the propose timeout that moves
    past a proposer that is down.
    """
    with connection.cursor() as cursor:
        cursor.execute(STEP_NEEDED_SQL)
        head_height, block_hash, state_root, params, waiting, height, started, timeouts, pooled = (
            cursor.fetchone()
        )
    if waiting:
        return True
    if height == head_height + 1:
        now = _now_ms()
        if any(due <= now for due, *_ in json.loads(timeouts)):
            return True
        if started:
            return False
    if not (pooled or _begin_block_due(json.loads(params))):
        return False
    return start_any or _proposes_first(block_hash, state_root)


def _node_address() -> str:
    from chain.node import node_signing_key

    return node_signing_key().verify_key.encode().hex()


def _proposes_first(block_hash: str, state_root: str) -> bool:
    """Whether this site proposes round 0 of the height after the head ``block_hash``."""
    return _validator_set_at(block_hash, state_root).proposer(0) == _node_address()


def _step_later() -> None:
    from chain.tasks import consensus_step_soon

    consensus_step_soon()


def _step_at(due_ms: list[int]) -> None:
    """A step at each of ``due_ms`` (timeouts, or a second look after a commit): beat need not poll."""
    from chain.tasks import consensus_step_at

    for due in sorted(set(due_ms)):
        consensus_step_at(due)


def _send_after_commit(outbox: Outbox) -> None:
    """Send our new messages to every peer from a background thread: no task hop on the hot path."""
    from chain.consensus import transport

    if outbox.peer_urls:
        body = {"chain_id": outbox.chain_id, "messages": outbox.messages, "blocks": outbox.blocks}
        transport.post_to_all_later(outbox.peer_urls, "/peer/v1/consensus/", body)


@lru_cache(maxsize=1)
def _peer_urls_at(previous: str, state_root: str, me: str) -> list[str]:
    """The other validators' sites (``me`` is this node), read once per head, as the validator
    set is: only a block changes the validators' urls."""
    from chain.peers import peer_urls

    return list(peer_urls().values())


def _step(node_key, outbox: Outbox) -> Block | None:
    head = ChainHead.objects.select_for_update().get()
    me = node_key.verify_key.encode().hex()
    row, state = _load_state(head)
    validators = validator_set(head)
    if me not in validators.power:
        return None  # an observer: it follows the chain by syncing, it does not vote
    chain_id = head.chain_id
    outbox.chain_id, outbox.peer_urls = chain_id, _peer_urls_at(head.block_hash, head.state_root, me)
    stored = list(ConsensusMessage.objects.filter(height=state.height).order_by("id"))
    processed = [stored_message(m) for m in stored if m.processed]
    fresh = [m for m in stored if not m.processed]

    machine = HeightMachine(
        me,
        state,
        validators,
        timeouts_of(head.params),
        valid=lambda block_hash: _block_valid(head, validators, block_hash),
        get_value=lambda round: _propose(node_key, head, round, outbox),
    )
    machine.restore(processed)
    actions = []
    for row_msg in fresh:
        actions.append(machine.receive(stored_message(row_msg)))
    if fresh:
        ConsensusMessage.objects.filter(id__in=[m.id for m in fresh]).update(processed=True)
    now = _now_ms()
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
            _evidence_record(evidence)
    if state.decided:
        block = _commit(head, validators, state, machine)
        # The decided height's timeouts are moot. The next height waits only for its
        # proposer: the others start it when its proposal arrives (or at beat's tick).
        # A batch admitted while the block was written counted its transactions as
        # waiting, so queued no step: the proposer looks again one block interval on
        # (a no-op when the next height is under way by then).
        if _proposes_first(head.block_hash, head.state_root):
            outbox.steps_at_ms = [now + head.params["block_interval_ms"]]
        else:
            outbox.steps_at_ms = []
        ConsensusState.objects.filter(id=1).update(progress_at=datetime.now(UTC))
        return block
    _save_state(row, state)
    return None


def _has_work(head: ChainHead) -> bool:
    return MempoolTx.objects.exists() or _begin_block_due(head.params)


def _begin_block_due(params: dict) -> bool:
    from chain.ledger.block import begin_block_due
    from chain.store import DatabaseStore

    return begin_block_due(DatabaseStore(), _now_ms(), params)


def _propose(node_key, head: ChainHead, round: int, outbox: Outbox) -> str:
    built = block_build(node_key, head, round, empty_ok=True)
    block_hash = built.header.hash
    _EXECUTED[block_hash] = built
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
    outbox.proposed[block_hash] = proposed
    return block_hash


def proposal_wire(proposed: ProposedBlock) -> dict:
    """A proposed block as peers receive it: the header, the transactions' hashes in block
    order, and the bodies it carries (none from the proposer: every validator's mempool
    has them by gossip, and a site missing some asks for them)."""
    return {"header": proposed.header, "tx_hashes": proposed.tx_hashes, "txs": proposed.txs}


def _proposal_transactions(head: ChainHead, proposed: ProposedBlock) -> tuple[list, frozenset] | None:
    """The proposed block's transactions in order (carried, from our mempool, or fetched from
    the peers) and the hashes of those from our mempool, whose signatures admission verified;
    None when some could not be found (no vote: we cannot check what we lack)."""
    from chain.services.blocks import mempool_transactions

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
    from chain.consensus import transport
    from chain.peers import peer_urls

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


def _block_valid(head: ChainHead, validators: ValidatorSet, block_hash: str) -> bool:
    """Whether a proposed block is one we would vote for: checked in full once, the verdict kept."""
    if block_hash in _EXECUTED:
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
        assembled = _proposal_transactions(head, proposed)
        if assembled is None:
            return False  # not a verdict: a later round may find them
        txs, admitted = assembled
        built = block_check(head, header, txs, expected_proposer=validators.proposer, admitted=admitted)
    except (LedgerError, TypeError, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        log.warning("Proposed block %s refused: %s", block_hash[:12], message)
        ProposedBlock.objects.filter(hash=block_hash).update(verdict=message[:2000] or "invalid")
        return False
    _EXECUTED[block_hash] = built
    ProposedBlock.objects.filter(hash=block_hash).update(verdict="valid")
    return True


def _commit(head: ChainHead, validators: ValidatorSet, state: RoundState, machine: HeightMachine) -> Block:
    block_hash, round = state.decided, state.decided_round
    built = _EXECUTED.get(block_hash)
    if built is None or built.base_hash != head.block_hash:
        _EXECUTED.pop(block_hash, None)
        if not _block_valid(head, validators, block_hash):
            raise RuntimeError(f"Decided block {block_hash} cannot be executed here.")
        built = _EXECUTED[block_hash]
    signatures = {
        (m.sender, m.round): m.signature
        for m in ConsensusMessage.objects.filter(
            height=state.height, type=PRECOMMIT, block_hash=block_hash, round=round
        )
    }
    certificate = [
        {"validator": vote.sender, "round": vote.round, "signature": signatures[(vote.sender, vote.round)]}
        for vote in sorted(machine.precommits_for(round, block_hash), key=lambda v: v.sender)
    ]
    block = block_write(head, built, certificate)
    _EXECUTED.clear()
    return block


def _evidence_record(evidence) -> None:
    first, second = evidence.first, evidence.second
    key = f"{first.sender}:{first.height}:{first.round}:{first.type}"
    Evidence.objects.get_or_create(
        key=key,
        defaults={
            "validator": first.sender,
            "height": first.height,
            "round": first.round,
            "type": first.type,
            "first": message_wire(first),
            "second": message_wire(second),
        },
    )


def evidence_report() -> int:
    """Put the double signing this site saw on chain, signed by its node key; how many were sent."""
    from chain.services.admission import BatchRejected
    from chain.services.node_signer import node_transaction_submit

    sent = 0
    for evidence in Evidence.objects.filter(reported=False)[:10]:
        signatures = dict(
            ConsensusMessage.objects.filter(
                height=evidence.height, round=evidence.round, type=evidence.type, sender=evidence.validator
            ).values_list("block_hash", "signature")
        )
        pair = [evidence.first, evidence.second]
        if all(m["block_hash"] in signatures for m in pair):
            payload = {
                "first": {**pair[0], "signature": signatures[pair[0]["block_hash"]]},
                "second": {**pair[1], "signature": signatures[pair[1]["block_hash"]]},
            }
            try:
                node_transaction_submit(kind="evidence_double_sign", payload=payload)
                sent += 1
            except (BatchRejected, LedgerError) as exc:
                log.warning("Evidence against %s not admitted: %s", evidence.validator[:12], exc)
        # Reported, or its messages are gone with their height: nothing more to do either way.
        Evidence.objects.filter(key=evidence.key).update(reported=True)
    return sent


# --- what peers send ----------------------------------------------------------


#: Heights above the head whose messages and proposed blocks a site keeps: the next one,
#: and the one after it, which a peer that committed first may already be on. Anything
#: higher only tells us a peer is ahead (a sync starts); nothing of it is stored.
HEIGHT_WINDOW = 2
#: Rounds above the one this site is in (at the height after next: above round 0) whose
#: messages it keeps. Enough for rule 55 to move a site that lags a few rounds behind;
#: a site further behind moves up a window at each resend. Without it one validator
#: could store three messages for each of 10,000 rounds, and every step reads them all.
ROUND_WINDOW = 16
#: Distinct values kept per (height, round, type, sender): two are evidence of double
#: signing, a third proves nothing more and would only fill the table.
VALUES_PER_VOTE = 2
#: Proposed blocks kept per (height, header round): a proposer that signs more than two
#: blocks for one round has already given the evidence.
BLOCKS_PER_ROUND = 2
#: Transaction bodies a proposed block may carry (the proposer carries none: receivers
#: hold them by gossip or look them up).
MAX_CARRIED_TXS = 500

BAD_BLOCK = "bad_block"
NO_PROPOSAL = "no_proposal"


def peer_messages_store(
    messages: list[tuple[Message, str]],
    blocks: list,
    *,
    chain_id: str,
    head_height: int,
    head_round: int,
    head_hash: str,
    head_state_root: str,
    max_block_txs: int,
) -> dict:
    """Keep verified peer messages (and proposed blocks) for the next step; say what was new.

    The caller checked each message's sender (an active validator) and
    signature (chain.consensus.messages) and read the head. Messages for heights
    already decided here mark the sender as behind; those above
    ``HEIGHT_WINDOW`` only count as ``ahead``; those of rounds more than
    ``ROUND_WINDOW`` above ``head_round`` (this site's round at the next height)
    are not kept. A proposed block is kept only with its proposer's signed
    proposal, kept with it or before (``_proposed_block_check``). Peers send
    several of these a height each: the messages go in one statement, and one
    that is already here is skipped, not an error.
    """
    behind, ahead, rows, seen, proposals = set(), 0, [], {}, []
    for message, signature in messages:
        if message.height <= head_height:
            behind.add(message.sender)
            continue
        if message.height > head_height + 1:
            ahead += 1
        if message.height > head_height + HEIGHT_WINDOW:
            continue
        if message.round > (head_round if message.height == head_height + 1 else 0) + ROUND_WINDOW:
            continue
        vote = (message.height, message.round, message.type, message.sender)
        values = seen.setdefault(vote, set())
        if message.block_hash in values or len(values) >= VALUES_PER_VOTE:
            continue  # a repeat, or a third value: nothing the step needs
        values.add(message.block_hash)
        rows.append((*vote, message.block_hash, message.pol_round, signature))
        if message.type == PROPOSAL:
            proposals.append(message)
    checked = [
        _proposed_block_check(
            chain_id, head_height, head_hash, head_state_root, max_block_txs, body, proposals
        )
        for body in blocks
    ]
    stored = _messages_insert(rows) if rows else 0
    for block in checked:
        if block is not None:
            _proposed_block_insert(block)
    return {"stored": stored, "ahead": ahead, "behind": sorted(behind), "height": head_height}


def _messages_insert(rows: list[tuple]) -> int:
    """Insert peer messages not held yet, in one statement; how many were new.

    A (height, round, type, sender) holds at most VALUES_PER_VOTE values, counting
    those stored and the new ones earlier in ``rows`` (which holds each value once):
    an equivocating validator cannot fill the table.
    """
    columns = [list(column) for column in zip(*rows, strict=True)]
    with binary_cursor() as cursor:  # each column one array, bound on the server, as admission's insert
        cursor.execute(
            "INSERT INTO chain_consensusmessage "
            "(height, round, type, sender, block_hash, pol_round, signature, processed, received_at) "
            "SELECT h, r, t, s, b, p, sig, false, now() FROM ("
            "  SELECT v.*,"
            "    count(*) FILTER (WHERE NOT held) OVER (PARTITION BY h, r, t, s ORDER BY ord) AS nth"
            "  FROM ("
            "    SELECT u.*,"
            "      (SELECT count(*) FROM chain_consensusmessage m"
            "        WHERE m.height = u.h AND m.round = u.r AND m.type = u.t AND m.sender = u.s) AS held_n,"
            "      EXISTS (SELECT 1 FROM chain_consensusmessage m WHERE m.height = u.h AND m.round = u.r"
            "        AND m.type = u.t AND m.sender = u.s AND m.block_hash = u.b) AS held"
            "    FROM unnest(%b::bigint[], %b::int[], %b::text[], %b::text[], %b::text[], %b::int[],"
            "      %b::text[])"
            "      WITH ORDINALITY AS u(h, r, t, s, b, p, sig, ord)"
            "  ) v"
            ") w "
            "WHERE NOT held AND held_n + nth <= %b::int "
            "ORDER BY ord "
            "ON CONFLICT DO NOTHING RETURNING id",
            [*columns, VALUES_PER_VOTE],
        )
        return len(cursor.fetchall())


def _proposed_block_check(
    chain_id: str,
    head_height: int,
    head_hash: str,
    head_state_root: str,
    max_block_txs: int,
    body,
    proposals: list[Message],
) -> ProposedBlock | None:
    """The proposed block to keep, None when it is not for a height we keep, or LedgerError.

    Kept only when all hold: its form and size caps; its header's chain id and
    a height in the window; its transactions' hashes are those the header's
    merkle root commits to; every carried body is a well-formed, signed
    transaction of this chain whose hash it claims; and a proposal for it (in
    this request, or stored) is signed by the proposer of that height and round,
    chosen as consensus chooses (for the height after next, over the present
    validator set and the header's previous hash: a site that disagrees then
    refuses it when the height comes, as any invalid block), in a round no
    earlier than the header's, whose proposer the header names.
    """
    if type(body) is not dict or set(body) - {"header", "tx_hashes", "txs"}:
        raise LedgerError(BAD_BLOCK, "A proposed block is {header, tx_hashes, txs}.")
    header, tx_hashes, txs = body.get("header"), body.get("tx_hashes"), body.get("txs", [])
    if type(header) is not dict or type(tx_hashes) is not list or type(txs) is not list:
        raise LedgerError(BAD_BLOCK, "A proposed block is {header, tx_hashes, txs}.")
    if len(tx_hashes) > max_block_txs or len(txs) > min(len(tx_hashes), MAX_CARRIED_TXS):
        raise LedgerError(
            BAD_BLOCK, f"A block holds at most {max_block_txs} transactions and carries {MAX_CARRIED_TXS}."
        )
    if not all(is_address(h) for h in tx_hashes) or len(set(tx_hashes)) != len(tx_hashes):
        raise LedgerError(BAD_BLOCK, "tx_hashes are distinct hashes of 64 lower-case hex digits.")
    try:
        block = header_from_wire(header)
    except LedgerError as exc:
        raise LedgerError(BAD_BLOCK, exc.message) from exc
    block_hash = block.hash
    if block.chain_id != chain_id:
        raise LedgerError(BAD_BLOCK, f"The header's chain_id is not {chain_id}.")
    if not head_height < block.height <= head_height + HEIGHT_WINDOW:
        return None  # decided already, or too far ahead to keep
    if block.tx_count != len(tx_hashes) or block.merkle_root != merkle_root(tx_hashes):
        raise LedgerError(BAD_BLOCK, "tx_hashes are not the transactions the header commits to.")
    if block.height == head_height + 1:
        previous = head_hash
    elif is_address(block.previous_hash):
        previous = block.previous_hash
    else:
        raise LedgerError(BAD_BLOCK, "The header's previous_hash is malformed.")
    weights = _proposer_weights_at(head_hash, head_state_root)

    def proposer(round: int) -> str:
        return proposer_for(weights, previous, round)

    proposal = _proposal_of(block, block_hash, proposals, proposer)
    if proposal is None or block.proposer != proposer(block.round):
        raise LedgerError(
            NO_PROPOSAL, "A proposed block comes with the signed proposal of its height and round's proposer."
        )
    carried = _carried_transactions(chain_id, txs, set(tx_hashes))
    return ProposedBlock(
        hash=block_hash,
        height=block.height,
        header=header,
        tx_hashes=tx_hashes,
        txs=carried,
        verdict="",
    )


def _proposal_of(block: BlockHeader, block_hash: str, proposals: list[Message], proposer) -> Message | None:
    """A verified proposal of ``block_hash`` by the proposer of its round, in a round no earlier
    than the block's: one of the request's kept ones, else one stored (every stored message
    was verified on arrival)."""

    def proposes(message: Message) -> bool:
        return message.round >= block.round and message.sender == proposer(message.round)

    for message in proposals:
        if (message.height, message.block_hash) == (block.height, block_hash) and proposes(message):
            return message
    stored = ConsensusMessage.objects.filter(
        height=block.height, type=PROPOSAL, block_hash=block_hash, round__gte=block.round
    )
    return next((m for m in map(stored_message, stored[:64]) if proposes(m)), None)


def _carried_transactions(chain_id: str, wires: list, tx_hashes: set[str]) -> list[dict]:
    """The carried bodies, each a signed transaction of this chain whose hash the block lists."""
    seen = set()
    for wire in wires:
        tx = parse_transaction(wire)  # LedgerError names what is wrong with it
        if tx.chain_id != chain_id or tx.hash not in tx_hashes or tx.hash in seen:
            raise LedgerError(BAD_BLOCK, "A carried transaction is not one of the block's, or is repeated.")
        if not tx.signature_valid():
            raise LedgerError(BAD_BLOCK, "A carried transaction's signature does not match its sender.")
        seen.add(tx.hash)
    return wires


def _proposed_block_insert(block: ProposedBlock) -> None:
    """Keep a checked proposed block, unless its round holds BLOCKS_PER_ROUND others already."""
    same_round = ProposedBlock.objects.filter(height=block.height, header__round=block.header["round"])
    if same_round.exclude(hash=block.hash).count() >= BLOCKS_PER_ROUND:
        return
    ProposedBlock.objects.bulk_create([block], ignore_conflicts=True)  # a block we hold is kept as it is


def proposed_blocks_to_relay(*, height: int, previous_hash: str) -> list[ProposedBlock]:
    """The proposed blocks of ``height`` a stalled site resends: those that extend our head and
    that we did not find invalid (all of them passed the rules above when they were stored)."""
    relayed = ProposedBlock.objects.filter(
        height=height, header__previous_hash=previous_hash, verdict__in=["", "valid"]
    )
    return list(relayed.order_by("hash")[:MAX_RELAYED_BLOCKS])


#: Proposed blocks a resend carries (the peer protocol's per-request cap).
MAX_RELAYED_BLOCKS = 10


def consensus_status() -> dict:
    """Where consensus stands on this site, for the status page and ``manage.py status``."""
    head = ChainHead.objects.get()
    row = ConsensusState.objects.filter(id=1).first()
    return {
        "height": head.height,
        "round": row.round if row and row.height == head.height + 1 else 0,
        # Before a height starts there is no step yet: the site waits for work.
        "step": row.step if row and row.height == head.height + 1 and row.started else "",
        "started": bool(row and row.height == head.height + 1 and row.started),
        "last_commit_at": head.last_block_at,
        "evidence": Evidence.objects.count(),
        "stalled_for": (datetime.now(UTC) - row.progress_at) if row and row.progress_at else timedelta(0),
    }
