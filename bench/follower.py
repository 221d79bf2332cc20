"""Follower benchmark: a follower catching up from genesis over BENCH_BLOCKS blocks of a bench network.

Starts BENCH_SITES validator sites (localnet.network.start_network) from the
bench genesis of bench.network (the demo genesis plus funded senders), with one
follower planned but not started: the first validator of the genesis that is
not active (a registered follower). The validators then grow the chain: one
batch of BENCH_BLOCK_TXS signed transfers at a time, the next sent when the
stream (ws/chain/) announces the block holding the last one, until BENCH_BLOCKS
blocks are committed. That is the validators' own speed in this run: blocks
and transactions written per second, consensus included.

Then the follower starts from an empty database (``start_later``: migrate,
init, daphne, workers, beat) and pulls the whole chain through the sync path
(every commit certificate verified, every block re-executed). Its speed is
counted from the moment it answers HTTP to the moment its head reaches the
validators', in blocks and transactions applied per second.

Then, with the follower running, the validators make BENCH_FOLLOW_BLOCKS (100) more
blocks one at a time; for each, the time from the validators' stream announcing it to
the follower's status reporting it (``lag_*``: median, p95, max, and the share within
one second).

Prints one JSON object on its last line: both speeds, ``catch_up_ratio`` =
follower blocks/s ÷ validators' blocks/s (the goal is at least 3: a follower
verifies certificates but does not vote), the lag while following, and whether the
follower's head (height, block hash, state root) and the state root of every 50th block
equal the validators'. Exit 1 when it does
not, or when it did not catch up within BENCH_CATCH_UP_SECONDS.

Environment: BENCH_SITES (4), BENCH_BLOCKS (2000), BENCH_BLOCK_TXS (20),
BENCH_SENDERS (200), BENCH_BLOCK_INTERVAL_MS (the genesis block interval),
BENCH_CATCH_UP_SECONDS (600), BENCH_FOLLOW_BLOCKS (100).
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.ledger import _env_int
from bench.network import CommitWatcher, bench_genesis, sender_name, site_names
from chain.ledger.genesis import demo_key, load_genesis
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from localnet.network import start_later, start_network, stop_network


def _batches(chain_id: str, blocks: int, per_block: int, senders: int) -> list[tuple[bytes, int]]:
    """One POST body per block: ``per_block`` transfers from senders in turn, nonces in order."""
    nonces = [0] * senders
    batches, index = [], 0
    for _ in range(blocks):
        wires = []
        for _ in range(per_block):
            sender = index % senders
            tx = sign_transaction(
                demo_key(sender_name(sender)),
                chain_id=chain_id,
                nonce=nonces[sender],
                kind="transfer",
                payload={"to": address_of(demo_key(sender_name((sender + 1) % senders))), "amount": 1},
            )
            nonces[sender] += 1
            index += 1
            wires.append(tx.to_wire())
        batches.append((json.dumps(wires).encode(), len(wires)))
    return batches


def _grow(site, watcher: CommitWatcher, batches) -> tuple[int, int, float]:
    """Send each batch once the previous one's block is committed; (blocks, txs, seconds)."""
    start = site.status()["height"]
    t0 = time.monotonic()
    txs = 0
    with httpx.Client(base_url=site.url, timeout=60) as http:
        for body, count in batches:
            target = max(watcher.committed, default=start) + 1
            response = http.post(
                "/api/v1/transactions/", content=body, headers={"Content-Type": "application/json"}
            )
            response.raise_for_status()
            txs += count
            while max(watcher.committed, default=start) < target:
                time.sleep(0.005)
    # The stream may have announced the last block while the status lags a moment: read the head.
    height = site.status()["height"]
    return height - start, txs, time.monotonic() - t0


def _follow(follower, target: int, timeout_s: int) -> tuple[int, float]:
    """Wait (bounded) for the follower to reach ``target``; (blocks applied, seconds)."""
    t0 = time.monotonic()
    first = follower.status()["height"]
    deadline = t0 + timeout_s
    while time.monotonic() < deadline:
        if follower.status()["height"] >= target:
            return target - first, time.monotonic() - t0
        time.sleep(0.05)
    raise RuntimeError(f"the follower did not reach height {target} within {timeout_s}s")


def _keep_up(site, follower, watcher: CommitWatcher, batches) -> list[float]:
    """Grow the chain block by block with the follower running: for each block, the seconds from
    the validators' stream announcing it to the follower's status reporting it (bounded, 30 s)."""
    lags = []
    with httpx.Client(base_url=site.url, timeout=60) as http:
        for body, _count in batches:
            target = max(watcher.committed) + 1
            http.post("/api/v1/transactions/", content=body, headers={"Content-Type": "application/json"})
            while max(watcher.committed) < target:
                time.sleep(0.002)
            committed_at = watcher.committed[target]
            deadline = committed_at + 30
            while follower.status()["height"] < target and time.monotonic() < deadline:
                time.sleep(0.01)
            lags.append(time.monotonic() - committed_at)
    return lags


def run() -> dict:
    count = _env_int("BENCH_SITES", 4)
    blocks = _env_int("BENCH_BLOCKS", 2000)
    per_block = _env_int("BENCH_BLOCK_TXS", 20)
    senders = _env_int("BENCH_SENDERS", 200)
    catch_up_s = _env_int("BENCH_CATCH_UP_SECONDS", 600)
    keep_up_blocks = _env_int("BENCH_FOLLOW_BLOCKS", 100)
    names = site_names(count)
    tmp = Path(tempfile.mkdtemp(prefix="bench-follower-"))
    bench_genesis(tmp / "genesis.toml", senders)
    genesis = load_genesis(tmp / "genesis.toml")
    follower_name = next(v["name"] for v in genesis.validators if v["name"] not in names)
    interval_ms = _env_int("BENCH_BLOCK_INTERVAL_MS", genesis.params["block_interval_ms"])
    batches = _batches(genesis.chain_id, blocks + keep_up_blocks, per_block, senders)
    batches, keep_up_batches = batches[:blocks], batches[blocks:]

    sites = start_network(
        tmp,
        names,
        genesis=tmp / "genesis.toml",
        block_interval_ms=interval_ms,
        followers=[follower_name],
        followers_later=True,
    )
    *validators, follower = sites
    watcher = CommitWatcher(validators[0])
    try:
        watcher.start()
        if not watcher.connected.wait(30):
            raise RuntimeError(f"no ws/chain/ stream from {validators[0].name}: {watcher.errors[-1:]}")
        print(f"growing the chain by {blocks} blocks of {per_block} transfers", flush=True)
        grown, txs, grow_s = _grow(validators[0], watcher, batches)
        head = validators[0].status()
        print(f"{grown} blocks in {grow_s:.1f}s; starting the follower {follower_name}", flush=True)
        start_later(follower)
        applied, follow_s = _follow(follower, head["height"], catch_up_s)
        print(
            f"caught up in {follow_s:.1f}s; {keep_up_blocks} more blocks with the follower running",
            flush=True,
        )
        lags = sorted(_keep_up(validators[0], follower, watcher, keep_up_batches))
        head = validators[0].status()
        _follow(follower, head["height"], 60)
        mine = follower.status()
        at_head = validators[0].get(f"/api/v1/blocks/{head['height']}/").json()
        theirs = follower.get(f"/api/v1/blocks/{head['height']}/").json()
        every = sorted({*range(1, head["height"] + 1, 50), head["height"]})
        roots_agree = all(
            validators[0].get(f"/api/v1/blocks/{h}/").json()["result_state_root"]
            == follower.get(f"/api/v1/blocks/{h}/").json()["result_state_root"]
            for h in every
        )
        chain_blocks_per_s = grown / grow_s
        follower_blocks_per_s = applied / follow_s
        return {
            "bench": "follower",
            "validators": count,
            "blocks": grown,
            "txs": txs,
            "block_txs": per_block,
            "block_interval_ms": interval_ms,
            "validators_seconds": round(grow_s, 2),
            "validators_blocks_per_s": round(chain_blocks_per_s, 1),
            "validators_tx_per_s": round(txs / grow_s, 1),
            "follower_seconds": round(follow_s, 2),
            "follower_blocks_applied": applied,
            "follower_blocks_per_s": round(follower_blocks_per_s, 1),
            # The blocks' average transactions times the blocks applied per second.
            "follower_tx_per_s": round(follower_blocks_per_s * txs / max(grown, 1), 1),
            "catch_up_ratio": round(follower_blocks_per_s / chain_blocks_per_s, 2),
            # Following: from a block's commit at the validators to the follower reporting it.
            "keep_up_blocks": len(lags),
            "lag_median_s": round(lags[len(lags) // 2], 3) if lags else None,
            "lag_p95_s": round(lags[int(len(lags) * 0.95)], 3) if lags else None,
            "lag_max_s": round(lags[-1], 3) if lags else None,
            "lag_within_1s": round(sum(lag <= 1.0 for lag in lags) / len(lags), 3) if lags else None,
            "follower_height": mine["height"],
            "roots_checked": len(every),
            "agree": roots_agree
            and (mine["height"], theirs["hash"], theirs["result_state_root"])
            == (head["height"], at_head["hash"], at_head["result_state_root"]),
        }
    finally:
        watcher.stopping.set()
        stop_network(sites)


def main() -> int:
    result = run()
    print(json.dumps(result), flush=True)
    if not result["agree"]:
        print("FAIL: the follower's head differs from the validators'", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
