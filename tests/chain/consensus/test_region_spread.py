"""The proposer draw spreads over regions (SPEC 6): a region that proposed more than its stake's
share weighs less, deterministically, from the validator records every site holds."""

from dataclasses import replace

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.state import Account, Validator
from chain.ledger.validators import proposer_for, proposer_weights

#: Two regions with one validator each and Bangkok with two, all of equal stake: Bangkok is due
#: half of the blocks, the North and Central a quarter each.
REGIONS = {"EGAT": "north", "MEA": "bangkok", "PEA": "central", "SIAM_TRADERS": "bangkok"}
HEIGHTS = 600
SPREAD = {"proposer_region_spread": 1}


def network() -> tuple[dict[str, Validator], dict[str, Account]]:
    validators, accounts = {}, {}
    for name, region in REGIONS.items():
        key = address_of(demo_key(name))
        validators[key] = Validator(key, name, "", region, True, True)
        accounts[key] = Account(key, staked=3 * 10**12)
    return validators, accounts


def run(heights: int, *, count_proposals: bool = True) -> list[str]:
    """The proposers of ``heights`` heights decided in round 0, each counted in its record."""
    validators, accounts = network()
    proposers = []
    for height in range(heights):
        weights = proposer_weights(sorted(validators.values(), key=lambda v: v.public_key), accounts, SPREAD)
        key = proposer_for(weights, f"{height:064x}", 0)
        proposers.append(key)
        if count_proposals:
            validators[key] = replace(validators[key], blocks_proposed=validators[key].blocks_proposed + 1)
    return proposers


def by_region(proposers: list[str]) -> dict[str, int]:
    validators, _ = network()
    counts = dict.fromkeys(set(REGIONS.values()), 0)
    for key in proposers:
        counts[validators[key].region] += 1
    return counts


def test_each_region_proposes_its_share_within_a_few_blocks():
    counts = by_region(run(HEIGHTS))
    due = {"bangkok": HEIGHTS // 2, "north": HEIGHTS // 4, "central": HEIGHTS // 4}
    assert all(abs(counts[r] - due[r]) <= 3 for r in due), counts
    # The same draws without the spread (nothing counted) stray further from the shares.
    plain = by_region(run(HEIGHTS, count_proposals=False))
    assert max(abs(plain[r] - due[r]) for r in due) > 3, plain


def test_a_region_that_just_proposed_weighs_less_at_the_next_height():
    validators, accounts = network()
    egat = address_of(demo_key("EGAT"))
    before = proposer_weights(list(validators.values()), accounts, SPREAD)
    validators[egat] = replace(validators[egat], blocks_proposed=1)
    after = proposer_weights(list(validators.values()), accounts, SPREAD)
    assert after[egat] < before[egat]
    assert all(after[k] > before[k] for k in after if k != egat)


def test_every_site_draws_the_same_sequence():
    assert run(200) == run(200)


def test_a_chain_without_the_parameter_keeps_the_draw_by_stake_and_reputation():
    validators, accounts = network()
    egat = address_of(demo_key("EGAT"))
    validators[egat] = replace(validators[egat], blocks_proposed=5)
    plain = proposer_weights(list(validators.values()), accounts, {})
    assert len(set(plain.values())) == 1  # equal stakes, full reputation: equal weights
