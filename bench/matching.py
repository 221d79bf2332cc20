"""Matching benchmark: the market core alone, in-process, on one core.

Random crossing order flow (buys and sells around one price, partial fills,
a fifth of them in a neighbouring zone so paths fill up) for BENCH_ORDERS
orders from BENCH_ACCOUNTS funded accounts, applied in blocks of BENCH_BLOCK
transactions with ``execute_block`` over a MemoryStore: payload checks,
escrow, matching, settlement, records and the state root, as every site
computes them. Transactions are built and hashed before the clock starts
(a site gets hashes from admission); signatures are not verified here.

Prints one JSON object on its last line: orders/s, trades, blocks.

Environment: BENCH_ORDERS (50000), BENCH_ACCOUNTS (500), BENCH_BLOCK (5000).
"""

import json
import os
import random
import time

import trading.ledger  # noqa: F401  (registers the market)
from chain.ledger.block import execute_block
from chain.ledger.genesis import load_genesis
from chain.ledger.state import Account, MemoryStore, State
from chain.ledger.tx import Transaction
from gridtokenx_site.testsite import BASE_DIR

T0 = 1_800_000_000_000
SLOT = T0 + 3_600_000


def main() -> None:
    orders = int(os.environ.get("BENCH_ORDERS", 50_000))
    accounts = int(os.environ.get("BENCH_ACCOUNTS", 500))
    block_size = int(os.environ.get("BENCH_BLOCK", 5_000))
    genesis = load_genesis(BASE_DIR / "thai_market.toml")
    rng = random.Random(7)

    store = MemoryStore()
    state = State(store, 0)
    addresses = [f"{i:064x}" for i in range(1, accounts + 1)]
    for record in genesis.records():
        state.put(record)
    for address in addresses:
        state.put(Account(address=address, balance=10**13, energy_wh=10**10))
    state.commit_tx()
    store.write(state)

    nonces = dict.fromkeys(addresses, 0)
    txs = []
    for _ in range(orders):
        sender = rng.choice(addresses)
        side = rng.choice(("buy", "sell"))
        zone = "central" if rng.random() < 0.2 else "bangkok"
        price = 3_500_000 + rng.randint(-20, 20) * 10_000
        payload = {
            "side": side,
            "energy_wh": rng.randint(1, 200) * 1000,
            "price_per_kwh": price,
            "zone": zone,
            "delivery_slot": SLOT,
        }
        payload |= (
            {"source": rng.choice(("solar", "wind", "hydro"))} if side == "sell" else {"sources": "any"}
        )
        tx = Transaction(genesis.chain_id, sender, nonces[sender], "order_place", payload, "")
        tx.hash  # noqa: B018  (computed before the clock, as admission does)
        nonces[sender] += 1
        txs.append(tx)

    trades = blocks = 0
    started = time.perf_counter()
    for height, start in enumerate(range(0, orders, block_size), start=1):
        state = State(store, store.accumulator)
        result = execute_block(
            state,
            txs[start : start + block_size],
            chain_id=genesis.chain_id,
            height=height,
            timestamp_ms=T0 + height,
            params=genesis.params,
            strict=True,
            verify_signatures=False,
        )
        state.root  # noqa: B018  (the state root is part of every block)
        store.write(state)
        trades += sum(1 for e in result.events if e["type"] == "trade")
        blocks += 1
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "bench": "matching",
                "orders": orders,
                "orders_per_s": round(orders / elapsed),
                "trades": trades,
                "blocks": blocks,
                "seconds": round(elapsed, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
