"""Governance on a site's database, blocks made in-process: life of a proposal, refusals, effects."""

import pytest

from chain.ledger.errors import Refused
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.models import Account, ChainHead, ChainTx, MempoolTx, Param, Validator
from chain.services.admission import transactions_submit
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from governance import selectors, services
from governance.ledger import rules as r
from governance.models import Proposal, ProposalStatus, Vote

from .conftest import TOKEN

pytestmark = pytest.mark.django_db

EGAT = address_of(demo_key("EGAT"))


def produce_to(tick, height: int) -> None:
    """Blocks until the chain is at ``height``, one per call of ``tick``."""
    while ChainHead.objects.get().height < height:
        tick()


def governance_waits() -> bool:
    """Whether governance would ask for a block (far in the future, whatever the interval)."""
    from chain.store import DatabaseStore
    from governance.ledger.proposals import governance_due_from

    return governance_due_from(DatabaseStore(), ChainHead.objects.get().params) is not None


def test_a_proposal_passes_and_executes_at_the_expected_height(open_proposal, users, produce, tick):
    p = open_proposal
    assert (p.created_height, p.voting_end_height, p.execute_height) == (2, 6, 8)
    services.node_vote_cast(proposal_id=p.proposal_id, option="yes")
    services.vote_cast(wallet=users["solar_somchai"].wallet, proposal_id=p.proposal_id, option="no")
    produce_to(tick, 6)
    live = selectors.proposal_tally(proposal=Proposal.objects.get(number=1))
    egat_stake = Account.objects.get(address=EGAT).staked
    assert live["passing"] and live["yes_stake"] == egat_stake and live["no_stake"] == 1500 * TOKEN
    produce_to(tick, 7)
    p = Proposal.objects.get(number=1)
    assert p.status == ProposalStatus.PASSED and p.tallied_height == 7
    assert ChainHead.objects.get().params["gate_closure_minutes"] == 5
    produce_to(tick, 8)
    p = Proposal.objects.get(number=1)
    assert p.status == ProposalStatus.EXECUTED and (p.executed_height, p.effective_height) == (8, 9)
    assert Param.objects.get(name="gate_closure_minutes").value == 10
    assert ChainHead.objects.get().params["gate_closure_minutes"] == 10
    # Nothing is open any more: governance asks for no more empty blocks.
    assert not governance_waits()


def test_an_executed_gate_closure_governs_the_blocks_after_it(gov_chain, users, produce, tick):
    """Gate closure 5 -> 120 minutes: an order the old rule took is closed by the next block's
    sweep, and the same slot is refused from then on."""
    from trading import selectors as market
    from trading.models import Order, OrderStatus
    from trading.services import order_place

    services.proposal_create(
        wallet=users["solar_somchai"].wallet,
        payload={
            "title": "Two-hour gate",
            "action": r.PARAM_CHANGE,
            "param": "gate_closure_minutes",
            "value": 120,
        },
    )
    produce()
    services.node_vote_cast(proposal_id=Proposal.objects.get().proposal_id, option="yes")
    slot = market.slots_open(count=1)[0]  # at most 20 minutes ahead under the 5-minute gate
    order = {
        "side": "buy",
        "energy_wh": 1000,
        "price_per_kwh": 3_000_000,
        "zone": "bangkok",
        "delivery_slot": slot,
        "sources": "any",
    }
    placed = order_place(wallet=users["home_malee"].wallet, **order)
    produce_to(tick, 7)
    assert Order.objects.get(order_id=placed.hash).status == OrderStatus.OPEN
    produce_to(tick, 8)  # executed at the start of block 8
    produce_to(tick, 9)  # the new rule's gate sweep is due at once: the next tick makes block 9
    proposal = Proposal.objects.get()
    assert proposal.status == ProposalStatus.EXECUTED and proposal.effective_height == 9
    closed = Order.objects.get(order_id=placed.hash)
    assert closed.status == OrderStatus.GATE_CLOSED and closed.closed_height == proposal.effective_height
    with pytest.raises(Refused) as refused:
        order_place(wallet=users["home_malee"].wallet, **order)
    assert refused.value.code == "slot_closed"


def test_a_proposal_under_quorum_is_rejected(open_proposal, users, produce, tick):
    services.vote_cast(
        wallet=users["solar_somchai"].wallet, proposal_id=open_proposal.proposal_id, option="yes"
    )
    produce_to(tick, 7)  # tallied at the start of block 7
    p = Proposal.objects.get(number=1)
    assert p.status == ProposalStatus.REJECTED and p.outcome == "Rejected: no quorum."
    assert not Param.objects.filter(name="gate_closure_minutes").exists()
    assert not governance_waits()  # nothing waits for execution: no more empty blocks


def test_a_vote_after_the_period_is_refused_by_the_service_and_by_the_block(
    open_proposal, users, produce, tick
):
    produce_to(tick, 6)
    with pytest.raises(Refused) as refused:
        services.node_vote_cast(proposal_id=open_proposal.proposal_id, option="yes")
    assert refused.value.code == r.VOTING_CLOSED
    # Signed and submitted around the service, the block refuses it all the same.
    key = demo_key("EGAT")
    nonce = ChainTx.objects.filter(sender=EGAT).count()
    tx = sign_transaction(
        key,
        chain_id=ChainHead.objects.get().chain_id,
        nonce=nonce,
        kind="governance_vote",
        payload={"proposal_id": open_proposal.proposal_id, "option": "yes"},
    )
    transactions_submit([tx.to_wire()])
    produce()
    receipt = ChainTx.objects.get(hash=tx.hash)
    assert not receipt.ok and receipt.error_code == r.VOTING_CLOSED
    assert not Vote.objects.exists()


def test_a_vote_changes_until_the_end(open_proposal, users, produce):
    wallet = users["solar_somchai"].wallet
    services.vote_cast(wallet=wallet, proposal_id=open_proposal.proposal_id, option="yes")
    produce()
    services.vote_cast(wallet=wallet, proposal_id=open_proposal.proposal_id, option="abstain")
    produce()
    vote = Vote.objects.get()
    assert (vote.option, vote.changes) == ("abstain", 1)


def test_validator_admin_from_a_non_authority_is_refused_on_chain(chain, users, produce):
    """Signed by a producer's key and submitted through the API path: the block refuses it."""
    key = demo_key("solar_somchai")
    assert address_of(key) == users["solar_somchai"].wallet.address
    tx = sign_transaction(
        key,
        chain_id=chain.chain_id,
        nonce=0,
        kind="validator_set_active",
        payload={"public_key": address_of(demo_key("PEA")), "active": True},
    )
    transactions_submit([tx.to_wire()])
    produce()
    receipt = ChainTx.objects.get(hash=tx.hash)
    assert not receipt.ok and receipt.error_code == "not_permitted"
    assert not Validator.objects.get(name="PEA").active


def test_staff_actions_land_on_chain_and_in_the_audit_trail(chain, produce):
    pea = address_of(demo_key("PEA"))
    services.validator_admin(kind="validator_set_active", payload={"public_key": pea, "active": True})
    produce()
    assert Validator.objects.get(name="PEA").active
    (entry,) = selectors.validator_audit()
    assert (entry.kind, entry.sender, entry.ok) == ("validator_set_active", EGAT, True)
    with pytest.raises(Refused) as refused:
        services.validator_admin(kind="validator_unjail", payload={"public_key": pea})
    assert refused.value.code == "not_jailed"


def test_the_overview_counts_uptime_from_commit_certificates(chain, produce, users):
    for _ in range(3):
        transaction_sign_submit(
            key=wallet_key_open(users["home_malee"].wallet),
            kind="transfer",
            payload={"to": EGAT, "amount": 1},
        )
        produce()
    rows = {row["validator"].name: row for row in selectors.validators_overview()}
    assert rows["EGAT"]["uptime_ppm"] == 1_000_000 and rows["EGAT"]["last_seen_height"] == 3
    assert (
        rows["EGAT"]["is_this_site"]
        and rows["MEA"]["uptime_ppm"] == 0
        and rows["MEA"]["last_seen_height"] is None
    )


@pytest.mark.parametrize(
    ("who", "active", "code"),
    [("EGAT", False, "last_validator"), ("SOLARCO", True, "stake_too_low")],
)
def test_staff_are_told_before_signing_what_the_ledger_would_refuse(chain, produce, who, active, code):
    solarco = address_of(demo_key("SOLARCO"))
    services.validator_admin(
        kind="validator_register",
        payload={
            "public_key": solarco,
            "name": "SOLARCO",
            "url": "https://solarco.example",
            "region": "north",
            "authority": False,
            "active": False,
        },
    )
    produce()
    key = EGAT if who == "EGAT" else solarco
    with pytest.raises(Refused) as refused:
        services.validator_admin(kind="validator_set_active", payload={"public_key": key, "active": active})
    assert refused.value.code == code
    assert not MempoolTx.objects.exists()
