"""Height benchmark: what one height costs the network, in wall time and CPU, by its parts.

Starts BENCH_SITES real sites (as bench.network) and makes BENCH_HEIGHTS heights one at a
time: a batch of BENCH_TXS transfers is posted to the first site, and the next batch goes
once every site has committed the block holding it. Each height is split where the network
can be observed from outside:

- ``to_proposal_ms``: from the POST to the block's ``timestamp_ms`` (the proposer's clock when
  it built the block: admission, gossip to the proposer, its step starting, the build);
- ``proposal_to_commit_ms``: from there to the first site's commit (the proposal, prevotes and
  precommits crossing the network, the check and the write);
- ``commit_spread_ms``: from the first site's commit to the last's.

and the CPU each kind of process (every site's daphne, Celery, and the PostgreSQL server)
used per height. With BENCH_TXS="1,1000" the two runs separate what a height costs whatever
its size from what each transaction adds (``per_tx``). Medians over the heights; every figure
also as a ratio to one ed25519 verify measured in the same run (``verify_us``).

Environment: BENCH_SITES (4), BENCH_HEIGHTS (30), BENCH_TXS ("1,1000").
"""

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.ledger import _env_int
from bench.limits import verify_seconds
from bench.network import CommitWatcher, _cores_used, bench_genesis, sender_name, site_names
from chain.ledger.genesis import load_genesis
from gtxclient import Key, Site, sign_transaction
from localnet.network import start_network, stop_network

#: Funded senders: a batch of up to this many transfers has one per sender.
SENDERS = 1000


def _heights(sites, watchers, chain_id: str, txs: int, heights: int, nonce: dict) -> list[dict]:
    keys = [Key.demo(sender_name(i)) for i in range(txs)]
    to = Key.demo(sender_name(SENDERS - 1)).address
    figures = []
    with Site(sites[0].url, timeout=30) as client:
        for _ in range(heights):
            batch = []
            for key in keys:
                batch.append(
                    sign_transaction(
                        key,
                        chain_id=chain_id,
                        nonce=nonce[key.address],
                        kind="transfer",
                        payload={"to": to, "amount": 1},
                    )
                )
                nonce[key.address] += 1
            height = client.status()["height"] + 1
            posted_wall, posted = time.time(), time.monotonic()
            client.submit(batch)
            deadline = posted + 60
            while not all(height in w.committed for w in watchers):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"height {height} was not committed everywhere within 60 s")
                time.sleep(0.002)
            block = client.block(height)
            if block["tx_count"] != txs:  # the batch split over two heights: not one height's cost
                continue
            commits = [w.committed[height] for w in watchers]
            built = block["timestamp_ms"] / 1000 - posted_wall
            figures.append(
                {
                    "to_proposal_ms": built * 1000,
                    "proposal_to_commit_ms": (min(commits) - posted - built) * 1000,
                    "commit_spread_ms": (max(commits) - min(commits)) * 1000,
                    "total_ms": (max(commits) - posted) * 1000,
                }
            )
    return figures


def run() -> dict:
    count = _env_int("BENCH_SITES", 4)
    heights = _env_int("BENCH_HEIGHTS", 30)
    sizes = [int(n) for n in os.environ.get("BENCH_TXS", "1,1000").split(",")]
    if max(sizes) > SENDERS:
        raise SystemExit(f"BENCH_TXS above {SENDERS}")
    verify_s = verify_seconds()
    tmp = Path(tempfile.mkdtemp(prefix="bench-height-"))
    bench_genesis(tmp / "genesis.toml", SENDERS)
    chain_id = load_genesis(tmp / "genesis.toml").chain_id
    sites = start_network(tmp, site_names(count), genesis=tmp / "genesis.toml")
    watchers = [CommitWatcher(site) for site in sites]
    runs = {}
    try:
        for w in watchers:
            w.start()
            w.connected.wait(30)
        procs = [proc for site in sites for proc in site.procs]
        nonce = {Key.demo(sender_name(i)).address: 0 for i in range(SENDERS)}
        for txs in sizes:
            started = time.monotonic()
            figures, cores = _cores_used(procs, _heights, sites, watchers, chain_id, txs, heights, nonce)
            elapsed = time.monotonic() - started
            made = max(len(figures), 1)
            median = {key: round(statistics.median(f[key] for f in figures), 1) for key in figures[0]}
            cpu_ms = {kind: round(used * elapsed / made * 1000, 1) for kind, used in cores.items()}
            runs[txs] = {
                "heights": len(figures),
                **median,
                "cpu_ms_per_height": cpu_ms,
                "cpu_ms_per_height_total": round(sum(cpu_ms.values()), 1),
                "total_in_verifies": round(median["total_ms"] / 1000 / verify_s),
            }
    finally:
        for w in watchers:
            w.stopping.set()
        stop_network(sites)
    result = {"bench": "height", "sites": count, "verify_us": round(verify_s * 1e6, 1), "runs": runs}
    if len(sizes) == 2:
        small, large = sorted(sizes)
        extra = large - small
        result["per_tx"] = {
            "wall_us": round((runs[large]["total_ms"] - runs[small]["total_ms"]) * 1000 / extra, 1),
            "cpu_us": round(
                (runs[large]["cpu_ms_per_height_total"] - runs[small]["cpu_ms_per_height_total"])
                * 1000
                / extra,
                1,
            ),
        }
        result["per_tx"]["cpu_in_verifies"] = round(result["per_tx"]["cpu_us"] / (verify_s * 1e6), 1)
    return result


if __name__ == "__main__":
    print(json.dumps(run()), flush=True)
