"""The market core in memory: placing, matching, escrow and its release, grid constraints."""

import copy

import pytest

from chain.ledger import errors
from chain.ledger.genesis import load_genesis
from tests.conftest import GENESIS_PATH
from tests.trading.harness import SLOT, T0, TOKEN, MemoryChain, address, buy, sell
from trading.ledger import rules as r
from trading.ledger.records import CANCELLED, EXPIRED, FILLED, GATE_CLOSED, OPEN

GENESIS = load_genesis(GENESIS_PATH)
#: Dearest route into bangkok (4 paths at most): north-northeast-central-east-bangkok.
BANGKOK_MAX_FEE = 180_000 + 150_000 + 120_000 + 120_000


@pytest.fixture
def chain():
    return MemoryChain(GENESIS, GENESIS.params)


def small_grid_params(capacity_mw: int = 1) -> dict:
    params = copy.deepcopy(GENESIS.params)
    for path in params["transmission"]:
        path["capacity_mw"] = capacity_mw
    return params


def test_the_seed_example_trades_50_kwh_at_the_resting_price(chain):
    seller_before, buyer_before = chain.account("solar_somchai"), chain.account("home_malee")
    resting = chain.tx("solar_somchai", "order_place", sell(kwh=100, price=3_500_000))
    chain.block([resting])
    arriving = chain.tx("home_malee", "order_place", buy(kwh=50, price=4_000_000))
    result = chain.block([arriving])

    assert all(receipt.ok for receipt in result.receipts)
    [trade] = chain.trades()
    assert (trade.energy_wh, trade.price_per_kwh, trade.paid_tokens) == (50_000, 3_500_000, 175 * TOKEN)
    assert trade.wheeling_fee_tokens == 0
    assert chain.order(resting.hash).remaining_wh == 50_000
    assert chain.order(resting.hash).status == OPEN
    assert chain.order(arriving.hash).status == FILLED

    seller, buyer = chain.account("solar_somchai"), chain.account("home_malee")
    # The proceeds wait in the seller's escrow until settlement (tests/trading/test_settlement.py).
    assert (seller.balance, seller.escrow_tokens) == (seller_before.balance, 175 * TOKEN)
    assert seller.energy_wh == seller_before.energy_wh - 100_000
    assert seller.escrow_wh == 50_000
    # The 0.5 token/kWh price improvement and the unused fee reserve came back to the unit.
    assert buyer.balance == buyer_before.balance - 175 * TOKEN
    assert buyer.escrow_tokens == 0
    assert (buyer.energy_wh, buyer.escrow_wh) == (0, 50_000)
    assert result.energy == {"traded_wh": 50_000, "renewable_wh": 50_000, "carbon_credits_g": 50 * 470}
    assert [e["type"] for e in result.events] == ["trade", "order_placed"]


def test_a_buy_escrows_its_limit_value_plus_the_dearest_wheeling_fee(chain):
    before = chain.account("home_malee")
    tx = chain.tx("home_malee", "order_place", buy(kwh=10, price=3_000_001))
    chain.block([tx])
    lock = -(-10_000 * (3_000_001 + BANGKOK_MAX_FEE) // 1000)  # rounded up to the unit
    assert chain.order(tx.hash).escrow_tokens == lock == 35_700_010
    assert chain.account("home_malee").balance == before.balance - lock
    assert chain.account("home_malee").escrow_tokens == lock


def test_a_sell_escrows_its_energy(chain):
    before = chain.account("wind_korat")
    chain.block([chain.tx("wind_korat", "order_place", sell(zone="northeast", kwh=250, source="wind"))])
    after = chain.account("wind_korat")
    assert (after.energy_wh, after.escrow_wh) == (before.energy_wh - 250_000, 250_000)


def test_an_arriving_sell_trades_at_the_resting_bid(chain):
    chain.block([chain.tx("home_malee", "order_place", buy(kwh=50, price=4_000_000))])
    chain.block([chain.tx("solar_somchai", "order_place", sell(kwh=20, price=3_000_000))])
    [trade] = chain.trades()
    assert (trade.price_per_kwh, trade.energy_wh, trade.taker_side) == (4_000_000, 20_000, "sell")
    assert chain.account("home_malee").escrow_tokens == -(-30_000 * (4_000_000 + BANGKOK_MAX_FEE) // 1000)


def test_price_time_priority_takes_the_cheapest_then_the_earliest(chain):
    first = chain.tx("solar_somchai", "order_place", sell(kwh=10, price=3_000_000))
    dearer = chain.tx("solar_somchai", "order_place", sell(kwh=10, price=2_900_000, source="wind"))
    chain.block([first, dearer])
    later_same_price = chain.tx("hydro_nan", "order_place", sell(zone="bangkok", kwh=10, price=3_000_000))
    chain.block([later_same_price])
    chain.block([chain.tx("home_malee", "order_place", buy(kwh=25, price=3_000_000))])
    fills = [(t.sell_order_id, t.energy_wh) for t in chain.trades()]
    assert fills == [(dearer.hash, 10_000), (first.hash, 10_000), (later_same_price.hash, 5_000)]


def test_an_order_does_not_cross_a_worse_price(chain):
    chain.block([chain.tx("solar_somchai", "order_place", sell(price=4_100_000))])
    chain.block([chain.tx("home_malee", "order_place", buy(price=4_000_000))])
    assert chain.trades() == []


def test_an_account_never_trades_with_itself(chain):
    own = chain.tx("solar_somchai", "order_place", sell(kwh=10, price=3_000_000))
    other = chain.tx("hydro_nan", "order_place", sell(kwh=10, price=3_500_000))
    chain.block([own, other])
    chain.block([chain.tx("solar_somchai", "order_place", buy(kwh=10, price=4_000_000))])
    [trade] = chain.trades()
    assert trade.sell_order_id == other.hash
    assert chain.order(own.hash).remaining_wh == 10_000


def test_a_buy_takes_only_the_sources_it_accepts(chain):
    grid = chain.tx("solar_somchai", "order_place", sell(kwh=10, price=2_000_000, source="grid"))
    hydro = chain.tx("hydro_nan", "order_place", sell(kwh=10, price=3_000_000, source="hydro"))
    chain.block([grid, hydro])
    chain.block([chain.tx("home_malee", "order_place", buy(kwh=20, sources=["hydro", "solar"]))])
    [trade] = chain.trades()
    assert trade.sell_order_id == hydro.hash
    assert chain.order(grid.hash).remaining_wh == 10_000


def test_a_cross_zone_fill_pays_the_path_fee_to_the_grid_operator(chain):
    operator_before = chain.account(GENESIS.params["grid_operator"])
    malee_before = chain.account("home_malee")
    chain.block(
        [chain.tx("hydro_nan", "order_place", sell(zone="central", kwh=10, price=3_000_000, source="hydro"))]
    )
    chain.block([chain.tx("home_malee", "order_place", buy(zone="bangkok", kwh=10, price=4_000_000))])
    [trade] = chain.trades()
    assert trade.buyer == address("home_malee") and (trade.buyer_zone, trade.seller_zone) == (
        "bangkok",
        "central",
    )
    assert trade.price_per_kwh == 3_000_000  # the resting ask
    assert trade.wheeling_fee_tokens == 10 * 100_000  # central-bangkok: 0.1 token/kWh
    operator = chain.account(GENESIS.params["grid_operator"])
    assert operator.balance == operator_before.balance + trade.wheeling_fee_tokens
    malee = chain.account("home_malee")
    assert malee.balance == malee_before.balance - 30 * TOKEN - 1 * TOKEN
    assert malee.escrow_tokens == 0


def test_a_fill_without_a_direct_path_takes_the_cheapest_route_and_pays_every_path(chain):
    operator_before = chain.account(GENESIS.params["grid_operator"])
    malee_before = chain.account("home_malee")
    # northeast-bangkok has no direct path: northeast-central-bangkok (0.25 token/kWh) is the
    # cheapest route, before northeast-central-east-bangkok and the routes through north.
    chain.block(
        [
            chain.tx(
                "wind_korat", "order_place", sell(zone="northeast", kwh=10, price=3_333_333, source="wind")
            )
        ]
    )
    chain.block([chain.tx("home_malee", "order_place", buy(zone="bangkok", kwh=10, price=4_000_000))])
    [trade] = chain.trades()
    assert (trade.seller_zone, trade.buyer_zone, trade.energy_wh) == ("northeast", "bangkok", 10_000)
    # Each path's fee rounds down on its own: 10 kWh * 0.15 + 10 kWh * 0.1.
    assert trade.wheeling_fee_tokens == 10_000 * 150_000 // 1000 + 10_000 * 100_000 // 1000
    assert trade.paid_tokens == 10_000 * 3_333_333 // 1000
    usage = {(u.zone_a, u.zone_b): u.used_wh for u in chain.line_usage()}
    assert usage == {("central", "northeast"): 10_000, ("bangkok", "central"): 10_000}
    operator = chain.account(GENESIS.params["grid_operator"])
    assert operator.balance == operator_before.balance + trade.wheeling_fee_tokens
    malee = chain.account("home_malee")
    # Buyer pays = seller gets + grid operator fees; the rest of the lock comes back.
    assert malee_before.balance - malee.balance == trade.paid_tokens + trade.wheeling_fee_tokens
    assert malee.escrow_tokens == 0


def test_a_full_path_refuses_the_fill_and_the_matcher_tries_the_next_order():
    chain = MemoryChain(GENESIS, small_grid_params(capacity_mw=1))  # 250 kWh per 15-minute slot
    far = chain.tx("hydro_nan", "order_place", sell(zone="central", kwh=400, price=2_000_000, source="hydro"))
    near = chain.tx("solar_somchai", "order_place", sell(zone="bangkok", kwh=100, price=3_000_000))
    chain.block([far, near])
    chain.block([chain.tx("home_malee", "order_place", buy(zone="bangkok", kwh=300, price=4_000_000))])
    fills = [(t.sell_order_id, t.energy_wh) for t in chain.trades()]
    assert fills == [(far.hash, 250_000), (near.hash, 50_000)]
    [usage] = chain.line_usage()
    assert (usage.zone_a, usage.zone_b, usage.used_wh, usage.capacity_wh) == (
        "bangkok",
        "central",
        250_000,
        250_000,
    )
    chain.block([chain.tx("factory_rayong", "order_place", buy(zone="bangkok", kwh=10, price=4_000_000))])
    # central-bangkok stays full: the next fill goes round it, over central-east-bangkok.
    last = chain.trades()[-1]
    assert (last.sell_order_id, last.wheeling_fee_tokens) == (far.hash, 10 * 120_000 + 10 * 120_000)
    usage = {(u.zone_a, u.zone_b): u.used_wh for u in chain.line_usage()}
    assert usage == {
        ("bangkok", "central"): 250_000,
        ("central", "east"): 10_000,
        ("bangkok", "east"): 10_000,
    }


def test_capacity_of_a_path_becomes_wh_per_slot():
    rules = r.rules_of(GENESIS.params)
    assert rules.path_between("bangkok", "central").capacity_wh_per_slot == 4000 * 1_000_000 * 15 // 60
    assert rules.path_between("central", "bangkok") is rules.path_between("bangkok", "central")
    # The dearest route into south: north-northeast-central-south.
    assert rules.max_fee_per_kwh["south"] == 180_000 + 150_000 + 200_000


def test_cancel_returns_the_whole_escrow(chain):
    before = chain.account("home_malee")
    tx = chain.tx("home_malee", "order_place", buy(kwh=7, price=3_333_333))
    chain.block([tx])
    result = chain.block([chain.tx("home_malee", "order_cancel", {"order_id": tx.hash})])
    assert result.receipts[0].ok
    assert chain.order(tx.hash).status == CANCELLED and chain.order(tx.hash).escrow_tokens == 0
    assert chain.account("home_malee").balance == before.balance
    assert chain.account("home_malee").escrow_tokens == 0
    assert result.events[0]["type"] == "order_cancelled"


def test_a_cancelled_order_no_longer_trades_in_the_same_block(chain):
    resting = chain.tx("solar_somchai", "order_place", sell(kwh=10))
    chain.block([resting])
    chain.block(
        [
            chain.tx("solar_somchai", "order_cancel", {"order_id": resting.hash}),
            chain.tx("home_malee", "order_place", buy(kwh=10)),
        ]
    )
    assert chain.trades() == []
    assert chain.account("solar_somchai").escrow_wh == 0


@pytest.mark.parametrize(
    ("who", "order_id_of", "code"),
    [
        ("home_malee", lambda placed: placed, errors.NOT_PERMITTED),
        ("solar_somchai", lambda placed: "ab" * 32, r.ORDER_NOT_FOUND),
    ],
)
def test_cancel_of_someone_elses_or_an_unknown_order_is_refused(chain, who, order_id_of, code):
    placed = chain.tx("solar_somchai", "order_place", sell(kwh=10))
    chain.block([placed])
    before = chain.snapshot()
    result = chain.block([chain.tx(who, "order_cancel", {"order_id": order_id_of(placed.hash)})])
    assert result.receipts[0].code == code
    assert chain.snapshot() == before
    assert chain.order(placed.hash).status == OPEN


def test_cancel_of_a_filled_order_is_refused(chain):
    placed = chain.tx("solar_somchai", "order_place", sell(kwh=10))
    chain.block([placed, chain.tx("home_malee", "order_place", buy(kwh=10))])
    before = chain.snapshot()
    result = chain.block([chain.tx("solar_somchai", "order_cancel", {"order_id": placed.hash})])
    assert result.receipts[0].code == r.ORDER_CLOSED
    assert chain.snapshot() == before


def test_gate_closure_closes_the_slot_and_returns_escrow(chain):
    sell_tx = chain.tx("solar_somchai", "order_place", sell(kwh=10))
    buy_tx = chain.tx("home_malee", "order_place", buy(kwh=10, price=3_000_000))
    chain.block([sell_tx, buy_tx])
    gate = SLOT - 5 * 60_000
    chain.block([], timestamp_ms=gate - 1)
    assert chain.order(sell_tx.hash).status == OPEN
    result = chain.block([], timestamp_ms=gate)
    assert {chain.order(sell_tx.hash).status, chain.order(buy_tx.hash).status} == {GATE_CLOSED}
    assert chain.account("solar_somchai").escrow_wh == 0
    assert chain.account("home_malee").escrow_tokens == 0
    assert [e["type"] for e in result.events] == ["order_cancelled", "order_cancelled"]


def test_orders_are_taken_until_the_gate_closes(chain):
    gate = SLOT - 5 * 60_000
    result = chain.block([chain.tx("solar_somchai", "order_place", sell(kwh=1))], timestamp_ms=gate - 1)
    assert result.receipts[0].ok
    late = chain.tx("solar_somchai", "order_place", sell(kwh=1))
    result = chain.block([late], timestamp_ms=gate)
    assert result.receipts[0].code == r.SLOT_CLOSED
    assert "5 minutes before" in result.receipts[0].message
    assert late.hash not in chain.store.tables["order"]
    somchai = chain.account("solar_somchai")
    assert (somchai.energy_wh, somchai.escrow_wh) == (500_000, 0)  # the first order was gate-closed


def test_an_order_expires_at_its_expiry(chain):
    tx = chain.tx("solar_somchai", "order_place", sell(kwh=10, expires_ms=T0 + 60_000))
    chain.block([tx])
    chain.block([], timestamp_ms=T0 + 59_999)
    assert chain.order(tx.hash).status == OPEN
    chain.block([], timestamp_ms=T0 + 60_000)
    assert chain.order(tx.hash).status == EXPIRED
    assert chain.account("solar_somchai").escrow_wh == 0


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (sell(kwh=0), errors.BAD_AMOUNT),
        (sell() | {"energy_wh": -5}, errors.BAD_AMOUNT),
        (sell(kwh=10_001), errors.BAD_AMOUNT),
        (sell() | {"energy_wh": 1.5}, errors.MALFORMED),
        (sell(price=0), r.BAD_PRICE),
        (sell(price=999_999), r.BAD_PRICE),
        (sell(price=20_000_001), r.BAD_PRICE),
        (sell(price=2**60), errors.MALFORMED),
        (sell(zone="mars"), r.UNKNOWN_ZONE),
        (sell(source="coal"), r.UNKNOWN_SOURCE),
        (buy(sources=[]), r.UNKNOWN_SOURCE),
        (buy(sources=["solar", "solar"]), r.UNKNOWN_SOURCE),
        (buy(sources="solar"), r.UNKNOWN_SOURCE),
        (sell(slot=SLOT + 1), r.BAD_SLOT),
        (sell(slot=T0), r.SLOT_CLOSED),
        (sell(slot=T0 - 15 * 60_000), r.SLOT_CLOSED),
        (sell(slot=T0 + 8 * 24 * 3_600_000), r.BAD_SLOT),
        (sell(expires_ms=T0), r.BAD_EXPIRY),
        (sell(expires_ms=0), errors.BAD_AMOUNT),
        (sell(kwh=501), r.INSUFFICIENT_ENERGY),
        (buy(kwh=2_000, price=4_000_000), errors.INSUFFICIENT_FUNDS),
        (sell() | {"side": "hold"}, errors.BAD_FIELD),
        (sell() | {"sources": "any"}, errors.BAD_FIELD),
        ({k: v for k, v in sell().items() if k != "zone"}, errors.BAD_FIELD),
    ],
)
def test_a_bad_order_is_refused_with_a_clear_error_and_changes_nothing(chain, payload, code):
    before = chain.snapshot()
    try:
        tx = chain.tx("solar_somchai" if payload["side"] != "buy" else "home_malee", "order_place", payload)
    except Exception as exc:  # the canonical encoder refuses floats and huge integers at signing
        assert getattr(exc, "code", None) == code
        return
    result = chain.block([tx])
    assert result.receipts[0].code == code, result.receipts[0].message
    assert result.receipts[0].message
    assert chain.snapshot() == before


def test_a_duplicate_order_id_is_refused(chain):
    tx = chain.tx("solar_somchai", "order_place", sell(kwh=10))
    chain.block([tx])
    chain.next_nonce[address("solar_somchai")] = 0
    before = chain.snapshot()
    result = chain.block([tx])
    assert result.dropped and result.dropped[0][1].code == errors.NONCE_REPLAYED
    assert chain.snapshot() == before


def test_trades_are_written_without_reading_the_store_for_them(chain):
    """A trade's id is new by construction: a block of fills costs no per-trade store reads."""
    chain.block([chain.tx("bkk_community_solar", "order_place", sell(kwh=100))])
    reads = []
    load = chain.store.load
    chain.store.load = lambda table, keys: reads.append((table, list(keys))) or load(table, keys)
    result = chain.block([chain.tx("home_malee", "order_place", buy(kwh=1)) for _ in range(5)])
    assert [e["type"] for e in result.events].count("trade") == 5
    assert len(chain.trades()) == 5
    assert not [keys for table, keys in reads if table == "trade"]
    assert chain.account("bkk_community_solar").escrow_wh == 95_000
