"""Hypothesis: random order flow against the invariants and a naive reference matcher."""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.ledger.genesis import load_genesis
from tests.conftest import GENESIS_PATH
from tests.trading.harness import T0, MemoryChain, address, check_invariants
from tests.trading.routing_reference import reference_open_route
from trading.ledger.rules import BUY, DEFAULT_MAX_ROUTE_HOPS, rules_of, value_units

GENESIS = load_genesis(GENESIS_PATH)
#: One-minute slots and 1 MW paths: 16,666 Wh per slot and path, so paths fill up.
PARAMS = copy.deepcopy(GENESIS.params) | {"slot_minutes": 1}
for _path in PARAMS["transmission"]:
    _path["capacity_mw"] = 1
SLOT_MS = 15 * 60_000
SLOTS = (T0 + SLOT_MS, T0 + 2 * SLOT_MS)
ACTORS = ("solar_somchai", "wind_korat", "hydro_nan", "home_malee", "factory_rayong")
PRODUCERS = ACTORS[:3]
#: Zones joined by direct paths (central-bangkok, east-bangkok, north-central, central-east)
#: and by routes of several paths (south reaches bangkok only through central, north through
#: central or northeast), so fills take the cheapest route with room and fall back to dearer ones.
ZONES = ("bangkok", "central", "north", "east", "south", "northeast")
SOURCES = ("solar", "wind", "hydro", "biomass", "grid")
#: Asks mostly below bids so that orders cross, with odd prices to exercise rounding.
ASKS = (1_000_000, 1_234_567, 2_500_000, 3_000_001, 3_500_000)
BIDS = (3_000_001, 3_500_000, 3_999_999, 4_000_000)

places = st.fixed_dictionaries(
    {
        "action": st.just("place"),
        "buyer": st.sampled_from(ACTORS),
        "seller": st.sampled_from(PRODUCERS),
        "side": st.sampled_from(("buy", "sell")),
        "zone": st.sampled_from(ZONES),
        "energy_wh": st.one_of(st.integers(1, 300_000), st.sampled_from((100_000, 150_000, 200_000))),
        "ask": st.sampled_from(ASKS),
        "bid": st.sampled_from(BIDS),
        "slot": st.sampled_from((SLOTS[0], SLOTS[0], SLOTS[1])),
        "source": st.sampled_from(SOURCES),
        "sources": st.one_of(
            st.just("any"),
            st.just("any"),
            st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3, unique=True),
        ),
        "expires_in_ms": st.one_of(st.none(), st.sampled_from((60_000, 300_000))),
        # Mostly open to anyone; a private deal names an actor (itself too: refused in the block).
        "counterparty": st.one_of(st.none(), st.none(), st.none(), st.sampled_from(ACTORS)),
    }
)
cancels = st.fixed_dictionaries(
    {
        "action": st.just("cancel"),
        "by_owner": st.sampled_from((True, True, True, False)),
        "pick": st.integers(0, 10_000),
    }
)
blocks = st.lists(
    st.tuples(
        st.sampled_from((0, 0, 60_000, 420_000)),
        st.lists(st.one_of(places, places, places, cancels), min_size=1, max_size=12),
    ),
    min_size=2,
    max_size=6,
)


def build_txs(chain: MemoryChain, actions: list, placed: list, now_ms: int) -> list:
    txs = []
    for a in actions:
        if a["action"] == "cancel":
            if not placed:
                continue
            order_id, owner = placed[a["pick"] % len(placed)]
            who = owner if a["by_owner"] else next(x for x in ACTORS if x != owner)
            txs.append(chain.tx(who, "order_cancel", {"order_id": order_id}))
            continue
        payload = {
            "side": a["side"],
            "energy_wh": a["energy_wh"],
            "price_per_kwh": a["ask"] if a["side"] == "sell" else a["bid"],
            "zone": a["zone"],
            "delivery_slot": a["slot"],
        }
        payload |= {"source": a["source"]} if a["side"] == "sell" else {"sources": a["sources"]}
        if a["expires_in_ms"]:
            payload["expires_ms"] = now_ms + a["expires_in_ms"]
        if a["counterparty"]:
            payload["counterparty"] = address(a["counterparty"])
        who = a["seller"] if a["side"] == "sell" else a["buyer"]
        tx = chain.tx(who, "order_place", payload)
        placed.append((tx.hash, who))
        txs.append(tx)
    return txs


def totals(chain: MemoryChain) -> tuple[int, int]:
    accounts = chain.store.tables["account"].values()
    return sum(a.total_tokens for a in accounts), sum(a.energy_wh + a.escrow_wh for a in accounts)


def run(flow: list, params: dict = PARAMS, *, split: bool = False) -> tuple[MemoryChain, list]:
    """Run ``flow``; with ``split`` every transaction gets its own block at the same time."""
    chain = MemoryChain(GENESIS, params)
    supply, energy = totals(chain)
    placed: list = []
    now, history = T0, []
    for advance_ms, actions in flow:
        now += advance_ms
        txs = build_txs(chain, actions, placed, now)
        for group in [[tx] for tx in txs] or [[]] if split else [txs]:
            result = chain.block(group, timestamp_ms=now)
            history.append((now, group, result))
            check_invariants(chain, supply, energy)
    return chain, history


class ReferenceMarket:
    """The protocol's matching rules, written as plainly as possible (quadratic, no index)."""

    def __init__(self, params):
        self.rules = rules_of(params)
        self.open: list[dict] = []
        self.used: dict = {}
        self.trades: list = []
        self.n = 0

    def begin_block(self, now_ms):
        gate = self.rules.gate_closure_ms
        self.open = [
            o
            for o in self.open
            if o["slot"] - gate > now_ms and not (o["expires"] and o["expires"] <= now_ms)
        ]

    def cancel(self, order_id):
        self.open = [o for o in self.open if o["id"] != order_id]

    def place(self, tx):
        p = tx.payload
        self.n += 1
        taker = {
            "id": tx.hash,
            "owner": tx.sender,
            "side": p["side"],
            "zone": p["zone"],
            "slot": p["delivery_slot"],
            "price": p["price_per_kwh"],
            "left": p["energy_wh"],
            "source": p.get("source"),
            "accepts": p.get("sources"),
            "expires": p.get("expires_ms", 0),
            "counterparty": p.get("counterparty") or "",
            "n": self.n,
        }
        is_buy = taker["side"] == BUY
        crossing = [
            o
            for o in self.open
            if o["side"] != taker["side"]
            and o["slot"] == taker["slot"]
            and (o["price"] <= taker["price"] if is_buy else o["price"] >= taker["price"])
        ]
        crossing.sort(key=lambda o: (o["price"] if is_buy else -o["price"], o["n"]))
        for maker in crossing:
            if not taker["left"]:
                break
            buy, sell = (taker, maker) if is_buy else (maker, taker)
            if maker["owner"] == taker["owner"]:
                continue
            # A private deal trades with the account it names and no other, whichever side rests.
            if taker["counterparty"] and maker["owner"] != taker["counterparty"]:
                continue
            if maker["counterparty"] and maker["counterparty"] != taker["owner"]:
                continue
            if buy["accepts"] != "any" and sell["source"] not in buy["accepts"]:
                continue
            wh = min(taker["left"], maker["left"])
            fee = 0
            if buy["zone"] != sell["zone"]:
                free = {
                    key: path.capacity_wh_per_slot - self.used.get((taker["slot"], *key), 0)
                    for key, path in self.rules.paths.items()
                }
                keys, room = reference_open_route(
                    self.rules, free, sell["zone"], buy["zone"], DEFAULT_MAX_ROUTE_HOPS
                )
                if keys is None:
                    continue
                wh = min(wh, room)
                for key in keys:
                    self.used[(taker["slot"], *key)] = self.used.get((taker["slot"], *key), 0) + wh
                    fee += value_units(wh, self.rules.paths[key].wheeling_fee_per_kwh)
            taker["left"] -= wh
            maker["left"] -= wh
            self.trades.append((buy["id"], sell["id"], wh, maker["price"], fee))
        self.open = [o for o in self.open if o["left"]]
        if taker["left"]:
            self.open.append(taker)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks)
def test_random_flow_keeps_the_invariants_and_matches_the_reference(flow):
    chain, history = run(flow)
    reference = ReferenceMarket(PARAMS)
    for now, txs, result in history:
        reference.begin_block(now)
        for tx, receipt in zip(txs, result.receipts, strict=True):
            if not receipt.ok:
                continue
            if tx.kind == "order_place":
                reference.place(tx)
            else:
                reference.cancel(tx.payload["order_id"])
    got = [
        (t.buy_order_id, t.sell_order_id, t.energy_wh, t.price_per_kwh, t.wheeling_fee_tokens)
        for t in chain.trades()
    ]
    assert got == reference.trades
    # Fees conserved: the buyers paid the sellers' proceeds plus the fees, and the grid
    # operator got exactly the fees (supply and Wh are checked after every block).
    operator = rules_of(PARAMS).grid_operator
    operator_start = MemoryChain(GENESIS, PARAMS).account(operator).balance
    assert chain.account(operator).balance == operator_start + sum(
        t.wheeling_fee_tokens for t in chain.trades()
    )
    # kWh sold never exceed kWh had: every account's energy stayed non-negative throughout
    # (check_invariants) and sells only ever move Wh out of escrow.
    sold = {}
    for t in chain.trades():
        sold[t.seller] = sold.get(t.seller, 0) + t.energy_wh
    for who in ACTORS:
        genesis_wh = next(a["energy_kwh"] for a in GENESIS.accounts if a["username"] == who) * 1000
        bought = sum(t.energy_wh for t in chain.trades() if t.buyer == address(who))
        assert sold.get(address(who), 0) <= genesis_wh + bought


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks)
def test_the_same_blocks_give_the_same_state_root(flow):
    first, _ = run(flow)
    second, _ = run(flow)
    assert first.store.root == second.store.root


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks.map(lambda flow: [(0, [a for _, actions in flow for a in actions])]))
def test_fills_and_balances_do_not_depend_on_how_transactions_are_split_into_blocks(flow):
    together, _ = run(flow)
    apart, _ = run(flow, split=True)
    trades = [
        (t.buy_order_id, t.sell_order_id, t.energy_wh, t.price_per_kwh, t.wheeling_fee_tokens)
        for t in together.trades()
    ]
    assert trades == [
        (t.buy_order_id, t.sell_order_id, t.energy_wh, t.price_per_kwh, t.wheeling_fee_tokens)
        for t in apart.trades()
    ]
    assert sorted(together.line_usage(), key=lambda u: u.key) == sorted(
        apart.line_usage(), key=lambda u: u.key
    )
    assert totals(together) == totals(apart)
    for address_, account in together.store.tables["account"].items():
        other = apart.account(address_)
        assert (account.balance, account.escrow_tokens, account.energy_wh, account.escrow_wh) == (
            other.balance,
            other.escrow_tokens,
            other.energy_wh,
            other.escrow_wh,
        )
