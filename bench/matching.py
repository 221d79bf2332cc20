"""Matching benchmark: the matcher alone, in-process, on one core.

Random crossing order flow: buys and sells around one price, 1 to 200 kWh each
so most fills are partial, from BENCH_ACCOUNTS accounts (self-trades are passed
over), a fifth of the orders in a neighbouring zone (fills over the path pay its
fee and use its capacity), a tenth of the buys taking only some sources.

Three figures on the same flow, each the median of BENCH_ROUNDS runs:

- ``orders_per_s``: trading.ledger.book.Book, the real matcher, with every rule;
- ``bare_orders_per_s``: a bare price-time book (same structures, no self-trade,
  source or grid rules) as the yardstick; ``bare_ratio`` is bare / real;
- ``ledger_orders_per_s``: the whole ledger path for the first
  BENCH_LEDGER_ORDERS orders: signed-transaction payload checks, escrow,
  matching, records, events and the state root, ``execute_block`` over a
  MemoryStore in blocks of BENCH_BLOCK transactions, as every site computes
  them (transactions hashed before the clock; signatures not verified here).

Prints one JSON object on its last line.

Environment: BENCH_ORDERS (200000), BENCH_LEDGER_ORDERS (50000), BENCH_ACCOUNTS (500),
BENCH_BLOCK (5000), BENCH_ROUNDS (3).
"""

import json
import os
import random
import statistics
import time
from bisect import insort
from collections import deque

import protocol
from chain.ledger.block import execute_block
from chain.ledger.genesis import load_genesis
from chain.ledger.state import Account, MemoryStore, State
from chain.ledger.tx import Transaction
from localnet import BASE_DIR
from trading.ledger.book import Book, Resting
from trading.ledger.rules import rules_of

# The state machine every site runs, grid capacity limits included (protocol/__init__.py).
protocol.install()

T0 = 1_800_000_000_000
SLOT = T0 + 3_600_000
SOURCES = ("solar", "wind", "hydro")


def order_flow(count: int, accounts: int, seed: int = 7) -> list[dict]:
    """``count`` order_place payloads with their senders, crossing around 3.5 tokens/kWh."""
    rng = random.Random(seed)
    addresses = [f"{i:064x}" for i in range(1, accounts + 1)]
    flow = []
    for _ in range(count):
        side = rng.choice(("buy", "sell"))
        payload = {
            "side": side,
            "energy_wh": rng.randint(1, 200) * 1000,
            "price_per_kwh": 3_500_000 + rng.randint(-20, 20) * 10_000,
            "zone": "central" if rng.random() < 0.2 else "bangkok",
            "delivery_slot": SLOT,
        }
        if side == "sell":
            payload["source"] = rng.choice(SOURCES)
        else:
            payload["sources"] = sorted(rng.sample(SOURCES, 2)) if rng.random() < 0.1 else "any"
        flow.append({"sender": rng.choice(addresses), "payload": payload})
    return flow


def real_entries(flow: list[dict]) -> list[tuple[Resting, bool]]:
    entries = []
    for n, order in enumerate(flow):
        p = order["payload"]
        is_buy = p["side"] == "buy"
        accepts = None if not is_buy or p["sources"] == "any" else frozenset(p["sources"])
        entry = Resting(
            f"{n:064x}",
            order["sender"],
            p["zone"],
            p["price_per_kwh"],
            p["energy_wh"],
            p.get("source", ""),
            accepts,
        )
        entries.append((entry, is_buy))
    return entries


def run_real(flow: list[dict], rules) -> tuple[float, int]:
    entries = real_entries(flow)
    free_wh = {key: path.capacity_wh_per_slot for key, path in rules.paths.items()}
    book = Book(rules.routes, free_wh)
    place = book.place
    fills = 0
    started = time.perf_counter()
    for entry, is_buy in entries:
        fills += len(place(entry, is_buy))
    return time.perf_counter() - started, fills


class BareOrder:
    __slots__ = ("order_id", "price", "remaining")

    def __init__(self, order_id: str, price: int, remaining: int) -> None:
        self.order_id, self.price, self.remaining = order_id, price, remaining


class BareBook:
    """Price-time priority and partial fills at the resting price, and nothing else."""

    def __init__(self) -> None:
        self.levels = ({}, {})  # asks, bids: price key -> FIFO
        self.keys = ([], [])  # sorted price keys, best last
        self.orders = {}

    def place(self, taker: BareOrder, is_buy: bool) -> list:
        fills = []
        remaining = taker.remaining
        levels, keys = self.levels[not is_buy], self.keys[not is_buy]
        limit = -taker.price if is_buy else taker.price
        while remaining and keys and keys[-1] >= limit:
            key = keys[-1]
            queue = levels[key]
            while queue:
                maker = queue[0]
                energy_wh = remaining if remaining < maker.remaining else maker.remaining
                maker.remaining -= energy_wh
                remaining -= energy_wh
                fills.append((maker, energy_wh))
                if maker.remaining:
                    break
                queue.popleft()
                del self.orders[maker.order_id]
                if not remaining:
                    break
            if not queue:
                del levels[key]
                keys.pop()
        taker.remaining = remaining
        if remaining:
            key = taker.price if is_buy else -taker.price
            side_levels, side_keys = self.levels[is_buy], self.keys[is_buy]
            queue = side_levels.get(key)
            if queue is None:
                queue = side_levels[key] = deque()
                insort(side_keys, key)
            queue.append(taker)
            self.orders[taker.order_id] = taker
        return fills


def run_bare(flow: list[dict]) -> tuple[float, int]:
    entries = [
        (
            BareOrder(f"{n:064x}", o["payload"]["price_per_kwh"], o["payload"]["energy_wh"]),
            o["payload"]["side"] == "buy",
        )
        for n, o in enumerate(flow)
    ]
    book = BareBook()
    place = book.place
    fills = 0
    started = time.perf_counter()
    for entry, is_buy in entries:
        fills += len(place(entry, is_buy))
    return time.perf_counter() - started, fills


def run_ledger(flow: list[dict], genesis, block_size: int) -> tuple[float, int, int]:
    """The whole ledger path: execute_block and the state root, block by block."""
    traders = [Account(address=a, balance=10**13, energy_wh=10**10) for a in {o["sender"] for o in flow}]
    store = MemoryStore.holding([*genesis.records(), *traders])

    nonces: dict[str, int] = {}
    txs = []
    for order in flow:
        sender = order["sender"]
        nonce = nonces[sender] = nonces.get(sender, -1) + 1
        tx = Transaction(genesis.chain_id, sender, nonce, "order_place", order["payload"], "")
        tx.hash  # noqa: B018  (computed before the clock, as admission does)
        txs.append(tx)

    trades = blocks = 0
    started = time.perf_counter()
    for height, start in enumerate(range(0, len(txs), block_size), start=1):
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
    return time.perf_counter() - started, trades, blocks


def main() -> None:
    orders = int(os.environ.get("BENCH_ORDERS", 200_000))
    ledger_orders = min(orders, int(os.environ.get("BENCH_LEDGER_ORDERS", 50_000)))
    accounts = int(os.environ.get("BENCH_ACCOUNTS", 500))
    block_size = int(os.environ.get("BENCH_BLOCK", 5_000))
    rounds = int(os.environ.get("BENCH_ROUNDS", 3))
    genesis = load_genesis(BASE_DIR / "thai_market.toml")
    rules = rules_of(genesis.params)
    flow = order_flow(orders, accounts)

    real, bare = [], []
    for _ in range(rounds):
        seconds, fills = run_real(flow, rules)
        real.append(orders / seconds)
        seconds, bare_fills = run_bare(flow)
        bare.append(orders / seconds)
    seconds, trades, blocks = run_ledger(flow[:ledger_orders], genesis, block_size)
    real_rate, bare_rate = statistics.median(real), statistics.median(bare)
    print(
        json.dumps(
            {
                "bench": "matching",
                "orders": orders,
                "orders_per_s": round(real_rate),
                "fills": fills,
                "bare_orders_per_s": round(bare_rate),
                "bare_fills": bare_fills,
                "bare_ratio": round(bare_rate / real_rate, 2),
                "rounds": rounds,
                "ledger_orders": ledger_orders,
                "ledger_orders_per_s": round(ledger_orders / seconds),
                "ledger_trades": trades,
                "ledger_blocks": blocks,
            }
        )
    )


if __name__ == "__main__":
    main()
