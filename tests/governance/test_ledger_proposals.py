"""The governance core in memory: proposal life, tally rule, execution height, refusals."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.ledger.genesis import load_genesis
from governance.ledger import rules as r
from governance.ledger.records import EXECUTED, FAILED, OPEN, PASSED, REJECTED
from tests.conftest import GENESIS_PATH
from tests.trading.harness import SLOT, TOKEN, address, sell

from .harness import make_chain


@pytest.fixture(scope="module")
def genesis():
    return load_genesis(GENESIS_PATH)


def param_change(name="gate_closure_minutes", value=10, title="Longer gate closure"):
    return {"title": title, "action": r.PARAM_CHANGE, "param": name, "value": value}


def receipts(result):
    return [(x.ok, x.code) for x in result.receipts]


def test_a_proposal_passes_and_its_param_governs_from_the_block_after_execution(genesis):
    chain = make_chain(genesis)
    chain.stake("solar_somchai", 2000)
    result = chain.block([chain.tx("solar_somchai", "governance_propose", param_change())])
    assert receipts(result) == [(True, "")]
    (proposal,) = chain.proposals()
    assert (proposal.number, proposal.created_height, proposal.voting_end_height) == (1, 1, 4)
    assert proposal.execute_height == 6 and proposal.status == OPEN
    # EGAT holds 5M of the 12.002M staked: with Somchai's 2000, well over the 33.4% quorum.
    chain.block([chain.tx("EGAT", "governance_vote", {"proposal_id": proposal.proposal_id, "option": "yes"})])
    chain.block(
        [chain.tx("solar_somchai", "governance_vote", {"proposal_id": proposal.proposal_id, "option": "no"})]
    )
    chain.block([])  # block 4: the last of the voting period
    assert chain.proposals()[0].status == OPEN
    chain.block([])  # block 5: tallied at its start
    tallied = chain.proposals()[0]
    assert tallied.status == PASSED and tallied.tallied_height == 5
    assert tallied.yes_stake == 5_000_000 * TOKEN and tallied.no_stake == 2000 * TOKEN
    assert tallied.total_stake == 12_002_000 * TOKEN and tallied.voters == 2
    assert chain.params["gate_closure_minutes"] == 5
    chain.block([])  # block 6: executed at its start
    done = chain.proposals()[0]
    assert done.status == EXECUTED and (done.executed_height, done.effective_height) == (6, 7)
    assert chain.params["gate_closure_minutes"] == 10
    assert chain.store.tables["param"]["gate_closure_minutes"].value == 10


def test_the_changed_gate_closure_refuses_an_order_the_old_one_took(genesis):
    chain = make_chain(genesis, gate_closure_minutes=5)
    chain.stake("solar_somchai", 2000)
    chain.block([chain.tx("solar_somchai", "governance_propose", param_change(value=60))])
    proposal_id = chain.proposals()[0].proposal_id
    chain.block([chain.tx("EGAT", "governance_vote", {"proposal_id": proposal_id, "option": "yes"})])
    for _ in range(4):
        chain.block([])
    assert chain.proposals()[0].status == EXECUTED
    # 30 minutes before the slot: open under a 5-minute gate, closed under a 60-minute one.
    at = SLOT - 30 * 60_000
    unchanged = make_chain(genesis, gate_closure_minutes=5)
    assert receipts(unchanged.block([unchanged.tx("solar_somchai", "order_place", sell(kwh=1))], at)) == [
        (True, "")
    ]
    result = chain.block([chain.tx("solar_somchai", "order_place", sell(kwh=1))], timestamp_ms=at)
    assert receipts(result) == [(False, "slot_closed")]


def test_a_proposal_under_quorum_is_rejected_and_changes_nothing(genesis):
    chain = make_chain(genesis)
    chain.stake("solar_somchai", 2000)
    chain.block([chain.tx("solar_somchai", "governance_propose", param_change())])
    proposal_id = chain.proposals()[0].proposal_id
    chain.block([chain.tx("solar_somchai", "governance_vote", {"proposal_id": proposal_id, "option": "yes"})])
    for _ in range(6):
        chain.block([])
    proposal = chain.proposals()[0]
    assert proposal.status == REJECTED and proposal.outcome == "Rejected: no quorum."
    assert proposal.yes_stake == 2000 * TOKEN and proposal.executed_height == 0
    assert "gate_closure_minutes" not in chain.store.tables.get("param", {})


def test_a_vote_after_the_period_is_refused(genesis):
    chain = make_chain(genesis)
    chain.stake("solar_somchai", 2000)
    chain.block([chain.tx("solar_somchai", "governance_propose", param_change())])
    proposal = chain.proposals()[0]
    while chain.height < proposal.voting_end_height:
        chain.block([])
    late = chain.block(
        [chain.tx("EGAT", "governance_vote", {"proposal_id": proposal.proposal_id, "option": "yes"})]
    )
    assert receipts(late) == [(False, r.VOTING_CLOSED)]
    assert chain.votes() == []


def test_a_vote_can_change_until_the_end_and_the_last_one_counts(genesis):
    chain = make_chain(genesis)
    chain.stake("solar_somchai", 2000)
    chain.block([chain.tx("solar_somchai", "governance_propose", param_change())])
    proposal_id = chain.proposals()[0].proposal_id
    chain.block([chain.tx("EGAT", "governance_vote", {"proposal_id": proposal_id, "option": "yes"})])
    chain.block([chain.tx("EGAT", "governance_vote", {"proposal_id": proposal_id, "option": "no"})])
    (vote,) = chain.votes()
    assert (vote.option, vote.changes, vote.height) == ("no", 1, 3)
    for _ in range(4):
        chain.block([])
    proposal = chain.proposals()[0]
    assert proposal.status == REJECTED and proposal.no_stake == 5_000_000 * TOKEN and proposal.yes_stake == 0


def test_unstaked_accounts_neither_propose_nor_vote(genesis):
    chain = make_chain(genesis)
    result = chain.block([chain.tx("home_malee", "governance_propose", param_change())])
    assert receipts(result) == [(False, r.NO_STAKE)]
    chain.stake("solar_somchai", 2000)
    chain.block([chain.tx("solar_somchai", "governance_propose", param_change())])
    proposal_id = chain.proposals()[0].proposal_id
    vote = chain.block(
        [chain.tx("home_malee", "governance_vote", {"proposal_id": proposal_id, "option": "yes"})]
    )
    assert receipts(vote) == [(False, r.NO_STAKE)]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"title": "x", "action": "nope"}, r.BAD_PROPOSAL),
        ({"title": "", "action": r.TEXT}, "bad_field"),
        ({"title": "x", "action": r.PARAM_CHANGE, "param": "token_unit", "value": 1}, r.BAD_PROPOSAL),
        ({"title": "x", "action": r.PARAM_CHANGE, "param": "quorum_ppm", "value": 2_000_000}, r.BAD_PROPOSAL),
        (
            {"title": "x", "action": r.PARAM_CHANGE, "param": "gate_closure_minutes", "value": 5},
            r.BAD_PROPOSAL,
        ),
        (
            {"title": "x", "action": r.WHEELING_FEE, "from": "south", "to": "north", "value": 1},
            r.BAD_PROPOSAL,
        ),
        ({"title": "x", "action": r.VALIDATOR_REMOVE, "public_key": "ab" * 32}, r.UNKNOWN_VALIDATOR),
        ({"title": "x", "action": r.TEXT, "extra": 1}, "bad_field"),
    ],
)
def test_bad_proposals_are_refused_with_a_reason(genesis, payload, code):
    chain = make_chain(genesis)
    chain.stake("solar_somchai", 2000)
    result = chain.block([chain.tx("solar_somchai", "governance_propose", payload)])
    assert receipts(result) == [(False, code)]
    assert chain.proposals() == []


def test_a_wheeling_fee_change_rewrites_only_that_path(genesis):
    chain = make_chain(genesis)
    chain.stake("solar_somchai", 2000)
    payload = {
        "title": "Cheaper east link",
        "action": r.WHEELING_FEE,
        "from": "bangkok",
        "to": "east",
        "value": 50_000,
    }
    chain.block([chain.tx("solar_somchai", "governance_propose", payload)])
    chain.block(
        [
            chain.tx(
                "EGAT", "governance_vote", {"proposal_id": chain.proposals()[0].proposal_id, "option": "yes"}
            )
        ]
    )
    for _ in range(4):
        chain.block([])
    fees = {(p["from"], p["to"]): p["wheeling_fee_per_kwh"] for p in chain.params["transmission"]}
    before = {(p["from"], p["to"]): p["wheeling_fee_per_kwh"] for p in genesis.params["transmission"]}
    assert fees == {**before, ("east", "bangkok"): 50_000}


def test_validator_proposals_add_and_change_authority(genesis):
    chain = make_chain(genesis, min_validator_stake=0)
    chain.stake("solar_somchai", 2000)
    mea = address("MEA")
    add = {
        "title": "Bring MEA online",
        "action": r.VALIDATOR_ADD,
        "public_key": mea,
        "name": "MEA",
        "url": "http://127.0.0.1:8001",
        "region": "bangkok",
        "authority": False,
    }
    chain.block([chain.tx("solar_somchai", "governance_propose", add)])
    chain.block(
        [
            chain.tx(
                "EGAT", "governance_vote", {"proposal_id": chain.proposals()[0].proposal_id, "option": "yes"}
            )
        ]
    )
    for _ in range(4):
        chain.block([])
    validator = chain.validator(mea)
    assert chain.proposals()[0].status == EXECUTED and validator.active and not validator.authority
    # Removing EGAT, the only active authority, would stop the chain: execution fails, nothing changes.
    remove = {"title": "Remove EGAT", "action": r.VALIDATOR_REMOVE, "public_key": address("EGAT")}
    chain.block([chain.tx("solar_somchai", "governance_propose", remove)])
    chain.block(
        [
            chain.tx(
                "EGAT", "governance_vote", {"proposal_id": chain.proposals()[1].proposal_id, "option": "yes"}
            )
        ]
    )
    for _ in range(4):
        chain.block([])
    failed = chain.proposals()[1]
    assert failed.status == FAILED and "active authority" in failed.outcome
    assert chain.validator("EGAT").active


@given(
    yes=st.integers(0, 10**12),
    no=st.integers(0, 10**12),
    abstain=st.integers(0, 10**12),
    extra=st.integers(0, 10**12),
    quorum=st.integers(1, 10**6),
    threshold=st.integers(1, 10**6),
)
def test_tally_rule_matches_its_definition(yes, no, abstain, extra, quorum, threshold):
    total = yes + no + abstain + extra
    outcome = r.tally_outcome(
        yes=yes, no=no, abstain=abstain, total=total, quorum_ppm=quorum, threshold_ppm=threshold
    )
    quorate = total > 0 and (yes + no + abstain) * 10**6 >= quorum * total
    if outcome == "passed":
        assert quorate and yes > 0 and yes * 10**6 > threshold * (yes + no)
    elif outcome == "no quorum":
        assert not quorate
    else:
        assert quorate and yes * 10**6 <= threshold * (yes + no)


VOTERS = ("solar_somchai", "home_malee", "wind_korat", "EGAT", "MEA")


@settings(max_examples=25, deadline=None)
@given(
    stakes=st.lists(st.integers(1, 4_000_000), min_size=len(VOTERS), max_size=len(VOTERS)),
    ballots=st.lists(
        st.tuples(st.integers(0, len(VOTERS) - 1), st.sampled_from(["yes", "no", "abstain"])), max_size=12
    ),
)
def test_the_tally_counts_each_voters_last_vote_at_their_stake(genesis, stakes, ballots):
    chain = make_chain(genesis, voting_period_blocks=len(ballots) + 1)
    for name, tokens in zip(VOTERS, stakes, strict=True):
        chain.set_stake(name, tokens)
    chain.stake("bkk_community_solar", 1000)
    chain.block([chain.tx("bkk_community_solar", "governance_propose", {"title": "t", "action": r.TEXT})])
    proposal = chain.proposals()[0]
    last = {}
    for who, option in ballots:  # one vote per block, so later ones replace earlier ones
        vote = {"proposal_id": proposal.proposal_id, "option": option}
        assert receipts(chain.block([chain.tx(VOTERS[who], "governance_vote", vote)])) == [(True, "")]
        last[VOTERS[who]] = option
    while chain.proposals()[0].status == OPEN:
        chain.block([])
    decided = chain.proposals()[0]
    staked = {name: chain.account(name).staked for name in VOTERS}
    expected = {o: sum(staked[n] for n, opt in last.items() if opt == o) for o in ("yes", "no", "abstain")}
    assert (decided.yes_stake, decided.no_stake, decided.abstain_stake) == (
        expected["yes"],
        expected["no"],
        expected["abstain"],
    )
    total = sum(a.staked for a in chain.store.tables["account"].values())
    assert decided.total_stake == total and decided.voters == len(last)
    assert decided.tallied_height == decided.voting_end_height + 1
    passed = (
        r.tally_outcome(
            yes=expected["yes"],
            no=expected["no"],
            abstain=expected["abstain"],
            total=total,
            quorum_ppm=decided.quorum_ppm,
            threshold_ppm=decided.threshold_ppm,
        )
        == "passed"
    )
    assert decided.status in ((PASSED, EXECUTED) if passed else (REJECTED,))


def test_with_a_delay_of_one_block_the_tally_and_the_execution_share_a_block(genesis):
    chain = make_chain(genesis, execution_delay_blocks=1)
    chain.stake("solar_somchai", 2000)
    chain.block(
        [chain.tx("solar_somchai", "governance_propose", param_change(name="pow_difficulty_bits", value=4))]
    )
    proposal_id = chain.proposals()[0].proposal_id
    chain.block([chain.tx("EGAT", "governance_vote", {"proposal_id": proposal_id, "option": "yes"})])
    while chain.proposals()[0].status == OPEN:
        chain.block([])
    done = chain.proposals()[0]
    assert (
        done.status == EXECUTED and done.tallied_height == done.executed_height == done.voting_end_height + 1
    )
    assert chain.params["pow_difficulty_bits"] == 4
