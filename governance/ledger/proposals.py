"""Kinds governance_propose and governance_vote, and the block-start tally and execution.

Timeline of a proposal made in block C, with the parameters of that block:

- voting: blocks C .. E where E = C + voting_period_blocks; a vote in a later
  block is refused, and a voter's later vote replaces their earlier one;
- tally: at the start of block E + 1, weighing each vote by the voter's stake
  (``Account.staked``) at that moment, against all stake on the chain;
- execution of a passed proposal: at the start of block X = E + execution_delay_blocks
  (at least E + 1); a parameter change is a Param record, so it governs blocks from
  X + 1 on, the same height on every site because this runs in every site's core.
"""

import json
from dataclasses import replace

from chain.ledger import errors
from chain.ledger.block import BeginBlockHook
from chain.ledger.encoding import MAX_SAFE_INTEGER, canonical_json
from chain.ledger.errors import LedgerError, ledger_text
from chain.ledger.kinds import BlockContext, TxKind
from chain.ledger.state import Account, Param, State, Validator
from chain.ledger.tx import Transaction

from . import rules as r
from .records import EXECUTED, FAILED, OPEN, PASSED, REJECTED, Counter, Proposal, Vote, vote_id

PROPOSALS = "proposals"


def governance_params(params: dict) -> dict:
    """The governance parameters with safe defaults, for chains whose genesis predates them."""
    return {
        "voting_period_blocks": params.get("voting_period_blocks", 1200),
        "execution_delay_blocks": max(1, params.get("execution_delay_blocks", 10)),
        "quorum_ppm": params.get("quorum_ppm", 334_000),
        "threshold_ppm": params.get("threshold_ppm", 500_000),
        "min_proposal_stake": params.get("min_proposal_stake", 0),
    }


def _apply_propose(state: State, tx: Transaction, ctx: BlockContext) -> None:
    payload, gov = tx.payload, governance_params(ctx.params)
    proposer = state.account(tx.sender)
    if proposer.staked < max(gov["min_proposal_stake"], 1):
        raise LedgerError(
            r.NO_STAKE,
            "Making a proposal needs at least %(needed)s units staked; "
            "this account has %(staked)s. Bond tokens first.",
            {"needed": max(gov["min_proposal_stake"], 1), "staked": proposer.staked},
        )
    if state.get(Proposal.table, tx.hash) is not None:
        raise LedgerError(errors.DUPLICATE, "A proposal with this id already exists.")
    _check_validator_action(state, ctx, payload["action"], r.action_args(payload))
    counter = state.get(Counter.table, PROPOSALS) or Counter(PROPOSALS, 0)
    number = counter.value + 1
    state.put(Counter(PROPOSALS, number))
    end = ctx.height + gov["voting_period_blocks"]
    proposal = Proposal(
        proposal_id=tx.hash,
        number=number,
        proposer=tx.sender,
        title=payload["title"].strip(),
        description=payload.get("description", ""),
        action=payload["action"],
        action_args=canonical_json(r.action_args(payload)).decode(),
        created_height=ctx.height,
        voting_end_height=end,
        execute_height=end + gov["execution_delay_blocks"],
        quorum_ppm=gov["quorum_ppm"],
        threshold_ppm=gov["threshold_ppm"],
        status=OPEN,
        open_end_height=end,
    )
    state.put_new(proposal)
    state.put(Counter(CLOCK, ctx.timestamp_ms))  # its voting blocks are paced from this one
    ctx.emit(
        "governance_proposed", proposal_id=tx.hash, number=number, title=proposal.title, voting_end_height=end
    )


def _check_validator_action(state: State, ctx: BlockContext, action: str, args: dict) -> None:
    """Validator actions must make sense against the validator set as it is now."""
    if action not in (r.VALIDATOR_ADD, r.VALIDATOR_REMOVE, r.AUTHORITY):
        return
    validator = state.get(Validator.table, args["public_key"])
    if action == r.VALIDATOR_ADD:
        if validator is not None and validator.active:
            raise LedgerError(r.VALIDATOR_EXISTS, "That key is already an active validator.")
    elif validator is None:
        raise LedgerError(r.UNKNOWN_VALIDATOR, "No validator has that public key.")
    elif action == r.VALIDATOR_REMOVE and not validator.active:
        raise LedgerError(r.BAD_PROPOSAL, "That validator is already inactive.")
    elif action == r.AUTHORITY and validator.authority == args["authority"]:
        raise LedgerError(
            r.BAD_PROPOSAL,
            "That validator's authority flag is already %(flag)s.",
            {"flag": args["authority"]},
        )


def _apply_vote(state: State, tx: Transaction, ctx: BlockContext) -> None:
    proposal_id, option = tx.payload["proposal_id"], tx.payload["option"]
    proposal = state.get(Proposal.table, proposal_id)
    if proposal is None:
        raise LedgerError(r.PROPOSAL_NOT_FOUND, "No proposal has that id.")
    if proposal.status != OPEN or ctx.height > proposal.voting_end_height:
        raise LedgerError(
            r.VOTING_CLOSED,
            "Voting on proposal #%(number)s ended at block %(height)s.",
            {"number": proposal.number, "height": proposal.voting_end_height},
        )
    if state.account(tx.sender).staked <= 0:
        raise LedgerError(r.NO_STAKE, "Only accounts with staked tokens vote: their stake is their weight.")
    key = vote_id(proposal_id, tx.sender)
    previous = state.get(Vote.table, key)
    changes = 0 if previous is None else previous.changes + (previous.option != option)
    state.put(Vote(key, proposal_id, proposal.number, tx.sender, option, ctx.height, changes))
    ctx.emit(
        "governance_vote", proposal_id=proposal_id, number=proposal.number, voter=tx.sender, option=option
    )


GOVERNANCE_PROPOSE = TxKind(
    name="governance_propose",
    check_payload=r.check_propose_payload,
    prefetch=lambda tx: {
        Account.table: [tx.sender],
        Proposal.table: [tx.hash],
        Counter.table: [PROPOSALS, CLOCK],
        **({Validator.table: [tx.payload["public_key"]]} if "public_key" in tx.payload else {}),
    },
    apply=_apply_propose,
)
GOVERNANCE_VOTE = TxKind(
    name="governance_vote",
    check_payload=r.check_vote_payload,
    prefetch=lambda tx: {
        Account.table: [tx.sender],
        Proposal.table: [tx.payload["proposal_id"]],
        Vote.table: [vote_id(tx.payload["proposal_id"], tx.sender)],
    },
    apply=_apply_vote,
)


# --- block start: tally, then execute ----------------------------------------------


def total_stake(state: State) -> int:
    return sum(a.staked for a in state.scan(Account.table, "staked", 1, MAX_SAFE_INTEGER))


def tally(state: State, proposal: Proposal, height: int) -> Proposal:
    """Weigh the proposal's votes by each voter's stake now and decide it."""
    votes = state.scan(Vote.table, "proposal_number", proposal.number, proposal.number)
    state.prefetch(Account.table, [v.voter for v in votes])
    weights = {option: 0 for option in ("yes", "no", "abstain")}
    for vote in votes:
        weights[vote.option] += state.account(vote.voter).staked
    total = total_stake(state)
    outcome = r.tally_outcome(
        yes=weights["yes"],
        no=weights["no"],
        abstain=weights["abstain"],
        total=total,
        quorum_ppm=proposal.quorum_ppm,
        threshold_ppm=proposal.threshold_ppm,
    )
    passed = outcome == "passed"
    return replace(
        proposal,
        status=PASSED if passed else REJECTED,
        yes_stake=weights["yes"],
        no_stake=weights["no"],
        abstain_stake=weights["abstain"],
        total_stake=total,
        voters=len(votes),
        tallied_height=height,
        outcome=ledger_text("Passed; executes at block %(height)s.", height=proposal.execute_height)
        if passed
        else ledger_text("Rejected: %(reason)s.", reason=outcome),
        open_end_height=0,
        due_execute_height=proposal.execute_height if passed else 0,
    )


def execute(state: State, ctx: BlockContext, proposal: Proposal) -> Proposal:
    """Carry out a passed proposal; a change that no longer makes sense fails, changing nothing."""
    args = json.loads(proposal.action_args)
    try:
        _check_validator_action(state, ctx, proposal.action, args)
        outcome = _carry_out(state, ctx, proposal.action, args)
    except LedgerError as exc:
        state.rollback_tx()
        return replace(
            proposal,
            status=FAILED,
            executed_height=ctx.height,
            outcome=ledger_text("Not executed: %(reason)s", reason=exc.message),
            due_execute_height=0,
        )
    return replace(
        proposal,
        status=EXECUTED,
        executed_height=ctx.height,
        effective_height=ctx.height + 1,
        outcome=outcome,
        due_execute_height=0,
    )


def _carry_out(state: State, ctx: BlockContext, action: str, args: dict) -> str:
    if action == r.PARAM_CHANGE:
        state.put(Param(args["param"], args["value"]))
        return ledger_text(
            "%(param)s set to %(value)s from block %(height)s.",
            param=args["param"],
            value=args["value"],
            height=ctx.height + 1,
        )
    if action == r.WHEELING_FEE:
        # The Param record, if an earlier change of this block already rewrote the paths.
        changed = state.get(Param.table, "transmission")
        paths = [dict(p) for p in (changed.value if changed else ctx.params.get("transmission", []))]
        path = next((p for p in paths if {p["from"], p["to"]} == {args["from"], args["to"]}), None)
        if path is None:
            raise LedgerError(r.BAD_PROPOSAL, "The transmission path no longer exists.")
        path["wheeling_fee_per_kwh"] = args["value"]
        state.put(Param("transmission", paths))
        path_name = f"{args['from']}-{args['to']}"
        return ledger_text(
            "Wheeling fee %(path)s set to %(value)s units/kWh from block %(height)s.",
            path=path_name,
            value=args["value"],
            height=ctx.height + 1,
        )
    if action == r.MARKET_MODE:
        # The Param record, if an earlier change of this block already rewrote the list.
        changed = state.get(Param.table, r.CALL_AUCTION_ZONES)
        calls = set(changed.value if changed else ctx.params.get(r.CALL_AUCTION_ZONES, []))
        zone, call = args["zone"], args["mode"] == r.CALL_AUCTION
        if (zone in calls) == call:
            raise LedgerError(
                r.BAD_PROPOSAL,
                "%(zone)s already trades by %(mode)s.",
                {"zone": zone, "mode": args["mode"].replace("_", " ")},
            )
        state.put(Param(r.CALL_AUCTION_ZONES, sorted(calls | {zone} if call else calls - {zone})))
        if call:
            return ledger_text(
                "%(zone)s clears each slot by call auction at gate closure from block %(height)s.",
                zone=zone,
                height=ctx.height + 1,
            )
        return ledger_text(
            "%(zone)s matches orders as they arrive from block %(height)s.", zone=zone, height=ctx.height + 1
        )
    if action == r.ISSUER:
        # The Param record, if an earlier change of this block already rewrote the list.
        changed = state.get(Param.table, "issuers")
        issuers = set(changed.value if changed else ctx.params.get("issuers", []))
        key, issuer = args["public_key"], args["issuer"]
        if (key in issuers) == issuer:
            if issuer:
                raise LedgerError(r.BAD_PROPOSAL, "That key is already an issuer.")
            raise LedgerError(r.BAD_PROPOSAL, "That key is not an issuer.")
        state.put(Param("issuers", sorted(issuers | {key} if issuer else issuers - {key})))
        if issuer:
            return ledger_text(
                "%(key)s… may now mint and burn tokens from block %(height)s.",
                key=key[:12],
                height=ctx.height + 1,
            )
        return ledger_text(
            "%(key)s… may no longer mint or burn tokens from block %(height)s.",
            key=key[:12],
            height=ctx.height + 1,
        )
    if action == r.TEXT:
        return ledger_text("Signalling only: nothing to change on chain.")
    from .validators import set_validator  # one place that keeps the validator set sane

    key = args["public_key"]
    current = state.get(Validator.table, key)
    if action == r.VALIDATOR_ADD:
        base = current or Validator(key, args["name"], args["url"], args["region"], args["authority"], False)
        updated = replace(
            base,
            name=args["name"],
            url=args["url"],
            region=args["region"],
            authority=args["authority"],
            active=True,
        )
    elif action == r.VALIDATOR_REMOVE:
        updated = replace(current, active=False)
    else:
        updated = replace(current, authority=args["authority"])
    set_validator(state, ctx, updated)
    name, height = updated.name, ctx.height + 1
    if action == r.VALIDATOR_ADD:
        return ledger_text(
            "Validator %(name)s added as an active validator from block %(height)s.", name=name, height=height
        )
    if action == r.VALIDATOR_REMOVE:
        return ledger_text(
            "Validator %(name)s removed from the active set from block %(height)s.", name=name, height=height
        )
    if args["authority"]:
        return ledger_text(
            "Validator %(name)s made an authority from block %(height)s.", name=name, height=height
        )
    return ledger_text(
        "Validator %(name)s no longer an authority from block %(height)s.", name=name, height=height
    )


#: Counter holding the time (Unix ms) of the last block made while a proposal was open or waiting.
CLOCK = "clock"


def _pending(lookup) -> bool:
    """Some proposal is open or waits for execution (``lookup`` is a store's or a state's scan)."""
    return bool(
        lookup(Proposal.table, "open_end_height", 1, MAX_SAFE_INTEGER)
        or lookup(Proposal.table, "due_execute_height", 1, MAX_SAFE_INTEGER)
    )


def governance_block_start(state: State, ctx: BlockContext) -> None:
    """Tally proposals whose voting ended before this block, then execute those due now.

    While anything is open or waiting, the hook also sets the ``clock`` counter to
    this block's time: ``governance_due`` paces the blocks it asks for by it. Two
    index reads per block; everything else happens only at a proposal's heights.
    """
    open_ = state.scan(Proposal.table, "open_end_height", 1, MAX_SAFE_INTEGER)
    waiting = state.scan(Proposal.table, "due_execute_height", 1, MAX_SAFE_INTEGER)
    if not open_ and not waiting:
        return
    state.put(Counter(CLOCK, ctx.timestamp_ms))
    state.commit_tx()
    due = [p for p in waiting if p.due_execute_height <= ctx.height]
    for proposal in open_:  # by key: every site in the same order
        if proposal.open_end_height >= ctx.height:
            continue
        decided = tally(state, proposal, ctx.height)
        state.put(decided)
        state.commit_tx()
        ctx.emit(
            "governance_tallied",
            proposal_id=decided.proposal_id,
            number=decided.number,
            status=decided.status,
            outcome=decided.outcome,
        )
        if decided.status == PASSED and decided.due_execute_height <= ctx.height:
            due.append(decided)
    for proposal in sorted(due, key=lambda p: p.proposal_id):
        done = execute(state, ctx, proposal)
        state.put(done)
        state.commit_tx()
        ctx.emit(
            "governance_executed",
            proposal_id=done.proposal_id,
            number=done.number,
            status=done.status,
            outcome=done.outcome,
        )


def governance_due_from(store, params: dict) -> int | None:
    """A block is wanted once per block interval while a proposal is open or waits for execution.

    Voting periods and delays count in blocks, so they must pass even when nobody
    trades; the clock keeps those blocks at the chain's pace instead of back to back.
    """
    if not _pending(store.scan):
        return None
    clock = store.load(Counter.table, [CLOCK]).get(CLOCK)
    return 0 if clock is None else clock.value + params.get("block_interval_ms", 1000)


TALLY_AND_EXECUTE = BeginBlockHook(
    "governance.tally_and_execute", governance_block_start, due_from=governance_due_from
)
