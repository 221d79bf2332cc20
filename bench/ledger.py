"""Ledger benchmark: signed token transfers through the REST API of a real site, to committed.

Starts a whole site (daphne, Celery worker and beat, its own PostgreSQL
database) exactly as the live tests do, funds BENCH_SENDERS fresh accounts from
a genesis-funded demo account, pre-signs every transfer (so the client spends
no CPU signing while it measures), then offers BENCH_RATE tx/s for
BENCH_SECONDS in batches of BENCH_BATCH per POST from BENCH_THREADS client
threads. Each thread owns its senders, so their nonces arrive in order.

A transaction counts as committed when the sender's account nonce in the site's
database passes it (polled every POLL_S, so latencies err on the slow side by
up to one poll). Submit time is when its batch's POST was sent.

Prints one JSON object on its last line: committed tx/s, p50/p95/p99
submit-to-commit seconds, blocks, average transactions per block.

Environment: BENCH_SECONDS (20), BENCH_RATE (6000), BENCH_BATCH (500),
BENCH_THREADS (4), BENCH_SENDERS (200), BENCH_BLOCK_INTERVAL_MS (the genesis block interval),
BENCH_DRAIN_SECONDS (30).
"""

import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
import psycopg

from bench.limits import signature_limit, verify_seconds
from chain.ledger.genesis import load_genesis
from gtxclient import Key, Refused, Site, sign_transaction
from localnet import BASE_DIR
from localnet.network import start_site, stop_site

POLL_S = 0.05
FUNDER = "wind_korat"
FUNDING_UNITS = 1_000_000  # one token per sender pays for every transfer of one unit


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _seed(index: int) -> bytes:
    return index.to_bytes(4, "big") * 8


def _sign_batch(chain_id: str, sender_indexes: list[int], first_nonce: int, per_sender: int, n: int) -> bytes:
    """One POST body: ``per_sender`` consecutive transfers from each sender to the next one."""
    wires = []
    for index in sender_indexes:
        key = Key(_seed(index))
        to = Key(_seed((index + 1) % n)).address
        for nonce in range(first_nonce, first_nonce + per_sender):
            tx = sign_transaction(
                key, chain_id=chain_id, nonce=nonce, kind="transfer", payload={"to": to, "amount": 1}
            )
            wires.append(tx.wire())
    return json.dumps(wires).encode()


def _pg(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)


def _nonces(conn, addresses: list[str]) -> dict[str, int]:
    rows = conn.execute("SELECT address, nonce FROM chain_account WHERE address = ANY(%s)", [addresses])
    return dict(rows.fetchall())


def _latency_figures(sorted_latencies: list[float]) -> dict:
    """p50, p95, p99 and max of sorted submit-to-done seconds, as every REST benchmark reports them."""
    return {
        "p50_s": round(_percentile(sorted_latencies, 0.50), 3),
        "p95_s": round(_percentile(sorted_latencies, 0.95), 3),
        "p99_s": round(_percentile(sorted_latencies, 0.99), 3),
        "max_s": round(sorted_latencies[-1], 3) if sorted_latencies else None,
    }


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def offer_batch(
    site: Site,
    body: bytes,
    *,
    until: float,
    on_backpressure,
    before_send=None,
    retry_every: float | None = None,
):
    """POST one pre-signed batch; while the site sheds load (503) back off as it says and resend,
    until ``until`` (monotonic). ``before_send(t)`` runs before each send;
    ``on_backpressure(seconds)`` after each 503, with how long the refusal took. With
    ``retry_every`` the client keeps its own schedule instead of the Retry-After: it resends at
    its next slot, so the load offered stays what was asked.

    Returns the time of the last send and the refusal that ended it (None once accepted).
    """
    while True:
        sent = time.monotonic()
        if before_send is not None:
            before_send(sent)
        try:
            site.submit_body(body)
            return sent, None
        except Refused as refused:
            if refused.status != 503 or time.monotonic() >= until:
                return sent, refused
            wait_s = retry_every if retry_every is not None else refused.retry_after or 1.0
        on_backpressure(time.monotonic() - sent)
        time.sleep(wait_s)


def _fund(site, conn, chain_id: str, addresses: list[str]) -> None:
    funder = Key.demo(FUNDER)
    txs = [
        sign_transaction(
            funder, chain_id=chain_id, nonce=i, kind="transfer", payload={"to": to, "amount": FUNDING_UNITS}
        )
        for i, to in enumerate(addresses)
    ]
    with Site(site.url, timeout=30) as client:
        client.submit(txs)
    site.wait_for(lambda: _nonces(conn, [funder.address]).get(funder.address) == len(addresses), 30)


def run() -> dict:
    seconds = _env_int("BENCH_SECONDS", 20)
    rate = _env_int("BENCH_RATE", 6000)
    batch = _env_int("BENCH_BATCH", 500)
    threads = _env_int("BENCH_THREADS", 4)
    n = _env_int("BENCH_SENDERS", 200)
    genesis = load_genesis(BASE_DIR / "thai_market.toml")
    interval_ms = _env_int("BENCH_BLOCK_INTERVAL_MS", genesis.params["block_interval_ms"])
    drain_s = _env_int("BENCH_DRAIN_SECONDS", 30)
    group = n // threads
    per_sender = max(1, batch // group)
    batch = group * per_sender
    batches_per_thread = -(-rate * seconds // (batch * threads))
    addresses = [Key(_seed(i)).address for i in range(n)]
    groups = [list(range(t * group, (t + 1) * group)) for t in range(threads)]

    t_sign = time.monotonic()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = [
            [
                pool.submit(_sign_batch, genesis.chain_id, groups[t], j * per_sender, per_sender, n)
                for j in range(batches_per_thread)
            ]
            for t in range(threads)
        ]
        bodies = [[f.result() for f in row] for row in futures]
    print(
        f"signed {threads * batches_per_thread * batch} transfers in {time.monotonic() - t_sign:.1f}s",
        flush=True,
    )

    verify_s = verify_seconds()  # before the site runs
    tmp = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    site, procs = start_site(tmp, block_interval_ms=interval_ms)
    try:
        conn = _pg(site.database_url)
        _fund(site, conn, genesis.chain_id, addresses)
        start_height = conn.execute("SELECT height FROM chain_chainhead").fetchone()[0]
        cpu_before = _cpu_seconds(procs)
        result = _measure(site, conn, bodies, groups, addresses, per_sender, batch, rate, seconds, drain_s)
        cpu = {name: round(t - cpu_before[name], 2) for name, t in _cpu_seconds(procs).items()}
        limit = signature_limit(sites=1, finalized_tx_per_s=result["committed_tx_per_s"], verify_s=verify_s)
        return (
            result
            | limit
            | {
                "block_interval_ms": interval_ms,
                **_blocks(conn, start_height),
                "cpu_us_per_tx": {
                    name: round(t * 1e6 / max(result["committed"], 1)) for name, t in cpu.items()
                },
            }
        )
    finally:
        stop_site(site, procs)


def _measure(site, conn, bodies, groups, addresses, per_sender, batch, rate, seconds, drain_s) -> dict:
    threads = len(groups)
    # submitted[sender index] = submit times of its nonces, appended in nonce order.
    submitted: list[list[float]] = [[] for _ in addresses]
    rejected: list[str] = []
    backpressure = [0]  # 503 mempool_full answers, each retried
    lock = threading.Lock()
    t0 = time.monotonic() + 0.2
    end = t0 + seconds

    def backed_off(_seconds: float) -> None:
        with lock:
            backpressure[0] += 1

    def client(t: int) -> None:
        with Site(site.url, timeout=60) as http:
            for j, body in enumerate(bodies[t]):
                due = t0 + (j * threads + t) * batch / rate
                if due >= end:
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                sent, refused = offer_batch(http, body, until=end, on_backpressure=backed_off)
                if refused is not None:
                    with lock:
                        rejected.append(refused.text[:300])
                    return  # later nonces of these senders could never be admitted
                for index in groups[t]:
                    submitted[index].extend([sent] * per_sender)

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()

    latencies: list[float] = []
    committed_nonce = [0] * len(addresses)
    last_commit = t0
    deadline = end + drain_s
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        now = time.monotonic()
        nonces = _nonces(conn, addresses)
        for index, address in enumerate(addresses):
            new = nonces.get(address, 0)
            if new > committed_nonce[index]:
                times = submitted[index]
                latencies.extend(now - times[k] for k in range(committed_nonce[index], min(new, len(times))))
                committed_nonce[index] = new
                last_commit = now
        clients_done = not any(w.is_alive() for w in workers)
        if clients_done and all(committed_nonce[i] >= len(submitted[i]) for i in range(len(addresses))):
            break
    for w in workers:
        w.join(timeout=60)

    latencies.sort()
    total_submitted = sum(len(s) for s in submitted)
    failed = conn.execute(
        "SELECT count(*) FROM chain_chaintx WHERE NOT ok AND sender = ANY(%s)", [addresses]
    ).fetchone()[0]
    elapsed = max(last_commit - t0, 1e-9)
    return {
        "bench": "ledger",
        "seconds": seconds,
        "offered_tx_per_s": rate,
        "batch": batch,
        "client_threads": threads,
        "senders": len(addresses),
        "submitted": total_submitted,
        "committed": len(latencies),
        "failed_receipts": failed,
        "rejected_batches": len(rejected),
        "mempool_full_retries": backpressure[0],
        "first_rejection": rejected[0] if rejected else None,
        "committed_tx_per_s": round(len(latencies) / elapsed, 1),
        **_latency_figures(latencies),
    }


def _cpu_seconds(procs) -> dict[str, float]:
    """CPU seconds used so far by sites' processes (daphne; Celery worker and beat) and by
    every PostgreSQL process (the whole server)."""
    totals = {"daphne": 0.0, "celery": 0.0, "postgres": 0.0}
    for proc in procs:  # each a site's `manage.py start`, whose own idle loop is not counted
        try:
            family = psutil.Process(proc.pid).children()
        except psutil.NoSuchProcess:
            continue
        for child in family:
            try:
                # daphne runs as the site's launcher, localnet.processes: gridtokenx_site.daphne_server
                name = "daphne" if any("daphne" in part for part in child.cmdline()) else "celery"
                for p in [child, *child.children(recursive=True)]:
                    t = p.cpu_times()
                    totals[name] += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass
    for p in psutil.process_iter(["name"]):
        if p.info["name"] == "postgres":
            try:
                t = p.cpu_times()
                totals["postgres"] += t.user + t.system
            except psutil.NoSuchProcess:
                pass
    return totals


def _blocks(conn, start_height: int) -> dict:
    count, txs = conn.execute(
        "SELECT count(*), COALESCE(sum(tx_count), 0) FROM chain_block WHERE height > %s", [start_height]
    ).fetchone()
    return {"blocks": count, "avg_txs_per_block": round(txs / count, 1) if count else 0}


def main() -> int:
    result = run()
    print(json.dumps(result), flush=True)
    ok = result["committed"] == result["submitted"] and not result["rejected_batches"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
