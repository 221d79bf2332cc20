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
from .state import Account, Mining, State, Validator

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


#: The most a region's draw weight is raised or cut by its share of past proposals.
REGION_FACTOR_MIN_PPM = PPM // 4
REGION_FACTOR_MAX_PPM = 2 * PPM


def proposer_weights(
    validators: list[Validator],
    accounts: dict[str, Account],
    params: dict,
    not_mining: frozenset[str] = frozenset(),
) -> dict[str, int]:
    """Stake times reputation, spread over regions; never below 1 (a validator whose reputation
    fell to 0 is never starved).

    Only validators that mine are drawn: those in ``not_mining`` (chain.ledger.state.Mining)
    vote but do not propose. Should no active validator mine (those that do were jailed or
    deactivated since), every active validator is drawn again: a chain never stops for want
    of a proposer.

    Spread over regions (SPEC 6): each region of active validators is due the share of the
    blocks its validators' stake-times-reputation weighs. A region that proposed more than that
    (say, the last heights) weighs less, one that proposed fewer more: its validators' weights
    are multiplied by 1 + (blocks due - blocks proposed), counted in blocks over the active
    validators' ``blocks_proposed``, kept between REGION_FACTOR_MIN_PPM and _MAX_PPM. Integer
    arithmetic on the state every site holds, so every site draws the same proposer.

    The spread is the chain's parameter ``proposer_region_spread`` (1 in the demo genesis): a
    chain whose genesis predates it keeps the draw its blocks were made with.
    """
    power = voting_power(validators, accounts)
    miners = {k: p for k, p in power.items() if k not in not_mining}
    if miners:
        power = miners
    by_key = {v.public_key: v for v in validators}
    base = {k: max(1, p * by_key[k].reputation_ppm // PPM) for k, p in power.items()}
    if not params.get("proposer_region_spread"):
        return base
    region_weight: dict[str, int] = {}
    region_proposed: dict[str, int] = {}
    for key, weight in base.items():
        region = by_key[key].region
        region_weight[region] = region_weight.get(region, 0) + weight
        region_proposed[region] = region_proposed.get(region, 0) + by_key[key].blocks_proposed
    total_weight, total_proposed = sum(region_weight.values()), sum(region_proposed.values())
    factor = {}
    for region, weight in region_weight.items():
        # (blocks due - blocks proposed) in millionths of a block: P * W_r / W - P_r.
        deficit_ppm = (total_proposed * weight * PPM) // total_weight - region_proposed[region] * PPM
        factor[region] = min(REGION_FACTOR_MAX_PPM, max(REGION_FACTOR_MIN_PPM, PPM + deficit_ppm))
    return {k: max(1, w * factor[by_key[k].region] // PPM) for k, w in base.items()}


def validator_records(state: State) -> tuple[list[Validator], dict[str, Account]]:
    """Every validator record and its account, sorted by key, as this block sees them."""
    validators = state.scan_all(Validator.table)
    state.prefetch(Account.table, [v.public_key for v in validators])  # one read, not one each
    accounts = {v.public_key: state.account(v.public_key) for v in validators}
    return validators, accounts


def not_mining(state: State) -> frozenset[str]:
    """The validators that turned mining off, as this block sees them."""
    return frozenset(m.public_key for m in state.scan_all(Mining.table) if not m.mining)


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
    weights = proposer_weights(validators, accounts, params, not_mining(state))
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
