"""Network benchmark: signed transfers spread over a local network of sites, to final at every site.

Starts BENCH_SITES real sites (localnet.network.start_network: each its
own database, daphne, Celery worker and beat) from a bench-only genesis: the
demo genesis with those validators active plus BENCH_SENDERS funded accounts
(keys from the demo seeds of their usernames). Every transfer is signed before
the clock starts. Each site gets one client thread that owns a share of the
senders (so their nonces arrive in order) and offers BENCH_RATE / BENCH_SITES
tx/s for BENCH_SECONDS in batches of BENCH_BATCH per POST to that site's
/api/v1/transactions/.

A transaction is final at a site when that site commits a block holding it:
each site's ws/chain/ stream tells when it committed each height (the time
the message arrives), and the blocks API (tx_hashes) which transactions a
height holds. Final at every site is the latest of those times; latency runs
from the POST of its batch. ``blocks`` sums up the first site's heights of the load: their
sizes, the time between their proposals, and how many were decided past round 0.

Prints one JSON object on its last line: finalized tx/s (final at every site),
p50/p95/p99 seconds from submit to final at every site, and per site the
height, state root, and its own figures; and the cores the sites' daphne,
Celery worker and beat ("celery"), and the PostgreSQL server used while the
load was offered, and in the IDLE_SECONDS before it.
And what bounds it, measured in the same run before the sites start
(bench.limits): one ed25519 verify (``verify_us``), ``limit_tx_per_s`` = cores /
(sites × verify seconds), and ``efficiency`` = finalized tx/s / that limit: the ratio
that stays comparable between machines.
Fails (exit 1) when the sites' blocks or state roots differ at their common height.

A client keeps its schedule whatever the answers: a batch refused for want of
room (503 mempool_full, 429 sender_busy) is counted with the time its refusal
took (``refused_p50_ms``, ``refused_p95_ms``) and sent again at the next slot. ``refused_by_code``
splits them by code and by where they were made: ``unread`` by the door before the batch was
read (chain.api.shed), ``read`` by intake after.

Overload (bench.overload): BENCH_RATES="400,700,1000" offers each rate in turn for
BENCH_SECONDS (``steps``); the knee (``knee``, tx/s) is the most a step finalized with
its p95 within 2.5 s. BENCH_OVERLOAD=3 then offers three times the knee, and the
figures printed are that step's, with ``ratio_to_knee``.

Environment: BENCH_SITES (4), BENCH_SECONDS (20), BENCH_RATE (2000) or
BENCH_RATES, BENCH_OVERLOAD (0: none), BENCH_BATCH (250), BENCH_SENDERS (200),
BENCH_BLOCK_INTERVAL_MS (the genesis block interval), BENCH_DRAIN_SECONDS (30).
"""

import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.sync.client import connect

from bench.ledger import _cpu_seconds, _env_int, _latency_figures
from bench.limits import signature_limit, verify_seconds
from bench.overload import rates_from_env, refusal_figures, stepped
from chain.ledger.genesis import load_genesis
from gtxclient import Key, Refused, Site, sign_transaction
from localnet.genesis_files import DEMO_GENESIS, active_validators
from localnet.network import start_network, stop_network

DEFAULT_SITES = ["EGAT", "MEA", "PEA", "ERC"]
#: Seconds the running network is measured with no load, before the load starts.
IDLE_SECONDS = 5


def sender_name(index: int) -> str:
    return f"bench_sender_{index}"


def bench_genesis(path: Path, senders: int) -> None:
    """The demo genesis plus the bench's funded senders, written to ``path``."""
    lines = [DEMO_GENESIS.read_text()]
    for index in range(senders):
        name = sender_name(index)
        lines.append(
            "\n[[accounts]]\n"
            f'username = "{name}"\n'
            f'display_name = "Bench sender {index}"\n'
            'role = "consumer"\n'
            'region = "bangkok"\n'
            f'address = "{Key.demo(name).address}"\n'
            "tokens = 1000\n"
            "energy_kwh = 0\n"
        )
    path.write_text("".join(lines))


def site_names(count: int) -> list[str]:
    """The demo genesis's active validators when it has enough, else the first demo authorities."""
    active = [v["name"] for v in active_validators(DEMO_GENESIS)]
    return active[:count] if len(active) >= count else DEFAULT_SITES[:count]


def _sign_batch(chain_id: str, senders: list[int], first_nonce: int, per_sender: int, n: int):
    """One POST body and its transaction hashes: ``per_sender`` transfers from each sender."""
    wires, hashes = [], []
    for index in senders:
        key = Key.demo(sender_name(index))
        to = Key.demo(sender_name((index + 1) % n)).address
        for nonce in range(first_nonce, first_nonce + per_sender):
            tx = sign_transaction(
                key, chain_id=chain_id, nonce=nonce, kind="transfer", payload={"to": to, "amount": 1}
            )
            wires.append(tx.wire())
            hashes.append(tx.hash)
    return json.dumps(wires).encode(), hashes


class CommitWatcher(threading.Thread):
    """Records when one site's ws/chain/ stream announces each committed height."""

    def __init__(self, site):
        super().__init__(daemon=True)
        self.site = site
        self.committed: dict[int, float] = {}
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.errors: list[str] = []

    def run(self):
        while not self.stopping.is_set():
            try:
                with connect(self.site.ws_url + "/ws/chain/", origin=self.site.url, open_timeout=10) as ws:
                    self.connected.set()
                    while not self.stopping.is_set():
                        try:
                            message = json.loads(ws.recv(timeout=0.5))
                        except TimeoutError:
                            continue
                        if message.get("type") == "block":
                            self.committed.setdefault(message["height"], time.monotonic())
            except Exception as exc:  # a dropped stream reconnects; gaps are filled from later heights
                self.errors.append(repr(exc)[:200])
                time.sleep(0.2)


class SignedBatches:
    """Each site's client's batches, in nonce order, signed ahead of the clock in chunks.

    Batch ``j`` of site ``k`` holds nonces ``j * per_sender ...`` of site ``k``'s senders, so
    a step that stops at batch ``j`` leaves the next step to start there.
    """

    def __init__(self, chain_id: str, groups: list[list[int]], per_sender: int, n: int):
        self.chain_id, self.groups, self.per_sender, self.n = chain_id, groups, per_sender, n
        self.batches: list[list[tuple[bytes, list[str]]]] = [[] for _ in groups]
        self.next: list[int] = [0 for _ in groups]  # each site's first batch not yet admitted

    def ensure(self, count: int) -> None:
        """Sign until every site has ``count`` batches past the ones already admitted."""
        started = time.monotonic()
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            futures = [
                [
                    pool.submit(
                        _sign_batch, self.chain_id, group, j * self.per_sender, self.per_sender, self.n
                    )
                    for j in range(len(self.batches[k]), self.next[k] + count)
                ]
                for k, group in enumerate(self.groups)
            ]
            for k, row in enumerate(futures):
                self.batches[k].extend(f.result() for f in row)
        signed = sum(len(row) for row in futures) * len(self.groups[0]) * self.per_sender
        print(f"signed {signed} transfers in {time.monotonic() - started:.1f}s", flush=True)


def run() -> dict:
    count = _env_int("BENCH_SITES", 4)
    seconds = _env_int("BENCH_SECONDS", 20)
    rates, overload = rates_from_env(2000)
    batch = _env_int("BENCH_BATCH", 250)
    n = _env_int("BENCH_SENDERS", 200)
    drain_s = _env_int("BENCH_DRAIN_SECONDS", 30)
    names = site_names(count)
    verify_s = verify_seconds()  # before anything else runs on the machine
    tmp = Path(tempfile.mkdtemp(prefix="bench-network-"))
    bench_genesis(tmp / "genesis.toml", n)
    genesis = load_genesis(tmp / "genesis.toml")
    interval_ms = _env_int("BENCH_BLOCK_INTERVAL_MS", genesis.params["block_interval_ms"])

    groups = [list(range(k, n, count)) for k in range(count)]  # site k's senders
    per_sender = max(1, batch // len(groups[0]))
    batch = len(groups[0]) * per_sender
    signed = SignedBatches(genesis.chain_id, groups, per_sender, n)
    signed.ensure(_batches_per_site(rates[0], count, seconds, batch))

    sites = start_network(
        tmp,
        names,
        genesis=tmp / "genesis.toml",
        block_interval_ms=interval_ms,
    )
    watchers = [CommitWatcher(site) for site in sites]
    try:
        for w in watchers:
            w.start()
        for w in watchers:
            if not w.connected.wait(30):
                raise RuntimeError(f"no ws/chain/ stream from {w.site.name}: {w.errors[-1:]}")
        procs = [proc for site in sites for proc in site.procs]
        _, idle_cores = _cores_used(procs, time.sleep, IDLE_SECONDS)

        def step(rate: int) -> dict:
            signed.ensure(_batches_per_site(rate, count, seconds, batch))
            start_heights = [_status(site)["height"] for site in sites]
            print(f"offering {rate} tx/s for {seconds}s to {count} sites", flush=True)
            offered, cores_used = _cores_used(procs, _offer, sites, signed, batch, rate / count, seconds)
            _drain(sites, watchers, offered.submitted, start_heights, drain_s)
            figures = _figures(sites, watchers, offered, start_heights)
            return (
                figures
                | signature_limit(
                    sites=count, finalized_tx_per_s=figures["finalized_tx_per_s"], verify_s=verify_s
                )
                | {"offered": rate, "offered_tx_per_s": rate, "cores_used_while_offering": cores_used}
            )

        result = stepped(step, rates, overload, throughput="finalized_tx_per_s")
        return result | {
            "cores_used_idle": idle_cores,
            "sites": count,
            "seconds": seconds,
            "batch": batch,
            "senders": n,
            "block_interval_ms": interval_ms,
        }
    finally:
        for w in watchers:
            w.stopping.set()
        stop_network(sites)


def _batches_per_site(rate: int, count: int, seconds: int, batch: int) -> int:
    return -(-int(rate / count * seconds) // batch)


def _cores_used(procs, fn, *args):
    """``fn(*args)``, and the cores each kind of process used while it ran."""
    before, started = _cpu_seconds(procs), time.monotonic()
    result = fn(*args)
    elapsed = time.monotonic() - started
    return result, {name: round((t - before[name]) / elapsed, 2) for name, t in _cpu_seconds(procs).items()}


@dataclass
class Offered:
    """What one step's clients sent: admitted transactions with their POST time, the seconds
    each refusal for want of room (503/429) took to arrive and its code, and any other rejection."""

    submitted: dict[str, float] = field(default_factory=dict)
    refusal_seconds: list[float] = field(default_factory=list)
    refusal_codes: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _offer(sites, signed: SignedBatches, batch, site_rate, seconds) -> Offered:
    """Each site's thread POSTs a batch on schedule, whatever the answers: a batch refused for
    want of room (503 or 429) is sent again at the next slot, so the offered rate stays as asked.

    The sites' schedules are staggered (site ``k`` a ``k / sites`` of a period later), so the
    network is offered a steady rate: in step, the four sites' batches arrived together, one
    burst of four every period, and the mempool's room took two or three of them at once.
    """
    offered = Offered()
    lock = threading.Lock()
    t0 = time.monotonic() + 0.2
    end = t0 + seconds

    def client(k: int) -> None:
        with Site(sites[k].url, timeout=60) as http:
            for slot in range(len(signed.batches[k])):
                due = t0 + (slot + k / len(sites)) * batch / site_rate
                if due >= end or signed.next[k] >= len(signed.batches[k]):
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                body, hashes = signed.batches[k][signed.next[k]]
                sent = time.monotonic()
                try:
                    http.submit_body(body)
                    refused = None
                except Refused as answer:
                    refused = answer
                answered = time.monotonic()
                with lock:
                    if refused is None:
                        offered.submitted.update(dict.fromkeys(hashes, sent))
                        signed.next[k] += 1
                    elif refused.retry_later:  # 429 or 503: no room now, the batch stays next
                        offered.refusal_seconds.append(answered - sent)
                        # The door answers unread, with no problems; intake names them.
                        offered.refusal_codes.append(
                            f"{refused.code} ({'read' if refused.problems else 'unread'})"
                        )
                    else:
                        offered.rejected.append(f"{sites[k].name}: {refused.status} {refused.text[:300]}")
                        return  # later nonces of these senders could never be admitted

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(sites))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return offered


def _status(site, tries: int = 20) -> dict:
    """The site's status, retried: a site short of database connections answers 500 for a moment."""
    for _ in range(tries - 1):
        try:
            return site.status()
        except httpx.HTTPError:
            time.sleep(0.5)
    return site.status()


def _drain(sites, watchers, submitted, start_heights, drain_s) -> None:
    """Wait (bounded) until every site's mempool is empty and its stream has seen its height."""
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        statuses = [_status(site) for site in sites]
        if all(s["mempool_size"] == 0 for s in statuses) and all(
            max(w.committed, default=0) >= s["height"] for w, s in zip(watchers, statuses, strict=True)
        ):
            return
        time.sleep(0.3)


def _blocks(site, start_height: int, height: int) -> dict[int, dict]:
    """The site's blocks above ``start_height``, each read again while the site answers 5xx."""
    blocks = {}
    with Site(site.url, timeout=30) as http:
        for h in range(start_height + 1, height + 1):
            for attempt in range(20):
                try:
                    blocks[h] = http.block(h)
                    break
                except Refused as refused:
                    if refused.status < 500 or attempt == 19:
                        raise
                    time.sleep(0.5)
            if blocks[h] is None:
                raise RuntimeError(f"{site.name} has no block {h} below its height {height}")
    return blocks


def _commit_times(watcher, heights) -> dict[int, float]:
    """Stream time per height; a height the stream missed takes the next seen one's (later) time."""
    times, later = {}, None
    for h in sorted(heights, reverse=True):
        later = watcher.committed.get(h, later)
        if later is not None:
            times[h] = later
    return times


def _figures_or_null(sorted_latencies: list[float]) -> dict:
    """The latency figures, null where nothing was final (JSON has no NaN)."""
    return {k: (v if v == v else None) for k, v in _latency_figures(sorted_latencies).items()}


def _block_figures(blocks: dict[int, dict]) -> dict:
    """What the heights of the load were like at one site: their sizes, the time between their
    proposals, and how many were decided only after a round timed out (a slow or lost proposal)."""
    ordered = [blocks[h] for h in sorted(blocks) if blocks[h] is not None]
    sizes = sorted(b["tx_count"] for b in ordered)
    gaps = sorted(b["timestamp_ms"] - a["timestamp_ms"] for a, b in zip(ordered, ordered[1:], strict=False))

    def median(values):
        return values[len(values) // 2] if values else None

    return {
        "heights": len(ordered),
        "txs_median": median(sizes),
        "txs_max": sizes[-1] if sizes else None,
        "interval_ms_median": median(gaps),
        "interval_ms_p95": gaps[int(len(gaps) * 0.95)] if gaps else None,
        "past_round_0": sum(1 for b in ordered if b["round"] > 0),
    }


def _figures(sites, watchers, offered: Offered, start_heights) -> dict:
    submitted, rejected = offered.submitted, offered.rejected
    final_at: list[dict[str, float]] = []  # per site: tx hash -> committed there
    per_site = {}
    heads = [_status(site) for site in sites]
    blocks_of = []
    for site, watcher, start, head in zip(sites, watchers, start_heights, heads, strict=True):
        blocks = _blocks(site, start, head["height"])
        blocks_of.append(blocks)
        times = _commit_times(watcher, blocks)
        at = {}
        for h, block in blocks.items():
            if h in times:
                for tx_hash in block["tx_hashes"]:
                    if tx_hash in submitted:
                        at[tx_hash] = times[h]
        final_at.append(at)
        latencies = sorted(t - submitted[x] for x, t in at.items())
        per_site[site.name] = {
            "height": head["height"],
            "state_root": head["state_root"],
            "block_hash": head["last_block_hash"],
            "mempool_size": head["mempool_size"],
            "round": head.get("round"),
            "step": head.get("step"),
            "final_here": len(at),
            **_figures_or_null(latencies),
            "ws_reconnects": len(watcher.errors),
        }

    everywhere = set(submitted)
    for at in final_at:
        everywhere &= at.keys()
    latencies = sorted(max(at[x] for at in final_at) - submitted[x] for x in everywhere)
    t0 = min(submitted.values(), default=0.0)
    last = max((max(at[x] for at in final_at) for x in everywhere), default=t0)
    common = min(head["height"] for head in heads)
    at_common = {
        site.name: (blocks[common]["hash"], blocks[common]["result_state_root"])
        if common in blocks
        else (head["last_block_hash"], head["state_root"])
        for site, blocks, head in zip(sites, blocks_of, heads, strict=True)
    }
    figures = _figures_or_null(latencies)
    return {
        "bench": "network",
        "submitted": len(submitted),
        "final_at_every_site": len(everywhere),
        "rejected_batches": len(rejected),
        "first_rejection": rejected[0] if rejected else None,
        **refusal_figures(offered.refusal_seconds, offered.refusal_codes),
        "finalized_tx_per_s": round(len(everywhere) / max(last - t0, 1e-9), 1) if everywhere else 0.0,
        **figures,
        "common_height": common,
        "agree_at_common_height": len(set(at_common.values())) == 1,
        "at_common_height": {name: {"block_hash": h, "state_root": r} for name, (h, r) in at_common.items()},
        "per_site": per_site,
        "blocks": _block_figures(blocks_of[0]),
    }


def main() -> int:
    result = run()
    print(json.dumps(result), flush=True)
    if not result["agree_at_common_height"]:
        print(
            f"FAIL: the sites' blocks or state roots differ at height {result['common_height']}: "
            + ", ".join(
                f"{name} block {s['block_hash'][:12]} root {s['state_root'][:12]}"
                for name, s in result["at_common_height"].items()
            ),
            file=sys.stderr,
            flush=True,
        )
        return 1
    ok = result["final_at_every_site"] == result["submitted"] and not result["rejected_batches"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
