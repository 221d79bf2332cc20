"""The call auction: a zone's slot clears once at gate closure, at one price, against a reference."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.ledger.genesis import load_genesis
from governance.ledger import rules as gr
from tests.conftest import GENESIS_PATH
from tests.governance.harness import make_chain
from tests.trading.harness import SLOT, MemoryChain, address, buy, check_invariants, sell
from trading.ledger import rules as r
from trading.ledger.auction import uniform_clearing
from trading.ledger.records import FILLED, GATE_CLOSED, OPEN, Order

GENESIS = load_genesis(GENESIS_PATH)
CALLS = {**GENESIS.params, r.CALL_AUCTION_ZONES: ["bangkok"]}
GATE_MS = GENESIS.params["gate_closure_minutes"] * 60_000


@pytest.fixture
def chain():
    return MemoryChain(GENESIS, CALLS)


def totals(chain: MemoryChain) -> tuple[int, int]:
    accounts = chain.store.tables["account"].values()
    return sum(a.total_tokens for a in accounts), sum(a.energy_wh + a.escrow_wh for a in accounts)


def at_gate(chain: MemoryChain):
    """The first block at the slot's gate closure: the call clears, the gate closes the rest."""
    return chain.block([], timestamp_ms=SLOT - GATE_MS)


# --- the rule, against a reference -------------------------------------------------------


def order(number: int, side: str, price: int, wh: int, owner: str = "") -> Order:
    return Order(
        f"{number:064x}", owner or f"{number:064x}", side, "bangkok", SLOT, price, wh, wh,
        "solar" if side == r.SELL else "", "any" if side == r.BUY else "", "", 0, 0, OPEN,
        1, number, 0, 0, 0, SLOT, 0,
    )  # fmt: skip


def reference_volume(bids: list[Order], asks: list[Order]) -> int:
    """The most that trades at one price: the best over every order's price of min(demand, supply)."""
    prices = {o.price_per_kwh for o in bids + asks}
    return max(
        (
            min(
                sum(b.remaining_wh for b in bids if b.price_per_kwh >= p),
                sum(a.remaining_wh for a in asks if a.price_per_kwh <= p),
            )
            for p in prices
        ),
        default=0,
    )


books = st.lists(
    st.tuples(st.sampled_from([r.BUY, r.SELL]), st.integers(1, 12), st.integers(1, 5_000)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(books)
def test_the_call_trades_the_most_any_one_price_can_and_its_price_leaves_no_order_out_that_would_trade(book):
    orders = [order(i, side, price * 100_000, wh) for i, (side, price, wh) in enumerate(book)]
    bids = [o for o in orders if o.side == r.BUY]
    asks = [o for o in orders if o.side == r.SELL]
    clearing = uniform_clearing(bids, asks)
    price = clearing.price_per_kwh
    assert clearing.matched_wh == reference_volume(bids, asks)
    filled: dict[str, int] = {}
    for bid, ask, wh in clearing.fills:
        assert wh > 0 and bid.price_per_kwh >= price >= ask.price_per_kwh
        filled[bid.order_id] = filled.get(bid.order_id, 0) + wh
        filled[ask.order_id] = filled.get(ask.order_id, 0) + wh
    assert sum(wh for _, _, wh in clearing.fills) == clearing.matched_wh
    for o in orders:
        assert filled.get(o.order_id, 0) <= o.remaining_wh
        left_out = filled.get(o.order_id, 0) < o.remaining_wh
        if clearing.matched_wh and left_out:  # in part or whole: it would not trade at the price
            assert o.price_per_kwh <= price if o.side == r.BUY else o.price_per_kwh >= price
    if clearing.matched_wh:
        assert min(a.price_per_kwh for a in asks) <= price <= max(b.price_per_kwh for b in bids)
    else:
        assert price == 0 and clearing.fills == []


def test_the_price_is_the_midpoint_of_the_range_that_clears():
    """One bid at 5, one ask at 3, both whole: any price from 3 to 5 clears; the call takes 4."""
    clearing = uniform_clearing([order(1, r.BUY, 5_000_000, 10)], [order(2, r.SELL, 3_000_000, 10)])
    assert (clearing.price_per_kwh, clearing.matched_wh) == (4_000_000, 10)
    # The bid left in part sets the price: demand is left over at 5.
    clearing = uniform_clearing([order(1, r.BUY, 5_000_000, 20)], [order(2, r.SELL, 3_000_000, 10)])
    assert clearing.price_per_kwh == 5_000_000


def test_an_accounts_own_bid_and_ask_that_meet_trade_nothing():
    """They count toward the price (the curves do not care who), but no trade pairs them."""
    me, other, third = "a" * 64, "b" * 64, "c" * 64
    bids = [order(1, r.BUY, 6_000_000, 10, me), order(3, r.BUY, 5_000_000, 10, other)]
    asks = [order(2, r.SELL, 3_000_000, 10, me), order(4, r.SELL, 4_000_000, 10, third)]
    clearing = uniform_clearing(bids, asks)
    assert clearing.fills == [(bids[1], asks[1], 10)]
    assert (clearing.matched_wh, clearing.price_per_kwh) == (20, 4_500_000)


# --- in the ledger -----------------------------------------------------------------------


def test_orders_in_a_call_wait_then_clear_at_gate_closure_at_one_price(chain):
    supply, energy = totals(chain)
    asks = [
        chain.tx("solar_somchai", "order_place", sell(kwh=10, price=3_000_000)),
        chain.tx("hydro_nan", "order_place", sell(kwh=10, price=3_600_000)),
    ]
    bids = [
        chain.tx("home_malee", "order_place", buy(kwh=12, price=4_000_000)),
        chain.tx("factory_rayong", "order_place", buy(kwh=20, price=3_400_000)),
    ]
    result = chain.block(asks + bids)
    assert all(receipt.ok for receipt in result.receipts)
    assert chain.trades() == []  # crossing orders wait for the call
    assert all(o.status == OPEN for o in chain.orders())

    result = at_gate(chain)
    # Walk: malee 12 @4.0 meets somchai 10 @3.0, then nan's 2 @3.6; rayong's 3.4 < 3.6 stops it.
    # The price: from max(3.6 last ask, 3.4 next bid) to min(4.0 last bid, 3.6 next ask): 3.6.
    trades = chain.trades()
    assert [(t.seller, t.buyer, t.energy_wh, t.price_per_kwh, t.taker_side) for t in trades] == [
        (address("solar_somchai"), address("home_malee"), 10_000, 3_600_000, "call"),
        (address("hydro_nan"), address("home_malee"), 2_000, 3_600_000, "call"),
    ]
    assert all(
        t.paid_tokens == t.energy_wh * 3_600_000 // 1000 and t.wheeling_fee_tokens == 0 for t in trades
    )
    [clearing] = chain.store.tables["call_clearing"].values()
    assert (clearing.zone, clearing.price_per_kwh, clearing.volume_wh, clearing.fills) == (
        "bangkok",
        3_600_000,
        12_000,
        2,
    )
    assert (clearing.bids, clearing.asks, clearing.bid_wh, clearing.ask_wh) == (2, 2, 32_000, 20_000)
    [event] = [e for e in result.events if e["type"] == "call_cleared"]
    assert (event["price_per_kwh"], event["volume_wh"]) == (3_600_000, 12_000)

    statuses = {chain.order(tx.hash).owner: chain.order(tx.hash).status for tx in asks + bids}
    assert statuses[address("home_malee")] == statuses[address("solar_somchai")] == FILLED
    assert statuses[address("hydro_nan")] == statuses[address("factory_rayong")] == GATE_CLOSED
    malee = chain.account("home_malee")
    assert malee.escrow_tokens == 0 and malee.escrow_wh == 12_000  # paid, energy awaits settlement
    rayong = chain.account("factory_rayong")
    assert rayong.escrow_tokens == 0 and rayong.escrow_wh == 0  # nothing traded: all back
    check_invariants(chain, supply, energy)


def test_a_call_needs_no_block_of_its_own_and_clears_once(chain):
    chain.block([chain.tx("solar_somchai", "order_place", sell(kwh=1, price=3_000_000))])
    at_gate(chain)
    chain.block([], timestamp_ms=SLOT - GATE_MS + 1000)
    assert len(chain.store.tables["call_clearing"]) == 1
    assert chain.trades() == []


@pytest.mark.parametrize(
    "payload",
    [
        buy(kwh=1, counterparty=address("solar_somchai")),
        buy(kwh=1, sources=["solar"]),
        sell(kwh=1, counterparty=address("factory_rayong")),
    ],
)
def test_a_named_deal_or_a_source_choice_cannot_join_a_call(chain, payload):
    before = chain.snapshot()
    result = chain.block([chain.tx("home_malee", "order_place", payload)])
    assert [(x.ok, x.code) for x in result.receipts] == [(False, r.NOT_IN_CALL)]
    assert chain.snapshot()[1:] == before[1:]


def test_a_buy_that_lists_every_source_takes_any_and_joins(chain):
    result = chain.block([chain.tx("home_malee", "order_place", buy(kwh=1, sources=list(r.SOURCES)))])
    assert result.receipts[0].ok


def test_a_continuous_zone_does_not_reach_into_a_call(chain):
    chain.block([chain.tx("solar_somchai", "order_place", sell(zone="bangkok", kwh=10, price=1_000_000))])
    chain.block([chain.tx("wind_korat", "order_place", buy(zone="northeast", kwh=10, price=9_000_000))])
    assert chain.trades() == []


def test_a_governance_vote_turns_a_zone_into_a_call_and_back():
    chain = make_chain(GENESIS)
    chain.stake("solar_somchai", 2000)

    def decide(mode: str) -> str:
        payload = {"title": f"{mode} in the east", "action": gr.MARKET_MODE, "zone": "east", "mode": mode}
        chain.block([chain.tx("solar_somchai", "governance_propose", payload)])
        proposal = chain.proposals()[-1]
        chain.block(
            [chain.tx("EGAT", "governance_vote", {"proposal_id": proposal.proposal_id, "option": "yes"})]
        )
        for _ in range(4):
            chain.block([])
        return chain.store.tables["gov_proposal"][proposal.proposal_id].outcome

    assert "east clears each slot by call auction" in decide(gr.CALL_AUCTION)
    assert chain.params[r.CALL_AUCTION_ZONES] == ["east"]
    assert r.rules_of(chain.params).call_auction_zones == {"east"}
    again = chain.block([chain.tx("solar_somchai", "governance_propose", {
        "title": "again", "action": gr.MARKET_MODE, "zone": "east", "mode": gr.CALL_AUCTION,
    })])  # fmt: skip
    assert [(x.ok, x.code) for x in again.receipts] == [(False, gr.BAD_PROPOSAL)]
    assert "east matches orders as they arrive" in decide(gr.CONTINUOUS)
    assert chain.params[r.CALL_AUCTION_ZONES] == []


def test_a_zone_that_becomes_a_call_takes_its_resting_orders_into_it():
    """Orders resting in the book when the zone turns to a call are cleared by it."""
    continuous = MemoryChain(GENESIS, GENESIS.params)
    continuous.block([continuous.tx("solar_somchai", "order_place", sell(kwh=5, price=3_000_000))])
    continuous.block([continuous.tx("home_malee", "order_place", buy(kwh=5, price=2_000_000))])
    continuous.params = CALLS
    continuous.block([continuous.tx("factory_rayong", "order_place", buy(kwh=5, price=3_500_000))])
    assert continuous.trades() == []  # the new bid waits in the call instead of taking the ask
    at_gate(continuous)
    # rayong's 3.5 meets the ask at 3.0; malee's 2.0 is the first bid left out: 3.0 to 3.5 clears.
    [trade] = continuous.trades()
    assert (trade.buyer, trade.price_per_kwh) == (address("factory_rayong"), 3_250_000)


def test_a_call_with_one_side_only_records_a_price_of_zero(chain):
    chain.block([chain.tx("home_malee", "order_place", buy(kwh=1))])
    at_gate(chain)
    [clearing] = chain.store.tables["call_clearing"].values()
    assert (clearing.price_per_kwh, clearing.volume_wh, clearing.bids, clearing.asks) == (0, 0, 1, 0)


def test_a_call_takes_at_most_max_call_orders_and_a_cancel_frees_no_place():
    chain = MemoryChain(GENESIS, {**CALLS, "max_call_orders": 2})
    first = chain.tx("solar_somchai", "order_place", sell(kwh=1))
    chain.block([first, chain.tx("home_malee", "order_place", buy(kwh=1))])
    chain.block([chain.tx("solar_somchai", "order_cancel", {"order_id": first.hash})])
    before = chain.snapshot()
    result = chain.block([chain.tx("factory_rayong", "order_place", buy(kwh=1))])
    assert [(x.ok, x.code) for x in result.receipts] == [(False, r.CALL_FULL)]
    assert chain.snapshot()[1:] == before[1:]
    # Another slot's call, and a continuous zone, are not full.
    other_slot = chain.tx("factory_rayong", "order_place", buy(kwh=1, slot=SLOT + 900_000))
    east = chain.tx("factory_rayong", "order_place", buy(kwh=1, zone="east"))
    assert all(x.ok for x in chain.block([other_slot, east]).receipts)
