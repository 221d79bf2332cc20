"""Market benchmark: signed orders through the REST API of a real site, to fills committed.

Starts a whole site (daphne, Celery worker and beat, its own PostgreSQL
database) as the live tests do, from a bench-only genesis: the demo genesis
plus BENCH_TRADERS funded accounts (a third producers with kWh, two thirds
consumers with tokens; keys from the demo seeds of their usernames). Every
order is signed before the clock starts; then BENCH_THREADS client threads,
each owning a group of traders so that their nonces arrive in order, offer
BENCH_RATE orders/s for BENCH_SECONDS in batches of BENCH_BATCH per POST to
/api/v1/transactions/.

After a warm-up round of orders (filled before the clock starts), the flow
crosses and balances: every sell is 2 kWh at 3.0..3.5 tokens/kWh, a
fifth of them from the central zone (wheeling over the central-bangkok path),
every buy 1 kWh in Bangkok at 4.0..4.5 tokens/kWh, two buys per sell in every
batch, so each sell fills in two parts and every order fills completely.

An order counts as filled when the trades committed to the site's database
(the rows GET /api/v1/market/trades/ reads) add up to its energy; trades are
polled every POLL_S, so latencies err on the slow side by up to one poll.
Submit time is when its batch's POST was sent.

Prints one JSON object on its last line: filled orders/s, p50/p95/p99 seconds
from submit to filled, blocks, average transactions per block, CPU per order.

Overload (bench.overload): BENCH_RATES="800,1600,2400" offers each rate in turn on the same
site, BENCH_OVERLOAD=3 then three times the knee; a batch refused 503 is resent at its thread's
next slot (its traders' later orders wait for it), so the load offered stays what was asked,
and the time each refusal took is kept.

Environment: BENCH_SECONDS (20), BENCH_RATE (3200) or BENCH_RATES, BENCH_OVERLOAD (0),
BENCH_BATCH (600),
BENCH_THREADS (4), BENCH_TRADERS (240), BENCH_BLOCK_INTERVAL_MS (100: beat
starts a block on the next tick after the last one ends, so a coarser tick
adds up to a tick to every block), BENCH_DRAIN_SECONDS (30).
"""

import json
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.ledger import _blocks, _cpu_seconds, _env_int, _latency_figures, _percentile, _pg, offer_batch
from bench.limits import signature_limit, verify_seconds
from bench.overload import rates_from_env, refusal_figures, stepped
from chain.ledger.genesis import load_genesis
from gtxclient import Key, Site, sign_transaction
from localnet import BASE_DIR
from localnet.network import start_site, stop_site

POLL_S = 0.05
TOKEN = 1_000_000
SELL_WH, BUY_WH = 2_000, 1_000
#: Far enough ahead that the slot stays open however long the run takes.
SLOT_AHEAD_MS = 2 * 3_600_000


def trader_name(index: int) -> str:
    return f"bench_trader_{index}"


def is_seller(index: int) -> bool:
    return index % 3 == 0


def bench_genesis(path: Path, traders: int) -> None:
    """The demo genesis plus the bench's traders, written to ``path``."""
    lines = [(BASE_DIR / "thai_market.toml").read_text()]
    for index in range(traders):
        name = trader_name(index)
        seller = is_seller(index)
        lines.append(
            "\n[[accounts]]\n"
            f'username = "{name}"\n'
            f'display_name = "Bench trader {index}"\n'
            f'role = "{"producer" if seller else "consumer"}"\n'
            f'region = "{"central" if seller and index % 5 == 0 else "bangkok"}"\n'
            f'address = "{Key.demo(name).address}"\n'
            f"tokens = {1_000 if seller else 1_000_000}\n"
            f"energy_kwh = {1_000_000 if seller else 0}\n"
        )
    path.write_text("".join(lines))


def _order(index: int, slot_ms: int, rng: random.Random) -> dict:
    if is_seller(index):
        return {
            "side": "sell",
            "energy_wh": SELL_WH,
            "price_per_kwh": 3_000_000 + rng.randint(0, 50) * 10_000,
            "zone": "central" if index % 5 == 0 else "bangkok",
            "delivery_slot": slot_ms,
            "source": rng.choice(("solar", "wind", "hydro")),
        }
    return {
        "side": "buy",
        "energy_wh": BUY_WH,
        "price_per_kwh": 4_000_000 + rng.randint(0, 50) * 10_000,
        "zone": "bangkok",
        "delivery_slot": slot_ms,
        "sources": "any",
    }


def _sign_batch(
    chain_id: str, trader_indexes: list[int], first_round: int, rounds: int, slot_ms: int
) -> tuple[bytes, list[tuple[str, int]]]:
    """One POST body and its orders (hash, energy): ``rounds`` rounds over the group's traders.

    Every trader places one order per round, with the round as its nonce; a
    group holds two buyers per seller, so every round balances sold and bought Wh.
    """
    rng = random.Random(first_round * 1_000_003 + trader_indexes[0])
    keys = {i: Key.demo(trader_name(i)) for i in trader_indexes}
    wires, orders = [], []
    for r in range(first_round, first_round + rounds):
        for index in trader_indexes:
            payload = _order(index, slot_ms, rng)
            tx = sign_transaction(
                keys[index], chain_id=chain_id, nonce=r, kind="order_place", payload=payload
            )
            wires.append(tx.wire())
            orders.append((tx.hash, payload["energy_wh"]))
    return json.dumps(wires).encode(), orders


class OrderBatches:
    """Each client thread's pre-signed batches, signed ahead of the steps that send them: batch
    ``j`` of a thread holds rounds 1 + j * rounds onward (round 0 is the warm-up)."""

    def __init__(self, chain_id: str, groups: list[list[int]], rounds: int, slot_ms: int):
        self.chain_id, self.groups, self.rounds, self.slot_ms = chain_id, groups, rounds, slot_ms
        self.batches: list[list] = [[] for _ in groups]

    def ensure(self, per_thread: int) -> None:
        missing = per_thread - len(self.batches[0])
        if missing <= 0:
            return
        t_sign = time.monotonic()
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            futures = [
                [
                    pool.submit(
                        _sign_batch, self.chain_id, group, 1 + j * self.rounds, self.rounds, self.slot_ms
                    )
                    for j in range(len(self.batches[t]), per_thread)
                ]
                for t, group in enumerate(self.groups)
            ]
            for t, row in enumerate(futures):
                self.batches[t].extend(f.result() for f in row)
        orders = missing * len(self.groups) * self.rounds * len(self.groups[0])
        print(f"signed {orders} orders in {time.monotonic() - t_sign:.1f}s", flush=True)


def run() -> dict:
    seconds = _env_int("BENCH_SECONDS", 20)
    rates, overload = rates_from_env(3200)
    batch = _env_int("BENCH_BATCH", 600)
    threads = _env_int("BENCH_THREADS", 4)
    traders = _env_int("BENCH_TRADERS", 240)
    interval_ms = _env_int("BENCH_BLOCK_INTERVAL_MS", 100)
    drain_s = _env_int("BENCH_DRAIN_SECONDS", 30)
    group = traders // threads // 3 * 3  # whole seller-buyer-buyer triples per thread
    rounds = max(1, batch // group)
    batch = group * rounds
    groups = [list(range(t * group, (t + 1) * group)) for t in range(threads)]

    verify_s = verify_seconds()  # before the site runs
    tmp = Path(tempfile.mkdtemp(prefix="bench-market-"))
    bench_genesis(tmp / "genesis.toml", threads * group)
    genesis = load_genesis(tmp / "genesis.toml")
    now_ms = time.time_ns() // 1_000_000
    slot_ms = (now_ms + SLOT_AHEAD_MS) // 900_000 * 900_000
    signed = OrderBatches(genesis.chain_id, groups, rounds, slot_ms)
    signed.ensure(-(-rates[0] * seconds // (batch * threads)))
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        warmup = [
            f.result() for f in [pool.submit(_sign_batch, genesis.chain_id, g, 0, 1, slot_ms) for g in groups]
        ]

    site, procs = start_site(
        tmp,
        block_interval_ms=interval_ms,
        extra_env={"GTX_GENESIS": str(tmp / "genesis.toml")},
    )
    try:
        conn = _pg(site.database_url)
        _warm_up(site, conn, warmup)
        sent = [0] * threads  # the batches each thread's traders have had admitted so far

        def step(rate: int) -> dict:
            per_thread = -(-rate * seconds // (batch * threads))
            signed.ensure(max(sent) + per_thread)
            rows = [signed.batches[t][sent[t] : sent[t] + per_thread] for t in range(threads)]
            start_height = conn.execute("SELECT height FROM chain_chainhead").fetchone()[0]
            print(f"offering {rate} orders/s for {seconds}s", flush=True)
            cpu_before = _cpu_seconds(procs)
            result = _measure(site, conn, rows, rate, seconds, drain_s, start_height)
            for t, admitted in enumerate(result.pop("admitted_batches")):
                sent[t] += admitted
            cpu = {name: round(t - cpu_before[name], 2) for name, t in _cpu_seconds(procs).items()}
            limit = signature_limit(
                sites=1, finalized_tx_per_s=result["filled_orders_per_s"], verify_s=verify_s
            )
            return (
                result
                | limit
                | {"offered": rate, **_blocks(conn, start_height), **_block_gaps(conn, start_height)}
                | {
                    "cpu_us_per_order": {
                        name: round(t * 1e6 / max(result["filled"], 1)) for name, t in cpu.items()
                    }
                }
            )

        result = stepped(step, rates, overload, throughput="filled_orders_per_s")
        return result | {
            "batch": batch,
            "client_threads": threads,
            "traders": threads * group,
            "block_interval_ms": interval_ms,
        }
    finally:
        stop_site(site, procs)


def _warm_up(site, conn, warmup: list) -> None:
    """One round of orders from every trader (nonce 0), filled before the clock starts.

    The site's first blocks import and prepare what later ones reuse; a steady
    state is what the figures describe.
    """
    with Site(site.url, timeout=30) as http:
        for body, _ in warmup:
            http.submit_body(body)
    count = sum(len(orders) for _, orders in warmup)
    filled_sql = "SELECT count(*) FROM trading_order WHERE status = 'filled'"
    site.wait_for(lambda: conn.execute(filled_sql).fetchone()[0] >= count, timeout=60)


def _measure(site, conn, signed, rate, seconds, drain_s, start_height) -> dict:
    threads = len(signed)
    batch = len(signed[0][0][1])
    sent_at: dict[str, float] = {}  # order hash -> submit time
    wanted: dict[str, int] = {h: wh for row in signed for _, orders in row for h, wh in orders}
    rejected: list[str] = []
    refusals: list[float] = []  # seconds each 503 took to come back
    admitted = [0] * threads
    lock = threading.Lock()
    t0 = time.monotonic() + 0.2
    end = t0 + seconds

    def backed_off(seconds: float) -> None:
        with lock:
            refusals.append(seconds)

    def client(t: int) -> None:
        with Site(site.url, timeout=60) as http:
            for j, (body, orders) in enumerate(signed[t]):
                due = t0 + (j * threads + t) * batch / rate
                if due >= end:
                    return
                time.sleep(max(0.0, due - time.monotonic()))

                def mark_sent(sent: float, orders=orders) -> None:
                    with lock:  # before the POST: a fill may be polled before it returns
                        sent_at.update((order_hash, sent) for order_hash, _ in orders)

                _, refused = offer_batch(
                    http,
                    body,
                    until=end,
                    on_backpressure=backed_off,
                    before_send=mark_sent,
                    retry_every=threads * batch / rate,
                )
                if refused is not None:
                    with lock:
                        rejected.append(refused.text[:300])
                        for order_hash, _ in orders:
                            del sent_at[order_hash]
                    return  # later nonces of these traders wait for this batch (the next step)
                admitted[t] += 1

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()

    latencies: list[float] = []
    seen_height = start_height
    last_fill = t0
    deadline = end + drain_s
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        rows = conn.execute(
            "SELECT height, buy_order_id, sell_order_id, energy_wh FROM trading_trade WHERE height > %s",
            [seen_height],
        ).fetchall()
        now = time.monotonic()
        for height, buy_id, sell_id, energy_wh in rows:
            seen_height = max(seen_height, height)
            for order_hash in (buy_id, sell_id):
                left = wanted.get(order_hash)
                if left is None:
                    continue
                left -= energy_wh
                wanted[order_hash] = left
                if not left:
                    with lock:
                        latencies.append(now - sent_at[order_hash])
                    last_fill = now
        clients_done = not any(w.is_alive() for w in workers)
        if clients_done and len(latencies) >= len(sent_at):
            break
    for w in workers:
        w.join(timeout=60)

    latencies.sort()
    committed, failed = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT ok) FROM chain_chaintx "
        "WHERE kind = 'order_place' AND block_id > %s",
        [start_height],
    ).fetchone()
    elapsed = max(last_fill - t0, 1e-9)
    return {
        "bench": "market",
        "seconds": seconds,
        "offered_orders_per_s": rate,
        "submitted": len(sent_at),
        "committed": committed,
        "failed_receipts": failed,
        "filled": len(latencies),
        "rejected_batches": len(rejected),
        **refusal_figures(refusals),
        "first_rejection": rejected[0] if rejected else None,
        "admitted_batches": admitted,
        "filled_orders_per_s": round(len(latencies) / elapsed, 1),
        **_latency_figures(latencies),
    }


def _block_gaps(conn, start_height: int) -> dict:
    """Seconds from one block's start to the next one's: how long a block takes under load."""
    rows = conn.execute(
        "SELECT timestamp_ms, tx_count FROM chain_block WHERE height > %s ORDER BY height", [start_height]
    ).fetchall()
    gaps = sorted((b[0] - a[0]) / 1000 for a, b in zip(rows, rows[1:], strict=False))
    return {
        "block_gap_p50_s": round(_percentile(gaps, 0.5), 3),
        "block_gap_max_s": round(gaps[-1], 3) if gaps else None,
        "max_txs_per_block": max((r[1] for r in rows), default=0),
    }


def main() -> int:
    result = run()
    print(json.dumps(result), flush=True)
    # Under overload a batch still refused when the step ends is the excess the site shed.
    ok = result["filled"] == result["submitted"] == result["committed"] and (
        not result["rejected_batches"] or "overload_factor" in result
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
