"""Settlement after delivery in memory: full, partial and no delivery, allocation order, invariants."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.ledger.delivery import PPM, allocate
from tests.grid.harness import report as grid_report
from tests.meters.harness import SLOT_MS, new_chain, register, report
from tests.trading.harness import SLOT, T0, TOKEN, address, buy, check_invariants, sell

#: The first block time at which SLOT is due for settlement: slot end + 5 minutes' grace.
SETTLE_AT = SLOT + SLOT_MS + 5 * 60_000
BANGKOK_G_PER_KWH = 470


def totals(chain) -> tuple[int, int]:
    accounts = chain.store.tables["account"].values()
    return sum(a.total_tokens for a in accounts), sum(a.energy_wh + a.escrow_wh for a in accounts)


def market(chain, *buys_kwh: int, sell_kwh: int = 100) -> None:
    """solar_somchai rests a sell of ``sell_kwh`` @3.5; home_malee buys each of ``buys_kwh`` @4.0."""
    chain.block([chain.tx("solar_somchai", "order_place", sell(kwh=sell_kwh, price=3_500_000))])
    for kwh in buys_kwh:
        chain.block([chain.tx("home_malee", "order_place", buy(kwh=kwh, price=4_000_000))])


def settlement_record(chain, who):
    return chain.store.tables["settlement_account"][address(who)]


@pytest.fixture
def chain():
    chain = new_chain()
    register(chain, "solar_somchai", rated_capacity_w=400_000, at=T0)  # up to 100 kWh per slot
    return chain


@pytest.mark.parametrize(
    ("export_wh", "delivered_wh", "seller_paid", "refund", "reputation_ppm"),
    [
        (60_000, 50_000, 175 * TOKEN, 0, PPM),  # full delivery (and 10 kWh more than sold)
        (20_000, 20_000, 70 * TOKEN, 105 * TOKEN, 400_000),  # partial: 20 of 50 kWh
        (0, 0, 0, 175 * TOKEN, 0),  # none
    ],
)
def test_a_trade_settles_against_the_sellers_export(
    chain, export_wh, delivered_wh, seller_paid, refund, reputation_ppm
):
    seller0, buyer0 = chain.account("solar_somchai"), chain.account("home_malee")
    supply, energy = totals(chain)
    market(chain, 50)
    [trade] = chain.trades()
    assert trade.paid_tokens == 175 * TOKEN and trade.unsettled_slot_ms == SLOT
    receipt = report(chain, "meter/solar_somchai/0", export_wh=export_wh)
    assert receipt.ok
    assert chain.trades()[0].settled_height == 0  # the grace period has not passed yet
    chain.block([], SETTLE_AT - 1)
    assert chain.trades()[0].settled_height == 0

    result = chain.block([], SETTLE_AT)

    [trade] = chain.trades()
    assert (trade.unsettled_slot_ms, trade.settled_height) == (0, chain.height)
    assert (trade.delivered_wh, trade.refund_tokens) == (delivered_wh, refund)
    assert trade.delivered_carbon_g == delivered_wh * BANGKOK_G_PER_KWH // 1000
    seller, buyer = chain.account("solar_somchai"), chain.account("home_malee")
    minted_units = export_wh * 1_000  # 1 token per kWh
    assert seller.balance == seller0.balance + minted_units + seller_paid
    assert seller.escrow_tokens == 0 and seller.escrow_wh == 0
    # sold 100 kWh, 50 came back at gate closure, the undelivered part comes back now, plus the mint
    assert seller.energy_wh == seller0.energy_wh - 50_000 + (50_000 - delivered_wh) + export_wh
    assert buyer.balance == buyer0.balance - 175 * TOKEN + refund
    assert (buyer.energy_wh, buyer.escrow_wh, buyer.escrow_tokens) == (delivered_wh, 0, 0)
    seller_record, buyer_record = (
        settlement_record(chain, "solar_somchai"),
        settlement_record(chain, "home_malee"),
    )
    assert (seller_record.sold_wh, seller_record.delivered_wh, seller_record.shortfall_wh) == (
        50_000,
        delivered_wh,
        50_000 - delivered_wh,
    )
    assert seller_record.reputation_ppm == reputation_ppm
    assert (buyer_record.bought_wh, buyer_record.received_wh) == (50_000, delivered_wh)
    assert buyer_record.carbon_g == trade.delivered_carbon_g
    assert totals(chain) == (supply + minted_units, energy + export_wh)
    assert [e["type"] for e in result.events] == ["certificate_issued"] * (delivered_wh > 0) + [
        "trade_settled"
    ] + ["certificate_issued"] * (export_wh > delivered_wh)
    check_invariants(chain, supply + minted_units, energy + export_wh)


def test_carbon_credits_follow_the_intensity_the_grid_reported_over_the_slot(chain):
    market(chain, 50)
    for minute, carbon in ((1, 300), (2, 500), (16, 900)):  # minute 16 is the next slot's
        at = SLOT + minute * 60_000
        [receipt] = chain.block(
            [chain.tx("MEA", "grid_report", grid_report(at, ["bangkok"], carbon_g_per_kwh=carbon))], at
        ).receipts
        assert receipt.ok, receipt
    assert report(chain, "meter/solar_somchai/0", at=SETTLE_AT - 60_000, export_wh=50_000).ok
    chain.block([], SETTLE_AT)
    [trade] = chain.trades()
    assert trade.delivered_carbon_g == 50_000 * 400 // 1000 != 50_000 * BANGKOK_G_PER_KWH // 1000
    assert settlement_record(chain, "home_malee").carbon_g == trade.delivered_carbon_g


def test_export_goes_to_the_sellers_trades_in_fill_order(chain):
    market(chain, 30, 40)
    first, second = chain.trades()
    assert report(chain, "meter/solar_somchai/0", export_wh=50_000).ok
    chain.block([], SETTLE_AT)
    by_id = {t.trade_id: t for t in chain.trades()}
    assert by_id[first.trade_id].delivered_wh == 30_000
    assert by_id[second.trade_id].delivered_wh == 20_000
    assert by_id[second.trade_id].refund_tokens == 140 * TOKEN - 70 * TOKEN
    assert settlement_record(chain, "solar_somchai").reputation_ppm == 50_000 * PPM // 70_000


def test_readings_of_another_slot_do_not_count(chain):
    market(chain, 50)
    later = SLOT + SLOT_MS
    assert report(
        chain, "meter/solar_somchai/0", at=later + SLOT_MS, start=later, end=later + SLOT_MS, export_wh=50_000
    ).ok
    chain.block([], SETTLE_AT + SLOT_MS)
    assert chain.trades()[0].delivered_wh == 0


@given(
    buys=st.lists(st.integers(1, 60), min_size=1, max_size=5),
    export_wh=st.integers(0, 100_000),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_settlement_keeps_supply_and_never_goes_negative(buys, export_wh):
    chain = new_chain()
    register(chain, "solar_somchai", rated_capacity_w=400_000, at=T0)
    supply, energy = totals(chain)
    market(chain, *buys, sell_kwh=300)
    check_invariants(chain, supply, energy)
    paid = sum(t.paid_tokens for t in chain.trades())
    assert report(chain, "meter/solar_somchai/0", export_wh=export_wh).ok
    minted = export_wh * 1_000
    check_invariants(chain, supply + minted, energy + export_wh)
    chain.block([], SETTLE_AT)
    check_invariants(chain, supply + minted, energy + export_wh)
    trades = chain.trades()
    assert all(t.settled_height for t in trades)
    traded = sum(t.energy_wh for t in trades)
    assert sum(t.delivered_wh for t in trades) == min(export_wh, traded)
    refunds = sum(t.refund_tokens for t in trades)
    delivered_value = sum(t.delivered_wh * t.price_per_kwh // 1000 for t in trades)
    assert refunds + delivered_value == paid


@given(st.integers(0, 10**6), st.lists(st.integers(1, 10**5), max_size=8))
def test_allocation_is_first_come_and_never_more_than_exported(export_wh, sizes):
    from trading.ledger.records import Trade

    trades = [
        Trade(f"t{i}", 1, i, 0, SLOT, "b", "s", "x", "y", "buy", "z", "z", "solar", wh, 1, 0, 0, 0)
        for i, wh in enumerate(sizes)
    ]
    delivered = allocate(export_wh, list(reversed(trades)))
    assert sum(delivered.values()) == min(export_wh, sum(sizes))
    left = export_wh
    for trade in trades:
        assert delivered[trade.trade_id] == min(left, trade.energy_wh)
        left -= delivered[trade.trade_id]


def test_a_private_deal_settles_against_the_sellers_meter_like_any_trade(chain):
    """Issue 19: a deal with a named counterparty is a trade like any other once filled."""
    supply, energy = totals(chain)
    deal = sell(kwh=50, price=3_500_000, counterparty=address("home_malee"))
    chain.block([chain.tx("solar_somchai", "order_place", deal)])
    chain.block([chain.tx("factory_rayong", "order_place", buy(kwh=50, price=4_000_000))])  # passed over
    chain.block([chain.tx("home_malee", "order_place", buy(kwh=50, price=4_000_000))])
    [trade] = chain.trades()
    assert trade.buyer == address("home_malee") and trade.unsettled_slot_ms == SLOT
    assert report(chain, "meter/solar_somchai/0", export_wh=20_000).ok
    chain.block([], SETTLE_AT)
    [trade] = chain.trades()
    assert (trade.delivered_wh, trade.refund_tokens, trade.unsettled_slot_ms) == (20_000, 105 * TOKEN, 0)
    check_invariants(chain, supply + 20 * TOKEN, energy + 20_000)
