"""Browser users' orders through the services, committed by real block production."""

import pytest

from chain.ledger import errors
from chain.ledger.block import execute_block
from chain.ledger.errors import Refused
from chain.ledger.state import State
from chain.models import Account, ChainHead, MempoolTx
from chain.store import DatabaseStore, write_records
from tests.trading.harness import TOKEN, buy, sell
from trading import selectors
from trading.ledger import rules as r
from trading.models import LineUsage, Order, OrderStatus, Trade
from trading.services import order_cancel, order_place

pytestmark = pytest.mark.django_db


@pytest.fixture
def slot(chain):
    return selectors.slots_open(count=2)[1]


def wallet(users, name):
    return users[name].wallet


def account(users, name) -> Account:
    return Account.objects.get(address=wallet(users, name).address)


def place_sell(users, slot, who="solar_somchai", **order):
    return order_place(wallet=wallet(users, who), **sell(slot, **order))


def place_buy(users, slot, who="home_malee", **order):
    return order_place(wallet=wallet(users, who), **buy(slot, **order))


def test_the_seed_example_settles_in_the_database(users, produce, slot):
    seller_before, buyer_before = account(users, "solar_somchai"), account(users, "home_malee")
    resting = place_sell(users, slot)
    produce()
    arriving = place_buy(users, slot)
    block = produce()

    [trade] = Trade.objects.all()
    assert (trade.energy_wh, trade.price_per_kwh, trade.paid_tokens) == (50_000, 3_500_000, 175 * TOKEN)
    assert (trade.sell_order_id, trade.buy_order_id) == (resting.hash, arriving.hash)
    assert Order.objects.get(order_id=resting.hash).remaining_wh == 50_000
    assert Order.objects.get(order_id=arriving.hash).status == OrderStatus.FILLED
    seller, buyer = account(users, "solar_somchai"), account(users, "home_malee")
    # Held until settlement: the proceeds in the seller's escrow, the Wh in the buyer's.
    assert (seller.balance, seller.escrow_tokens) == (seller_before.balance, 175 * TOKEN)
    assert (seller.escrow_wh, seller.energy_wh) == (50_000, seller_before.energy_wh - 100_000)
    assert buyer_before.balance - buyer.balance == 175 * TOKEN
    assert (buyer.escrow_tokens, buyer.escrow_wh, buyer.energy_wh) == (0, 50_000, 0)
    assert block.energy == {"traded_wh": 50_000, "renewable_wh": 50_000, "carbon_credits_g": 50 * 470}
    assert ChainHead.objects.get().state_root == block.result_state_root


def test_the_book_and_the_overview_show_what_rests(users, produce, slot):
    place_sell(users, slot, kwh=100, price=3_500_000)
    place_sell(users, slot, who="hydro_nan", kwh=30, price=3_500_000, zone="central", source="hydro")
    place_buy(users, slot, kwh=20, price=3_000_000)
    produce()
    depth = selectors.order_book_depth(slot_ms=slot)
    assert depth["asks"] == [{"price_per_kwh": 3_500_000, "energy_wh": 130_000, "orders": 2}]
    assert depth["bids"] == [{"price_per_kwh": 3_000_000, "energy_wh": 20_000, "orders": 1}]
    assert selectors.order_book_depth(slot_ms=slot, zone="central")["asks"][0]["energy_wh"] == 30_000
    overview = selectors.market_overview()
    [row] = [s for s in overview["slots"] if s["slot_ms"] == slot]
    assert (row["ask_wh"], row["bid_wh"], row["traded_wh"], row["last_price_per_kwh"]) == (
        130_000,
        20_000,
        0,
        None,
    )


def test_a_cross_zone_fill_records_line_usage_and_pays_the_operator(users, produce, slot, genesis):
    operator = genesis.params["grid_operator"]
    before = Account.objects.get(address=operator).balance
    place_sell(users, slot, who="hydro_nan", kwh=10, price=3_000_000, zone="central", source="hydro")
    produce()
    place_buy(users, slot, kwh=10, price=3_000_000)
    produce()
    [trade] = Trade.objects.all()
    assert trade.wheeling_fee_tokens == 10 * 100_000
    assert Account.objects.get(address=operator).balance == before + trade.wheeling_fee_tokens
    [usage] = LineUsage.objects.all()
    assert (usage.zone_a, usage.zone_b, usage.used_wh) == ("bangkok", "central", 10_000)
    totals = selectors.account_market_totals(address=wallet(users, "home_malee").address)
    assert totals["spent_tokens"] == 30 * TOKEN + 1 * TOKEN
    assert totals["carbon_credits_g"] == 10 * 470


def test_the_owner_cancels_and_gets_the_escrow_back(users, produce, slot):
    before = account(users, "home_malee")
    placed = place_buy(users, slot, kwh=5, price=3_333_333)
    produce()
    assert account(users, "home_malee").escrow_tokens > 0
    order_cancel(wallet=wallet(users, "home_malee"), order_id=placed.hash)
    produce()
    after = account(users, "home_malee")
    assert (after.balance, after.escrow_tokens) == (before.balance, 0)
    assert Order.objects.get(order_id=placed.hash).status == OrderStatus.CANCELLED


def test_an_order_still_in_the_mempool_can_be_cancelled_by_its_owner(users, produce, slot):
    placed = place_sell(users, slot, kwh=1)
    order_cancel(wallet=wallet(users, "solar_somchai"), order_id=placed.hash)
    produce()
    assert Order.objects.get(order_id=placed.hash).status == OrderStatus.CANCELLED


@pytest.mark.parametrize(
    ("who", "code"), [("home_malee", errors.NOT_PERMITTED), ("solar_somchai", r.ORDER_CLOSED)]
)
def test_cancel_of_someone_elses_or_a_closed_order_is_refused(users, produce, slot, who, code):
    placed = place_sell(users, slot, kwh=1)
    produce()
    if code == r.ORDER_CLOSED:
        order_cancel(wallet=wallet(users, "solar_somchai"), order_id=placed.hash)
        produce()
    before = list(MempoolTx.objects.values_list("hash", flat=True))
    with pytest.raises(Refused) as refused:
        order_cancel(wallet=wallet(users, who), order_id=placed.hash)
    assert refused.value.code == code
    assert list(MempoolTx.objects.values_list("hash", flat=True)) == before


def test_cancel_of_an_unknown_order_is_refused(users):
    with pytest.raises(Refused) as refused:
        order_cancel(wallet=wallet(users, "solar_somchai"), order_id="ab" * 32)
    assert (refused.value.code, refused.value.field) == (r.ORDER_NOT_FOUND, "order_id")
    assert not MempoolTx.objects.exists()


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"energy_wh": 0}, errors.BAD_AMOUNT, "energy_wh"),
        ({"energy_wh": 10_000_001}, errors.BAD_AMOUNT, "energy_wh"),
        ({"price_per_kwh": -1}, r.BAD_PRICE, "price_per_kwh"),
        ({"price_per_kwh": 10**15}, r.BAD_PRICE, "price_per_kwh"),
        ({"zone": "atlantis"}, r.UNKNOWN_ZONE, "zone"),
        ({"source": "coal"}, r.UNKNOWN_SOURCE, "source"),
        ({"delivery_slot": 1_000}, r.BAD_SLOT, "delivery_slot"),
        ({"delivery_slot": 900_000}, r.SLOT_CLOSED, "delivery_slot"),
        ({"expires_ms": 1}, r.BAD_EXPIRY, "expires_ms"),
        ({"energy_wh": 501_000}, r.INSUFFICIENT_ENERGY, "energy_wh"),
    ],
)
def test_a_bad_sell_is_refused_beside_its_field_and_nothing_is_submitted(users, slot, change, code, field):
    fields = {
        "side": "sell",
        "energy_wh": 1000,
        "price_per_kwh": 3_000_000,
        "zone": "bangkok",
        "delivery_slot": slot,
        "source": "solar",
    } | change
    before = account(users, "solar_somchai")
    with pytest.raises(Refused) as refused:
        order_place(wallet=wallet(users, "solar_somchai"), **fields)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert refused.value.message
    assert not MempoolTx.objects.exists()
    assert account(users, "solar_somchai") == before


def test_a_buy_the_balance_cannot_escrow_is_refused(users, slot):
    with pytest.raises(Refused) as refused:
        place_buy(users, slot, kwh=1_050, price=4_000_000)  # 4,798.50 of malee's 5,000 tokens...
        place_buy(users, slot, kwh=100, price=4_000_000)  # ...leave too little for this one
    assert refused.value.code == errors.INSUFFICIENT_FUNDS
    assert "tokens" in refused.value.message
    assert MempoolTx.objects.count() == 1


def test_sells_waiting_in_the_mempool_count_against_the_energy(users, slot):
    place_sell(users, slot, kwh=400)
    with pytest.raises(Refused) as refused:
        place_sell(users, slot, kwh=101)
    assert refused.value.code == r.INSUFFICIENT_ENERGY
    assert "only 100.000 kWh are free" in refused.value.message


def test_the_block_start_sweep_expires_orders_read_from_the_database(users, produce, slot, genesis):
    placed = place_sell(users, slot, kwh=1, price=3_000_000, expires_ms=slot - 10 * 60_000)
    produce()
    head = ChainHead.objects.get()
    state = State(DatabaseStore(), int(head.accumulator, 16))
    result = execute_block(
        state,
        [],
        chain_id=head.chain_id,
        height=head.height + 1,
        timestamp_ms=slot - 10 * 60_000,
        params=head.params,
        strict=True,
        verify_signatures=False,
    )
    write_records(state.dirty_records())
    assert [e["type"] for e in result.events] == ["order_cancelled"]
    assert Order.objects.get(order_id=placed.hash).status == OrderStatus.EXPIRED
    assert account(users, "solar_somchai").escrow_wh == 0
