"""The proposer rule and the penalties every site applies at the start of a block."""

from collections import Counter

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.state import Account, MemoryStore, State, Validator
from chain.ledger.validators import apply_round_penalties, proposer_for, proposer_weights

PARAMS = {"miss_penalty_ppm": 50_000, "proposal_reward_ppm": 10_000, "jail_after_misses": 3}
NAMES = ("EGAT", "MEA", "PEA", "SIAM_TRADERS")


def validators_store(stakes=(3, 3, 3, 2)) -> MemoryStore:
    records = []
    for name, stake in zip(NAMES, stakes, strict=True):
        key = address_of(demo_key(name))
        records.append(Validator(key, name, "", "central", name != "SIAM_TRADERS", True))
        records.append(Account(key, staked=stake * 10**12))
    return MemoryStore.holding(records)


def weights(store: MemoryStore) -> dict[str, int]:
    validators = sorted(store.tables["validator"].values(), key=lambda v: v.public_key)
    return proposer_weights(validators, store.tables["account"], PARAMS)


def test_every_site_picks_the_same_proposer_and_weight_decides_how_often():
    w = weights(validators_store(stakes=(6, 3, 2, 1)))
    picks = Counter(proposer_for(w, f"{h:064x}", 0) for h in range(3000))
    assert proposer_for(w, "ab" * 32, 3) == proposer_for(dict(reversed(list(w.items()))), "ab" * 32, 3)
    by_name = {address_of(demo_key(n)): n for n in NAMES}
    counts = {by_name[k]: c for k, c in picks.items()}
    assert counts["EGAT"] > counts["MEA"] > counts["PEA"] > counts["SIAM_TRADERS"] > 0


def test_a_jailed_or_inactive_validator_is_never_chosen():
    store = validators_store()
    egat = address_of(demo_key("EGAT"))
    store.tables["validator"][egat] = Validator(egat, "EGAT", "", "central", True, True, jailed=True)
    assert egat not in weights(store)
    assert all(proposer_for(weights(store), f"{h:064x}", r) != egat for h in range(200) for r in range(3))


def run_block(store: MemoryStore, *, proposer: str, round: int, previous_hash: str) -> None:
    state = State(store, store.accumulator)
    apply_round_penalties(state, proposer=proposer, round=round, previous_hash=previous_hash, params=PARAMS)
    state.commit_tx()
    store.write(state)


def a_block_where(store: MemoryStore, proposer: str, round: int) -> str:
    """A previous-block hash for which ``proposer`` is chosen in ``round``."""
    return next(
        h for h in (f"{i:064x}" for i in range(10_000)) if proposer_for(weights(store), h, round) == proposer
    )


def test_missed_rounds_cost_reputation_and_three_in_a_row_jail():
    store = validators_store()
    missed, winner = address_of(demo_key("MEA")), address_of(demo_key("EGAT"))

    for _ in range(3):
        previous = a_block_where(store, missed, 0)
        run_block(store, proposer=winner, round=1, previous_hash=previous)

    record = store.tables["validator"][missed]
    assert record.missed_in_row == 3 and record.missed_total == 3
    assert record.reputation_ppm == 1_000_000 - 3 * PARAMS["miss_penalty_ppm"]
    assert record.jailed
    assert store.tables["validator"][winner].blocks_proposed == 3
    assert missed not in weights(store)


def test_a_decided_block_resets_its_proposers_streak_and_restores_reputation():
    store = validators_store()
    missed, other = address_of(demo_key("MEA")), address_of(demo_key("EGAT"))
    run_block(store, proposer=other, round=1, previous_hash=a_block_where(store, missed, 0))

    run_block(store, proposer=missed, round=0, previous_hash="01" * 32)

    record = store.tables["validator"][missed]
    assert record.missed_in_row == 0 and record.missed_total == 1
    assert record.reputation_ppm == 1_000_000 - PARAMS["miss_penalty_ppm"] + PARAMS["proposal_reward_ppm"]
    assert record.blocks_proposed == 1


def test_in_each_cycle_of_rounds_every_validator_proposes_once():
    """Rounds go in cycles of as many rounds as validators: none holds more than two rounds in a row."""
    w = weights(validators_store(stakes=(6, 3, 2, 1)))
    for h in range(300):
        previous = f"{h:064x}"
        proposers = [proposer_for(w, previous, r) for r in range(4 * len(w))]
        for start in range(0, len(proposers), len(w)):
            assert sorted(proposers[start : start + len(w)]) == sorted(w)
        assert all(len(set(proposers[r : r + 3])) > 1 for r in range(len(proposers) - 2))
