"""A list costs a fixed number of SQL queries, however many rows it has and whatever
each row nests (no N+1): blocks with their transactions, orders, trades, proposals with tallies."""

import pytest

from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from governance import services as governance
from governance.ledger import rules as r
from tests.graphql.conftest import data
from tests.trading.harness import buy, sell
from trading import selectors as market
from trading.services import order_place

pytestmark = pytest.mark.django_db

BLOCKS = "{ blocks(limit: 20) { height txHashes transactions { hash blockHeight payload } } }"


def blocks_of_transfers(users, produce, blocks: int, per_block: int) -> None:
    malee, to = users["home_malee"].wallet, users["solar_somchai"].wallet.address
    for _ in range(blocks):
        for _ in range(per_block):
            transaction_sign_submit(
                key=wallet_key_open(malee), kind="transfer", payload={"to": to, "amount": 1}
            )
        produce()


def test_blocks_with_their_transactions_take_two_queries(
    anonymous, users, produce, django_assert_max_num_queries
):
    blocks_of_transfers(users, produce, blocks=6, per_block=3)
    with django_assert_max_num_queries(2):  # the page of blocks, then every block's transactions
        found = data(anonymous, BLOCKS)["blocks"]
    assert len(found) == 6
    assert sum(len(b["transactions"]) for b in found) == 18
    assert all(b["txHashes"] == [t["hash"] for t in b["transactions"]] for b in found)


def test_orders_and_trades_take_one_query_each(anonymous, users, produce, django_assert_max_num_queries):
    slot = market.slots_open(count=2)[1]
    for _ in range(5):
        order_place(wallet=users["solar_somchai"].wallet, **sell(slot, kwh=1))
        order_place(wallet=users["home_malee"].wallet, **buy(slot, kwh=1))
    produce()
    query = """query($account: String!) { orders(account: $account) { orderId status remainingWh }
        trades { tradeId buyer seller energyWh paidTokens } }"""
    with django_assert_max_num_queries(2):
        found = data(anonymous, query, {"account": users["home_malee"].wallet.address})
    assert len(found["orders"]) == 5 and len(found["trades"]) == 5


def test_proposals_with_their_tallies_take_a_fixed_number_of_queries(
    anonymous, users, gov_chain, tick, django_assert_max_num_queries
):
    for value in (10, 15, 20, 25):
        governance.proposal_create(
            wallet=users["solar_somchai"].wallet,
            payload={
                "title": f"Gate closure {value}",
                "action": r.PARAM_CHANGE,
                "param": "gate_closure_minutes",
                "value": value,
            },
        )
    tick()
    proposals = data(anonymous, "{ proposals { proposalId } }")["proposals"]
    for proposal in proposals:
        governance.vote_cast(
            wallet=users["solar_somchai"].wallet, proposal_id=proposal["proposalId"], option="yes"
        )
    tick()
    # The page of proposals, then for all open ones: their votes, the voters' stakes, all stake.
    with django_assert_max_num_queries(4):
        found = data(anonymous, "{ proposals { number status tally { voters yesStake passing } } }")
    assert len(found["proposals"]) == 4
    assert all(p["status"] == "open" and p["tally"]["voters"] == 1 for p in found["proposals"])
