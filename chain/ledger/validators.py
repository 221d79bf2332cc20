"""The validator set as consensus sees it: who is active, who is an authority, voting power,
the proposer rule, penalties.

Deterministic and integer-only, like the rest of the core: every site must
pick the same proposer for (height, round) and apply the same penalties.
``is_active_validator`` and ``is_authority`` are the only definitions of those
two words: the apps' ledgers, the consensus validator set and the site's reads
(chain.selectors.active_validators, chain.selectors.authority_get) all use them.
"""

import hashlib
from dataclasses import replace

from .encoding import canonical_json
from .state import Account, State, Validator

PROPOSER_DOMAIN = b"GRIDTOKENX/PROPOSER/V1\n"
PPM = 1_000_000


def proposer_for(weights: dict[str, int], previous_hash: str, round: int) -> str:
    """A weighted random choice among ``weights`` (key -> weight > 0), seeded by the previous block and round.

    Rounds go in cycles of as many rounds as there are validators, and in a
    cycle each validator proposes once: round ``r``'s draw is among those its
    cycle has not chosen yet. The seed of each draw is
    sha256(domain || canonical_json([previous_hash, r])) as a 256-bit integer;
    the point ``seed mod total`` (the total weight of those still in the
    draw) falls into their weight ranges laid out in key order. Round 0 is
    the draw over every validator, so stake and reputation decide who
    proposes first. Drawing each round independently let one validator that
    is down or Byzantine hold many rounds in a row (eight for one seed of the
    consensus simulation), each round's timeouts longer than the last: a
    height waited 12 s after a partition healed. With cycles, a validator
    proposes at most twice in a row (last of one cycle, first of the next).
    """
    keys = sorted(k for k, w in weights.items() if w > 0)
    if not keys:
        raise ValueError("No validator has any weight.")
    if round < 0:
        raise ValueError("A round is not negative.")
    remaining = keys
    for draw_round in range(round - round % len(keys), round + 1):
        digest = hashlib.sha256(PROPOSER_DOMAIN + canonical_json([previous_hash, draw_round])).digest()
        point = int.from_bytes(digest, "big") % sum(weights[k] for k in remaining)
        for key in remaining:
            point -= weights[key]
            if point < 0:
                chosen = key
                break
        remaining = [k for k in remaining if k != chosen]
    return chosen


def is_active_validator(validator: Validator, account: Account | None) -> bool:
    """Active, not jailed, and holding stake: it votes, may propose, and is in the header's set."""
    return validator.active and not validator.jailed and account is not None and account.staked > 0


def is_authority(validator: Validator | None) -> bool:
    """Whether ``validator`` may act as an authority now: the authority flag, and not jailed.

    The consensus rule decides: a jailed validator has no voting power, so its
    precommit is never the authority precommit a commit certificate needs, and
    jailing suspends its other authority rights with it (signing grid reports,
    registering and revoking meters, administering validators) until another
    authority unjails it. Being inactive does not suspend them: an inactive
    authority (the regulator, ERC, in the demo) votes on nothing but still
    signs grid reports. Validator administration asks for an active authority
    on top (governance.ledger.validators).
    """
    return validator is not None and validator.authority and not validator.jailed


def voting_power(validators: list[Validator], accounts: dict[str, Account]) -> dict[str, int]:
    """Stake of every active validator (``is_active_validator``): what votes weigh."""
    return {
        v.public_key: accounts[v.public_key].staked
        for v in validators
        if is_active_validator(v, accounts.get(v.public_key))
    }


def proposer_weights(validators: list[Validator], accounts: dict[str, Account]) -> dict[str, int]:
    """Stake times reputation; a validator whose reputation fell to 0 still gets weight 1 (never starved)."""
    power = voting_power(validators, accounts)
    by_key = {v.public_key: v for v in validators}
    return {k: max(1, p * by_key[k].reputation_ppm // PPM) for k, p in power.items()}


def validator_records(state: State) -> tuple[list[Validator], dict[str, Account]]:
    """Every validator record and its account, sorted by key, as this block sees them."""
    validators = state.scan_all(Validator.table)
    accounts = {v.public_key: state.account(v.public_key) for v in validators}
    return validators, accounts


def apply_round_penalties(
    state: State, *, proposer: str, round: int, previous_hash: str, params: dict
) -> None:
    """Rounds before the deciding one had proposers that did not get their block through: a miss each.

    A miss costs ``miss_penalty_ppm`` of reputation; ``jail_after_misses``
    consecutive misses jail the validator (it is no longer chosen, nor votes,
    until an authority unjails it). The proposer of the decided round gets its
    block counted, its miss streak reset and ``proposal_reward_ppm`` of
    reputation back (at most 1.0).
    """
    validators, accounts = validator_records(state)
    weights = proposer_weights(validators, accounts)
    if not weights:
        return
    by_key = {v.public_key: v for v in validators}
    penalty = params.get("miss_penalty_ppm", 50_000)
    jail_after = params.get("jail_after_misses", 3)
    for missed_round in range(round):
        key = proposer_for(weights, previous_hash, missed_round)
        if key == proposer:
            continue
        v = by_key[key]
        misses = v.missed_in_row + 1
        by_key[key] = replace(
            v,
            reputation_ppm=max(0, v.reputation_ppm - penalty),
            missed_in_row=misses,
            missed_total=v.missed_total + 1,
            jailed=v.jailed or misses >= jail_after,
        )
    if proposer in by_key:
        v = by_key[proposer]
        by_key[proposer] = replace(
            v,
            missed_in_row=0,
            blocks_proposed=v.blocks_proposed + 1,
            reputation_ppm=min(PPM, v.reputation_ppm + params.get("proposal_reward_ppm", 10_000)),
        )
    for key, record in by_key.items():
        if record != state.get(Validator.table, key):
            state.put(record)
