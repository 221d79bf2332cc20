"""Call auction benchmark: one zone's slot of BENCH_ORDERS orders cleared at gate closure, on one core.

The orders: half buys, half sells, 1 to 200 kWh each, crossing around 3.5 tokens/kWh,
from BENCH_ACCOUNTS accounts (an account's own bid and ask that meet trade nothing).
Three figures, each the median of BENCH_ROUNDS runs:

- ``clear_s``: trading.ledger.auction.uniform_clearing alone (the rule: sort, walk, price);
- ``sort_s``: sorting the two sides by their priority keys, what any clearing must do
  first: the yardstick; ``sort_ratio`` is clear / sort;
- ``block_s``: the whole gate-closure block over a MemoryStore holding the orders: the
  call cleared by the block-start hook (every trade record and event, every order and
  account moved, the call's record), the gate closing what is left, and the state root,
  as every site computes them; ``orders_per_s`` is orders / block_s.

Placing the orders (execute_block, in blocks of BENCH_BLOCK) is not timed.
Prints one JSON object on its last line.

Environment: BENCH_ORDERS (100000), BENCH_ACCOUNTS (500), BENCH_BLOCK (5000), BENCH_ROUNDS (3).
"""

import json
import os
import random
import statistics
import time

import protocol
from chain.ledger.block import execute_block
from chain.ledger.genesis import load_genesis
from chain.ledger.state import Account, MemoryStore, State
from chain.ledger.tx import Transaction
from localnet import BASE_DIR
from trading.ledger.auction import uniform_clearing
from trading.ledger.records import OPEN, Order
from trading.ledger.rules import BUY, CALL_AUCTION_ZONES

protocol.install()

T0 = 1_800_000_000_000
SLOT = T0 + 3_600_000
ZONE = "bangkok"


def order_flow(count: int, accounts: int, seed: int = 11) -> list[tuple[str, dict]]:
    """``count`` (sender, order_place payload) for one call, crossing around 3.5 tokens/kWh."""
    rng = random.Random(seed)
    addresses = [f"{i:064x}" for i in range(1, accounts + 1)]
    flow = []
    for _ in range(count):
        side = rng.choice(("buy", "sell"))
        payload = {
            "side": side,
            "energy_wh": rng.randint(1, 200) * 1000,
            "price_per_kwh": 3_500_000 + rng.randint(-50, 50) * 10_000,
            "zone": ZONE,
            "delivery_slot": SLOT,
        }
        payload.update({"sources": "any"} if side == BUY else {"source": "solar"})
        flow.append((rng.choice(addresses), payload))
    return flow


def placed_store(flow, genesis, params: dict, block_size: int) -> tuple[MemoryStore, int]:
    """A store holding every order of ``flow`` open in the call; the next height."""
    traders = [Account(address=a, balance=10**13, energy_wh=10**10) for a in {s for s, _ in flow}]
    store = MemoryStore.holding([*genesis.records(), *traders])
    nonces: dict[str, int] = {}
    txs = []
    for sender, payload in flow:
        nonce = nonces[sender] = nonces.get(sender, -1) + 1
        txs.append(Transaction(genesis.chain_id, sender, nonce, "order_place", payload, ""))
    height = 1
    for start in range(0, len(txs), block_size):
        state = State(store, store.accumulator)
        result = execute_block(
            state,
            txs[start : start + block_size],
            chain_id=genesis.chain_id,
            height=height,
            timestamp_ms=T0 + height,
            params=params,
            strict=True,
            verify_signatures=False,
        )
        assert not any(e["type"] == "trade" for e in result.events), "a call's order traded on arrival"
        store.write(state)
        height += 1
    return store, height


def clear_block(store: MemoryStore, genesis, params: dict, height: int) -> tuple[float, int, dict]:
    """The gate-closure block, timed: seconds, trades, and the call's record."""
    gate_ms = SLOT - params["gate_closure_minutes"] * 60_000
    started = time.perf_counter()
    state = State(store, store.accumulator)
    result = execute_block(
        state,
        [],
        chain_id=genesis.chain_id,
        height=height,
        timestamp_ms=gate_ms,
        params=params,
        strict=True,
        verify_signatures=False,
    )
    state.root  # noqa: B018  (the state root is part of every block)
    seconds = time.perf_counter() - started
    [cleared] = [e for e in result.events if e["type"] == "call_cleared"]
    return seconds, sum(1 for e in result.events if e["type"] == "trade"), cleared


def as_orders(store: MemoryStore) -> tuple[list[Order], list[Order]]:
    orders = [o for o in store.tables["order"].values() if o.status == OPEN]
    return [o for o in orders if o.side == BUY], [o for o in orders if o.side != BUY]


def main() -> None:
    count = int(os.environ.get("BENCH_ORDERS", 100_000))
    accounts = int(os.environ.get("BENCH_ACCOUNTS", 500))
    block_size = int(os.environ.get("BENCH_BLOCK", 5_000))
    rounds = int(os.environ.get("BENCH_ROUNDS", 3))
    genesis = load_genesis(BASE_DIR / "thai_market.toml")
    params = {**genesis.params, CALL_AUCTION_ZONES: [ZONE], "max_call_orders": count}
    flow = order_flow(count, accounts)

    clear, sort, block = [], [], []
    for _ in range(rounds):
        store, height = placed_store(flow, genesis, params, block_size)
        bids, asks = as_orders(store)
        started = time.perf_counter()
        sorted(bids, key=lambda o: (-o.price_per_kwh, o.placed_height, o.seq))
        sorted(asks, key=lambda o: (o.price_per_kwh, o.placed_height, o.seq))
        sort.append(time.perf_counter() - started)
        started = time.perf_counter()
        clearing = uniform_clearing(bids, asks)
        clear.append(time.perf_counter() - started)
        seconds, trades, cleared = clear_block(store, genesis, params, height)
        block.append(seconds)
    clear_s, sort_s, block_s = (statistics.median(x) for x in (clear, sort, block))
    print(
        json.dumps(
            {
                "bench": "auction",
                "orders": count,
                "price_per_kwh": clearing.price_per_kwh,
                "matched_wh": clearing.matched_wh,
                "trades": trades,
                "volume_wh": cleared["volume_wh"],
                "clear_s": round(clear_s, 4),
                "sort_s": round(sort_s, 4),
                "sort_ratio": round(clear_s / sort_s, 2),
                "block_s": round(block_s, 3),
                "orders_per_s": round(count / block_s),
                "rounds": rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
