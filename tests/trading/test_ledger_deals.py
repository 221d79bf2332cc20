"""Private deals: an order that names its counterparty trades with that account only."""

import pytest

from chain.ledger import errors
from chain.ledger.errors import LedgerError
from chain.ledger.genesis import load_genesis
from tests.conftest import GENESIS_PATH
from tests.trading.harness import T0, TOKEN, MemoryChain, address, buy, check_invariants, sell
from trading.ledger import rules as r
from trading.ledger.records import FILLED, OPEN

GENESIS = load_genesis(GENESIS_PATH)


@pytest.fixture
def chain():
    return MemoryChain(GENESIS, GENESIS.params)


def totals(chain: MemoryChain) -> tuple[int, int]:
    accounts = chain.store.tables["account"].values()
    return sum(a.total_tokens for a in accounts), sum(a.energy_wh + a.escrow_wh for a in accounts)


def test_an_order_records_its_counterparty_and_an_open_order_records_none(chain):
    private = chain.tx("solar_somchai", "order_place", sell(kwh=10, counterparty=address("home_malee")))
    null = chain.tx("hydro_nan", "order_place", sell(zone="bangkok", kwh=10, counterparty=None))
    open_ = chain.tx("wind_korat", "order_place", sell(zone="northeast", kwh=10, source="wind"))
    result = chain.block([private, null, open_])
    assert all(receipt.ok for receipt in result.receipts)
    assert chain.order(private.hash).counterparty == address("home_malee")
    assert chain.order(null.hash).counterparty == chain.order(open_.hash).counterparty == ""
    placed = [e for e in result.events if e["type"] == "order_placed"]
    assert [e["counterparty"] for e in placed] == [address("home_malee"), "", ""]


def test_a_named_buy_takes_only_the_named_sellers_ask_even_when_a_cheaper_one_rests(chain):
    cheaper = chain.tx("hydro_nan", "order_place", sell(zone="bangkok", kwh=10, price=2_000_000))
    named = chain.tx("solar_somchai", "order_place", sell(kwh=10, price=3_500_000))
    chain.block([cheaper, named])
    deal = chain.tx(
        "home_malee", "order_place", buy(kwh=10, price=4_000_000, counterparty=address("solar_somchai"))
    )
    chain.block([deal])

    [trade] = chain.trades()
    assert (trade.sell_order_id, trade.seller, trade.buyer) == (
        named.hash,
        address("solar_somchai"),
        address("home_malee"),
    )
    assert (trade.energy_wh, trade.price_per_kwh, trade.paid_tokens) == (10_000, 3_500_000, 35 * TOKEN)
    assert trade.unsettled_slot_ms == trade.delivery_slot_ms  # settled against meters like any trade
    assert chain.order(deal.hash).status == FILLED
    assert chain.order(cheaper.hash).remaining_wh == 10_000


def test_a_named_buy_rests_when_its_counterparty_has_no_ask(chain):
    chain.block([chain.tx("hydro_nan", "order_place", sell(zone="bangkok", kwh=10, price=2_000_000))])
    deal = chain.tx("home_malee", "order_place", buy(kwh=10, counterparty=address("solar_somchai")))
    chain.block([deal])
    assert chain.trades() == []
    assert chain.order(deal.hash).status == OPEN
    # The named seller's later ask meets it.
    chain.block([chain.tx("solar_somchai", "order_place", sell(kwh=4, price=3_000_000))])
    [trade] = chain.trades()
    assert (trade.buy_order_id, trade.energy_wh, trade.price_per_kwh) == (deal.hash, 4_000, 4_000_000)


@pytest.mark.parametrize("arriving_side", ["buy", "sell"])
def test_a_third_partys_order_never_fills_against_a_named_order(chain, arriving_side):
    if arriving_side == "buy":
        named = chain.tx(
            "solar_somchai", "order_place", sell(kwh=10, price=3_000_000, counterparty=address("home_malee"))
        )
        third = chain.tx("factory_rayong", "order_place", buy(kwh=10, price=4_000_000))
    else:
        named = chain.tx(
            "home_malee", "order_place", buy(kwh=10, price=4_000_000, counterparty=address("solar_somchai"))
        )
        third = chain.tx("hydro_nan", "order_place", sell(zone="bangkok", kwh=10, price=3_000_000))
    chain.block([named])
    chain.block([third])
    assert chain.trades() == []
    assert chain.order(named.hash).status == chain.order(third.hash).status == OPEN


def test_a_named_sell_is_taken_by_its_counterparty_past_earlier_open_asks(chain):
    supply, energy = totals(chain)
    earlier = chain.tx("hydro_nan", "order_place", sell(zone="bangkok", kwh=10, price=3_000_000))
    named = chain.tx(
        "solar_somchai", "order_place", sell(kwh=10, price=3_000_000, counterparty=address("home_malee"))
    )
    chain.block([earlier, named])
    # The named buyer takes the earlier open ask first (price-time priority), then the deal.
    chain.block([chain.tx("home_malee", "order_place", buy(kwh=15, price=4_000_000))])
    assert [(t.sell_order_id, t.energy_wh) for t in chain.trades()] == [
        (earlier.hash, 10_000),
        (named.hash, 5_000),
    ]
    # Anyone else's buy still passes over what is left of the deal.
    chain.block([chain.tx("factory_rayong", "order_place", buy(kwh=5, price=4_000_000))])
    assert len(chain.trades()) == 2
    check_invariants(chain, supply, energy)


def test_two_orders_naming_each_other_trade(chain):
    ask = chain.tx(
        "solar_somchai", "order_place", sell(kwh=10, price=3_000_000, counterparty=address("home_malee"))
    )
    bid = chain.tx(
        "home_malee", "order_place", buy(kwh=10, price=3_000_000, counterparty=address("solar_somchai"))
    )
    chain.block([ask, bid])
    [trade] = chain.trades()
    assert (trade.sell_order_id, trade.buy_order_id) == (ask.hash, bid.hash)


def test_orders_naming_different_accounts_do_not_trade(chain):
    ask = chain.tx(
        "solar_somchai", "order_place", sell(kwh=10, price=3_000_000, counterparty=address("factory_rayong"))
    )
    bid = chain.tx(
        "home_malee", "order_place", buy(kwh=10, price=3_000_000, counterparty=address("solar_somchai"))
    )
    chain.block([ask, bid])
    assert chain.trades() == []


@pytest.mark.parametrize(
    ("counterparty", "code"),
    [
        (address("home_malee").upper(), errors.BAD_ADDRESS),
        (address("home_malee")[:63], errors.BAD_ADDRESS),
        (address("home_malee") + "\n", errors.BAD_ADDRESS),
        ("", errors.BAD_ADDRESS),
        (42, errors.BAD_ADDRESS),
        ([address("home_malee")], errors.BAD_ADDRESS),
        (True, errors.BAD_ADDRESS),
        (address("solar_somchai"), r.SELF_COUNTERPARTY),
    ],
    ids=["upper-case", "63 chars", "newline", "empty", "integer", "list", "boolean", "self"],
)
@pytest.mark.parametrize("side", ["sell", "buy"])
def test_a_bad_counterparty_is_refused_and_changes_nothing(chain, counterparty, code, side):
    chain.block([chain.tx("home_malee", "order_place", buy(kwh=10, price=4_000_000))])
    if side == "sell":
        payload = sell(kwh=10, price=3_000_000, counterparty=counterparty)
    else:
        payload = buy(kwh=10, price=4_000_000, counterparty=counterparty)
        chain.block([chain.tx("hydro_nan", "order_place", sell(zone="bangkok", kwh=10, price=3_000_000))])
    before = chain.snapshot()
    if code == errors.BAD_ADDRESS:
        with pytest.raises(LedgerError) as refused:
            r.check_place_payload(payload, GENESIS.params)
        assert refused.value.code == code and "counterparty" in refused.value.message
    result = chain.block([chain.tx("solar_somchai", "order_place", payload)], timestamp_ms=T0)
    assert result.receipts[0].code == code, result.receipts[0].message
    assert result.receipts[0].message
    assert chain.snapshot() == before
