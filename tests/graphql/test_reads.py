"""GraphQL answers what the REST API answers, for the same objects: same selectors, same values.

BigInts are the REST integers as decimal strings; times are the same instants.
"""

import pytest

from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from governance import services as governance
from tests.graphql.conftest import assert_same_as_rest, data
from tests.trading.harness import buy, sell
from trading import selectors as market
from trading.services import order_place

pytestmark = pytest.mark.django_db

BLOCK_FIELDS = """height hash previousHash timestampMs timestamp merkleRoot stateRoot resultStateRoot
    proposer round difficulty nonce txCount energy validatorsHash commitCertificate"""
TX_FIELDS = """hash blockHeight position sender nonce kind payload signature ok errorCode errorMessage
    receivedAt"""
ACCOUNT_FIELDS = """address balance staked unbonding unbondingReleaseHeight escrowTokens energyWh
    escrowWh nonce pendingCount pendingTokenDebit nextNonce availableBalance"""
ORDER_FIELDS = """orderId owner side zone deliverySlotMs pricePerKwh energyWh remainingWh source accepts
    maxFeePerKwh escrowTokens status placedHeight seq placedMs expiresMs closedHeight openSlotMs
    openExpiresMs"""
TRADE_FIELDS = """tradeId height seq timestampMs deliverySlotMs buyOrderId sellOrderId buyer seller takerSide
    buyerZone sellerZone source energyWh pricePerKwh paidTokens wheelingFeeTokens carbonG unsettledSlotMs
    deliveredWh refundTokens deliveredCarbonG settledHeight"""
TALLY_FIELDS = """yesStake noStake abstainStake yesVotePpm noVotePpm abstainVotePpm votedStake totalStake
    voters turnoutPpm yesSharePpm quorumPpm thresholdPpm quorumReached passing"""
PROPOSAL_FIELDS = f"""proposalId number proposer title description action actionArgs createdHeight
    votingEndHeight executeHeight quorumPpm thresholdPpm status yesStake noStake abstainStake totalStake
    voters talliedHeight executedHeight effectiveHeight outcome tally {{ {TALLY_FIELDS} }}"""


def transfer(users, sender: str, to: str, amount: int):
    return transaction_sign_submit(
        key=wallet_key_open(users[sender].wallet),
        kind="transfer",
        payload={"to": users[to].wallet.address, "amount": amount},
    )


@pytest.fixture
def ledger(users, produce):
    """Two blocks of transfers, and one transfer still waiting in the mempool."""
    transfer(users, "home_malee", "solar_somchai", 1_500_000)
    transfer(users, "factory_rayong", "home_malee", 7)
    produce()
    transfer(users, "home_malee", "wind_korat", 2)
    produce()
    return transfer(users, "home_malee", "solar_somchai", 3)


def test_blocks_and_their_transactions_are_the_rest_api_s(anonymous, ledger):
    found = data(
        anonymous, f"{{ blocks(limit: 5) {{ {BLOCK_FIELDS} txHashes transactions {{ {TX_FIELDS} }} }} }}"
    )
    assert [b["height"] for b in found["blocks"]] == ["2", "1"]
    for block in found["blocks"]:
        rest = anonymous.get(f"/api/v1/blocks/{block['height']}/?include=transactions").json()
        assert_same_as_rest(block, rest)
    rest_list = anonymous.get("/api/v1/blocks/?limit=5").json()["results"]
    assert_same_as_rest(
        [{k: b[k] for k in ("height", "hash", "timestamp")} for b in found["blocks"]], rest_list
    )
    by_hash = data(anonymous, f'{{ block(hash: "{rest_list[1]["hash"]}") {{ height }} }}')
    assert by_hash["block"] == {"height": "1"}


def test_a_transaction_s_status_is_the_rest_api_s(anonymous, ledger):
    committed = anonymous.get("/api/v1/blocks/1/").json()["tx_hashes"][0]
    query = """query($hash: String!) { transaction(hash: $hash) { hash status sender nonce kind payload
        signature receivedAt block { height hash } position ok error { code message } } }"""
    for tx_hash in (committed, ledger.hash):
        found = data(anonymous, query, {"hash": tx_hash})["transaction"]
        assert_same_as_rest(found, anonymous.get(f"/api/v1/transactions/{tx_hash}/").json())
    assert data(anonymous, query, {"hash": "0" * 64})["transaction"] is None


def test_an_account_and_its_history_are_the_rest_api_s(anonymous, users, ledger):
    malee = users["home_malee"].wallet.address
    found = data(
        anonymous,
        f'{{ account(address: "{malee}") {{ {ACCOUNT_FIELDS} }} '
        f'accountTransactions(address: "{malee}", limit: 10) {{ {TX_FIELDS} }} }}',
    )
    account = anonymous.get(f"/api/v1/accounts/{malee}/").json()
    assert_same_as_rest(found["account"], account)
    assert account["pending_count"] == 1  # the waiting transfer counts in both
    history = anonymous.get(f"/api/v1/accounts/{malee}/transactions/?limit=10").json()["results"]
    assert len(history) == 3
    assert_same_as_rest(found["accountTransactions"], history)


def test_me_is_the_rest_api_s(login_as, ledger):
    client = login_as("home_malee")
    found = data(client, f"{{ me {{ username address role region account {{ {ACCOUNT_FIELDS} }} }} }}")
    assert_same_as_rest(found["me"], client.get("/api/v1/me/").json())


@pytest.fixture
def market_day(users, produce):
    slot = market.slots_open(count=2)[1]
    order_place(wallet=users["solar_somchai"].wallet, **sell(slot, kwh=2))
    order_place(wallet=users["home_malee"].wallet, **buy(slot, kwh=1))
    order_place(wallet=users["wind_korat"].wallet, **sell(slot, kwh=3, price=3_900_000, source="wind"))
    produce()
    return slot


def test_the_market_is_the_rest_api_s(anonymous, users, market_day):
    slot, malee = market_day, users["home_malee"].wallet.address
    found = data(
        anonymous,
        f"""query($slot: BigInt!, $account: String!) {{
            orders(account: $account) {{ {ORDER_FIELDS} }}
            trades(slotMs: $slot, zone: "bangkok") {{ {TRADE_FIELDS} }}
            orderBook(slotMs: $slot, zone: "bangkok", levels: 5) {{ slotMs zone
                bids {{ pricePerKwh energyWh orders }} asks {{ pricePerKwh energyWh orders }} }}
            marketOverview {{ slots {{ slotMs bidWh bidOrders askWh askOrders tradedWh trades lastPricePerKwh }}
                zones {{ zone lastPricePerKwh lastTradeHeight }} }}
            prices(slotMs: $slot) {{ timestampMs pricePerKwh energyWh }}
        }}""",
        {"slot": str(slot), "account": malee},
    )
    assert len(found["trades"]) == 1 and found["orderBook"]["asks"]
    rest = f"/api/v1/market/%s/?slot={slot}"
    assert_same_as_rest(found["orders"], anonymous.get(f"/api/v1/market/orders/?account={malee}").json())
    assert_same_as_rest(found["trades"], anonymous.get(rest % "trades" + "&zone=bangkok").json())
    assert_same_as_rest(found["orderBook"], anonymous.get(rest % "book" + "&zone=bangkok&levels=5").json())
    assert_same_as_rest(found["marketOverview"], anonymous.get("/api/v1/market/").json())
    assert_same_as_rest(found["prices"], anonymous.get(rest % "prices").json())
    order_id = found["orders"][0]["orderId"]
    one = data(anonymous, f'{{ order(orderId: "{order_id}") {{ {ORDER_FIELDS} }} }}')["order"]
    assert_same_as_rest(one, anonymous.get(f"/api/v1/market/orders/{order_id}/").json())


def test_the_grid_is_the_rest_api_s(anonymous, market_day):
    found = data(
        anonymous,
        """{ regions { id name utility status { timeMs height reporter frequencyMhz voltagePermille loadKw
                generationKw renewablePpm carbonGPerKwh } }
            gridAlarm { active }
            transmissionPaths { pathId zoneFrom zoneTo nominalCapacityMw capacityMw wheelingFeePerKwh slotMs
                usedWh capacityWh usedPpm flowKw flowPpm congested limited paused limit { reason } }
            regionHistory(region: "bangkok", resolutionS: 60) { bucketMs frequencyMhz } }""",
    )
    rest = anonymous.get("/api/v1/grid/regions/").json()
    assert_same_as_rest(found["regions"], rest["regions"])
    assert found["gridAlarm"] is None and rest["alarm"] is None
    slot = found["transmissionPaths"][0]["slotMs"]
    assert_same_as_rest(found["transmissionPaths"], anonymous.get(f"/api/v1/grid/paths/?slot={slot}").json())
    history = anonymous.get("/api/v1/grid/regions/bangkok/history/").json()
    assert_same_as_rest(found["regionHistory"], history["samples"])


def test_proposals_and_votes_are_the_rest_api_s(anonymous, users, open_proposal, tick):
    governance.vote_cast(
        wallet=users["solar_somchai"].wallet, proposal_id=open_proposal.proposal_id, option="yes"
    )
    tick()
    found = data(
        anonymous,
        f"""{{ proposals {{ {PROPOSAL_FIELDS} }} proposal(number: 1) {{ number tally {{ {TALLY_FIELDS} }} }}
            votes(proposalNumber: 1) {{ proposalId proposalNumber voter option height changes }} }}""",
    )
    assert found["proposals"][0]["tally"]["voters"] == 1
    assert_same_as_rest(found["proposals"], anonymous.get("/api/v1/governance/proposals/").json())
    assert_same_as_rest(found["proposal"], anonymous.get("/api/v1/governance/proposals/1/").json())
    assert_same_as_rest(found["votes"], anonymous.get("/api/v1/governance/proposals/1/votes/").json())
