"""Grid benchmark: what grid reports and the grid's capacity hook cost block application.

In-process over a MemoryStore, one core, as every site computes them:

- ``report_us``: one grid_report of all six regions with seven path flows, in
  its own block (as the demo's one report a second), state root included;
  median of BENCH_GRID_REPORTS blocks;
- ``ledger_orders_per_s`` and ``ledger_orders_per_s_no_grid``: the matching
  benchmark's ledger path (order_place over execute_block, blocks of
  BENCH_BLOCK) with the protocol's capacity limits (the grid's) installed, and without;
  ``grid_hook_ratio`` is the first over the second.

Prints one JSON object on its last line.

Environment: BENCH_GRID_REPORTS (300), BENCH_LEDGER_ORDERS (20000), BENCH_ACCOUNTS (500), BENCH_BLOCK (5000).
"""

import json
import os
import random
import statistics
import time

import protocol
from bench.matching import T0, order_flow, run_ledger
from chain.ledger.block import execute_block
from chain.ledger.genesis import demo_key, load_genesis
from chain.ledger.state import MemoryStore, State
from chain.ledger.tx import sign_transaction
from grid import simulator
from localnet import BASE_DIR
from trading.ledger import matching

# The state machine every site runs (protocol/__init__.py).
protocol.install()


def report_blocks(genesis, count: int) -> list[float]:
    store = MemoryStore.holding(genesis.records())
    key = demo_key("EGAT")
    rng = random.Random(3)
    params = genesis.params
    previous, timings = None, []
    for n in range(count):
        at = T0 + n * 1000
        payload, thermal = simulator.simulate(
            time_ms=at,
            previous=previous,
            regions=params["regions"],
            transmission=params["transmission"],
            traded_wh={},
            slot_ms=params["slot_minutes"] * 60_000,
            rng=rng,
        )
        previous = simulator.Previous(at, payload["regions"][0]["frequency_mhz"], thermal)
        tx = sign_transaction(key, chain_id=genesis.chain_id, nonce=n, kind="grid_report", payload=payload)
        tx.hash  # noqa: B018  (hashed before the clock, as admission does)
        started = time.perf_counter()
        state = State(store, store.accumulator)
        result = execute_block(
            state,
            [tx],
            chain_id=genesis.chain_id,
            height=n + 1,
            timestamp_ms=at,
            params=params,
            strict=True,
            verify_signatures=False,
        )
        state.root  # noqa: B018
        timings.append(time.perf_counter() - started)
        assert result.receipts[0].ok, result.receipts[0]
        store.write(state)
    return timings


def main() -> None:
    genesis = load_genesis(BASE_DIR / "thai_market.toml")
    reports = int(os.environ.get("BENCH_GRID_REPORTS", "300"))
    orders = int(os.environ.get("BENCH_LEDGER_ORDERS", "20000"))
    accounts = int(os.environ.get("BENCH_ACCOUNTS", "500"))
    block = int(os.environ.get("BENCH_BLOCK", "5000"))
    timings = report_blocks(genesis, reports)
    flow = order_flow(orders, accounts)
    seconds, trades, _ = run_ledger(flow, genesis, block)
    with_grid = orders / seconds
    matching.install_capacity_limits(())
    try:
        seconds, trades_no_grid, _ = run_ledger(flow, genesis, block)
    finally:
        protocol.install()
    without = orders / seconds
    assert trades == trades_no_grid  # no limit is set: the hook changes no fill
    figures = {
        "bench": "grid",
        "reports": reports,
        "report_us": round(statistics.median(timings) * 1e6),
        "report_p95_us": round(sorted(timings)[int(0.95 * len(timings)) - 1] * 1e6),
        "ledger_orders": orders,
        "ledger_orders_per_s": round(with_grid),
        "ledger_orders_per_s_no_grid": round(without),
        "grid_hook_ratio": round(with_grid / without, 3),
        "ledger_trades": trades,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
