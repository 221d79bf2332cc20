"""The grid operator's path limits and the frequency pause, as the market's matcher obeys them."""

import pytest

from chain.ledger import errors
from grid.ledger import rules as g
from tests.grid.harness import GENESIS, limit, report
from tests.trading.harness import SLOT, T0, MemoryChain, buy, check_invariants, sell
from trading.ledger.records import OPEN

SLOT_MS = 15 * 60_000
FIRST_OPEN = T0 + SLOT_MS  # T0 is slot-aligned; its own slot's gate has closed


@pytest.fixture
def chain():
    return MemoryChain(GENESIS, GENESIS.params)


def totals(chain):
    accounts = chain.store.tables["account"].values()
    return sum(a.total_tokens for a in accounts), sum(a.energy_wh + a.escrow_wh for a in accounts)


def one(chain, who, kind, payload, at=T0):
    [receipt] = chain.block([chain.tx(who, kind, payload)], timestamp_ms=at).receipts
    return receipt


#: Every path into east: with both congested no route reaches it.
EAST_PATHS = (("east", "bangkok"), ("central", "east"))


def limit_east(chain, from_slot: int, **extra) -> None:
    """The same limit on every path into east."""
    txs = [chain.tx("EGAT", "grid_path_limit", limit(from_slot, a, b, **extra)) for a, b in EAST_PATHS]
    assert all(r.ok for r in chain.block(txs, timestamp_ms=T0).receipts)


def test_a_congested_path_is_skipped_for_the_next_cheapest_route(chain):
    supply, energy = totals(chain)
    assert one(chain, "EGAT", "grid_path_limit", limit(SLOT, reason="line maintenance")).ok
    offer = chain.tx("bkk_community_solar", "order_place", sell(kwh=100))
    cross = chain.tx("factory_rayong", "order_place", buy(zone="east", kwh=40))
    assert all(r.ok for r in chain.block([offer, cross]).receipts)
    [trade] = chain.trades()
    # east-bangkok (0.12/kWh) is congested: bangkok-central-east (0.1 + 0.12) carries it.
    assert (trade.energy_wh, trade.wheeling_fee_tokens) == (40_000, 40 * 100_000 + 40 * 120_000)
    usage = {(u.zone_a, u.zone_b): u.used_wh for u in chain.line_usage()}
    assert usage == {("bangkok", "central"): 40_000, ("central", "east"): 40_000}
    check_invariants(chain, supply, energy)


def test_congested_paths_refuse_cross_zone_fills_while_same_zone_fills_continue(chain):
    supply, energy = totals(chain)
    limit_east(chain, SLOT, reason="line maintenance")
    offer = chain.tx("bkk_community_solar", "order_place", sell(kwh=100))
    cross = chain.tx("factory_rayong", "order_place", buy(zone="east", kwh=40))
    same = chain.tx("home_malee", "order_place", buy(kwh=30))
    receipts = chain.block([offer, cross, same]).receipts
    assert all(r.ok for r in receipts)

    [trade] = chain.trades()
    assert (trade.buy_order_id, trade.energy_wh) == (same.hash, 30_000)
    # The fill was refused, not the order: the East buy rests on the book.
    assert chain.order(cross.hash).status == OPEN and chain.order(cross.hash).remaining_wh == 40_000
    assert chain.line_usage() == []
    check_invariants(chain, supply, energy)


def test_a_limit_set_mid_block_applies_to_the_orders_after_it(chain):
    offer = chain.tx("bkk_community_solar", "order_place", sell(kwh=100))
    first = chain.tx("factory_rayong", "order_place", buy(zone="east", kwh=10))
    congest = [chain.tx("EGAT", "grid_path_limit", limit(SLOT, a, b)) for a, b in EAST_PATHS]
    second = chain.tx("factory_rayong", "order_place", buy(zone="east", kwh=10))
    assert all(r.ok for r in chain.block([offer, first, *congest, second]).receipts)
    assert [t.buy_order_id for t in chain.trades()] == [first.hash]
    assert chain.order(second.hash).remaining_wh == 10_000


def test_a_lowered_capacity_caps_the_cross_zone_fill(chain):
    # 1 MW over a 15-minute slot is 250 kWh.
    assert one(chain, "EGAT", "grid_path_limit", limit(SLOT, congested=False, capacity_mw=1)).ok
    chain.block([chain.tx("bkk_community_solar", "order_place", sell(kwh=1000, price=3_000_000))])
    cross = chain.tx("factory_rayong", "order_place", buy(zone="east", kwh=400))
    chain.block([cross])
    assert sum(t.energy_wh for t in chain.trades()) == 250_000
    [usage] = chain.line_usage()
    assert usage.used_wh == 250_000
    assert chain.order(cross.hash).remaining_wh == 150_000


def test_a_limit_covers_only_its_slots_and_a_new_one_lifts_it(chain):
    limit_east(chain, SLOT, until_slot=SLOT + SLOT_MS)
    later = SLOT + SLOT_MS
    chain.block([chain.tx("bkk_community_solar", "order_place", sell(slot=s, kwh=50)) for s in (SLOT, later)])
    chain.block(
        [chain.tx("factory_rayong", "order_place", buy(slot=s, zone="east", kwh=10)) for s in (SLOT, later)]
    )
    assert [t.delivery_slot_ms for t in chain.trades()] == [later]

    limit_east(chain, SLOT, congested=False)
    chain.block([chain.tx("factory_rayong", "order_place", buy(zone="east", kwh=10))])
    assert [t.delivery_slot_ms for t in chain.trades()] == [later, SLOT]


@pytest.mark.parametrize(
    ("who", "payload", "code"),
    [
        ("MEA", limit(SLOT), g.NOT_GRID_OPERATOR),
        ("solar_somchai", limit(SLOT), g.NOT_GRID_OPERATOR),
        ("EGAT", limit(T0), g.SLOT_NOT_FUTURE),
        ("EGAT", limit(SLOT + 1), g.BAD_SLOT),
        ("EGAT", limit(SLOT, until_slot=SLOT), g.BAD_SLOT),
        ("EGAT", limit(SLOT, zone_a="north", zone_b="south"), g.UNKNOWN_PATH),
        ("EGAT", limit(SLOT, zone_a="east", zone_b="east"), g.UNKNOWN_PATH),
        ("EGAT", limit(SLOT, capacity_mw=2501), g.BAD_FIGURE),
        ("EGAT", limit(SLOT, congested="yes"), errors.BAD_FIELD),
        ("EGAT", limit(SLOT, reason="x" * 141), errors.BAD_FIELD),
    ],
)
def test_a_bad_limit_is_refused_with_its_reason_and_changes_nothing(chain, who, payload, code):
    receipt = one(chain, who, "grid_path_limit", payload)
    assert (receipt.ok, receipt.code) == (False, code), receipt.message
    assert chain.store.tables.get("grid_path_limit", {}) == {}


def test_frequency_out_of_band_pauses_cross_zone_fills_of_the_next_slots_until_it_returns(chain):
    paused, free = FIRST_OPEN, FIRST_OPEN + 2 * SLOT_MS  # frequency_pause_slots = 2
    chain.block(
        [chain.tx("bkk_community_solar", "order_place", sell(slot=s, kwh=50)) for s in (paused, free)]
    )
    assert one(chain, "PEA", "grid_report", report(T0, ["northeast"], frequency_mhz=49_400)).ok
    [alarm] = chain.store.tables["grid_alarm"].values()
    assert alarm.active and (alarm.region, alarm.paused_until_slot_ms) == (
        "northeast",
        FIRST_OPEN + 2 * SLOT_MS,
    )

    cross = [
        chain.tx("factory_rayong", "order_place", buy(slot=s, zone="east", kwh=10)) for s in (paused, free)
    ]
    same = chain.tx("home_malee", "order_place", buy(slot=paused, kwh=5))
    chain.block([*cross, same])
    assert [(t.delivery_slot_ms, t.buyer_zone) for t in chain.trades()] == [
        (free, "east"),
        (paused, "bangkok"),
    ]

    # Still out of band when the next slot's gate closes: the paused window moves on.
    later = T0 + 10 * 60_000
    assert one(chain, "PEA", "grid_report", report(later, ["northeast"], frequency_mhz=50_600), at=later).ok
    assert chain.store.tables["grid_alarm"]["frequency"].paused_until_slot_ms == FIRST_OPEN + 3 * SLOT_MS
    waiting = chain.tx("factory_rayong", "order_place", buy(slot=free, zone="east", kwh=5))
    chain.block([waiting], later)
    assert len(chain.trades()) == 2 and chain.order(waiting.hash).status == OPEN

    # Back in band everywhere: the pause ends, and the next sell fills the waiting East buy.
    back = later + 1000
    assert one(chain, "PEA", "grid_report", report(back, ["northeast"]), at=back).ok
    assert not chain.store.tables["grid_alarm"]["frequency"].active
    chain.block(
        [chain.tx("bkk_community_solar", "order_place", sell(slot=free, kwh=10, price=3_000_000))], back
    )
    assert chain.order(waiting.hash).remaining_wh == 0


def test_one_region_back_in_band_does_not_end_the_pause_while_another_is_out(chain):
    assert one(chain, "EGAT", "grid_report", report(T0, ["north", "south"], frequency_mhz=49_000)).ok
    assert one(chain, "EGAT", "grid_report", report(T0 + 1, ["north"]), at=T0 + 1).ok
    alarm = chain.store.tables["grid_alarm"]["frequency"]
    assert alarm.active and alarm.region == "south"
