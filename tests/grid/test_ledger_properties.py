"""Hypothesis: random path limits and order flow; fills never exceed what the operator allows."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.grid.harness import GENESIS
from tests.trading.harness import T0, MemoryChain, buy, check_invariants, sell

SLOT_MS = 15 * 60_000
SLOTS = (T0 + SLOT_MS, T0 + 2 * SLOT_MS)
PATHS = {"bangkok:central": 4000, "bangkok:east": 2500, "central:north": 1500, "central:east": 2000}
ZONES = ("bangkok", "central", "north", "east")
SELLERS = ("wind_korat", "hydro_nan", "bkk_community_solar")
BUYERS = ("factory_rayong", "home_malee")

limits = st.lists(
    st.fixed_dictionaries(
        {
            "path": st.sampled_from(sorted(PATHS)),
            "congested": st.booleans(),
            "capacity_mw": st.integers(0, 3),  # 0..750 kWh a slot: paths fill up
            "slot": st.sampled_from(SLOTS),
            "one_slot": st.booleans(),
        }
    ),
    max_size=4,
)
orders = st.lists(
    st.fixed_dictionaries(
        {
            "seller": st.sampled_from(SELLERS),
            "buyer": st.sampled_from(BUYERS),
            "sell_zone": st.sampled_from(ZONES),
            "buy_zone": st.sampled_from(ZONES),
            "kwh": st.integers(1, 400),
            "slot": st.sampled_from(SLOTS),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limits=limits, orders=orders)
def test_fills_respect_every_limit_and_the_ledger_stays_whole(limits, orders):
    chain = MemoryChain(GENESIS, GENESIS.params)
    accounts = chain.store.tables["account"].values()
    supply = sum(a.total_tokens for a in accounts)
    energy = sum(a.energy_wh + a.escrow_wh for a in accounts)

    txs = []
    for lim in limits:
        zone_a, zone_b = lim["path"].split(":")
        payload = {
            "zone_a": zone_a,
            "zone_b": zone_b,
            "from_slot": lim["slot"],
            "congested": lim["congested"],
        }
        if lim["one_slot"]:
            payload["until_slot"] = lim["slot"] + SLOT_MS
        if not lim["congested"]:
            payload["capacity_mw"] = lim["capacity_mw"]
        txs.append(chain.tx("EGAT", "grid_path_limit", payload))
    assert all(r.ok for r in chain.block(txs).receipts)
    final = {lim.path_id: lim for lim in chain.store.tables.get("grid_path_limit", {}).values()}

    for o in orders:
        chain.block(
            [
                chain.tx(
                    o["seller"],
                    "order_place",
                    sell(slot=o["slot"], zone=o["sell_zone"], kwh=o["kwh"], price=3_000_000),
                ),
                chain.tx(
                    o["buyer"],
                    "order_place",
                    buy(slot=o["slot"], zone=o["buy_zone"], kwh=o["kwh"], price=4_000_000),
                ),
            ]
        )
    check_invariants(chain, supply, energy)
    for usage in chain.line_usage():
        pid = f"{usage.zone_a}:{usage.zone_b}"
        lim = final.get(pid)
        if lim is None or not lim.covers(usage.delivery_slot_ms):
            continue
        allowed = 0 if lim.congested else lim.capacity_mw * 250_000
        assert usage.used_wh <= allowed, (pid, usage, lim)
