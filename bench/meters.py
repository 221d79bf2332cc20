"""Meters benchmark: signed readings published to MQTT by many meters, to minted on chain.

Starts a whole site (daphne, Celery worker and beat, its own PostgreSQL
database) as the live tests do, plus the MQTT bridge (`manage.py meters_bridge`)
on the machine's Mosquitto under a topic root of its own. Registers
BENCH_METERS solar meters (signed by MEA's demo key), pre-signs one-minute
readings for each (so publishing spends no CPU on signing), then publishes
BENCH_RATE readings/s for BENCH_SECONDS from BENCH_PUBLISHERS MQTT clients
(QoS 1; each client owns its meters, so a meter's readings arrive in order).

A reading counts as minted when a committed block holds it with an accepted
receipt (the block that adds it to its meter's reading count; polled every
POLL_S, so latencies err on the slow side by up to one poll). Its start time is
when it was handed to the MQTT client.

Prints one JSON object on its last line: minted readings/s, p50/p95/p99
publish-to-minted seconds, blocks, average readings per block.

Environment: BENCH_SECONDS (10), BENCH_RATE (2500), BENCH_METERS (2500),
BENCH_PUBLISHERS (4), BENCH_DRAIN_SECONDS (30), BENCH_BRIDGE_FLUSH_MS (the bridge's
--flush-ms; unset: its default), GTX_MQTT_URL (mqtt://127.0.0.1:1883).
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.ledger import _blocks, _env_int, _latency_figures, _pg
from bench.limits import signature_limit, verify_seconds
from chain.ledger.genesis import load_genesis
from gtxclient import Key, Site, sign_transaction
from localnet import BASE_DIR
from localnet.network import start_site, stop_site
from meters.topics import broker_address, readings_topic, reply_topic

POLL_S = 0.05
#: Publishers sleep only when more than this ahead of schedule: readings go out in ticks of
#: about 20 ms, not one wake-up each (the load generator shares the site's 2 cores; paced
#: message by message it took 136 us of CPU per reading, in ticks 56 us). The rate is the
#: same; a reading's latency still starts when it is handed to the MQTT client.
PACE_S = 0.02
MINUTE_MS = 60_000
RATED_W = 1_000_000
OWNER = "bkk_community_solar"


def _seed(index: int) -> bytes:
    return b"meter" + index.to_bytes(4, "big") + bytes(23)


def _sign_readings(chain_id: str, indexes: list[int], per_meter: int, first_end_ms: int) -> list[list[str]]:
    """Per meter, its readings as wire JSON: one-minute windows ending at first_end_ms, +1 min, ..."""
    out = []
    for index in indexes:
        key = Key(_seed(index))
        bodies = []
        for n in range(per_meter):
            end = first_end_ms + n * MINUTE_MS
            payload = {
                "window_start_ms": end - MINUTE_MS,
                "window_end_ms": end,
                "import_wh": 0,
                "export_wh": 10,
            }
            tx = sign_transaction(key, chain_id=chain_id, nonce=n, kind="meter_reading", payload=payload)
            bodies.append(json.dumps(tx.wire()))
        out.append(bodies)
    return out


def _register(site, conn, chain_id: str, meters: list[str], owner: str) -> None:
    mea = Key.demo("MEA")
    txs = [
        sign_transaction(
            mea,
            chain_id=chain_id,
            nonce=i,
            kind="meter_register",
            payload={
                "meter": m,
                "owner": owner,
                "region": "bangkok",
                "kind": "solar",
                "rated_capacity_w": RATED_W,
            },
        )
        for i, m in enumerate(meters)
    ]
    with Site(site.url, timeout=30) as http:
        for i in range(0, len(txs), 2000):
            http.submit(txs[i : i + 2000])
    site.wait_for(
        lambda: conn.execute("SELECT count(*) FROM meters_meter").fetchone()[0] == len(meters), timeout=120
    )


def _wait_for_bridge(mqtt_url: str, root: str, timeout: float = 120) -> None:
    """Until the bridge answers a probe: readings published before it subscribes would be lost."""
    answered = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda *args: answered.set()
    client.connect(*broker_address(mqtt_url))
    client.loop_start()
    try:
        client.subscribe(reply_topic("probe", "rejected", root), qos=1)
        deadline = time.monotonic() + timeout
        while not answered.wait(0.5):
            if time.monotonic() > deadline:
                raise RuntimeError("The meters bridge did not answer.")
            client.publish(readings_topic("probe", root), b"probe", qos=1)
    finally:
        client.loop_stop()
        client.disconnect()


def run() -> dict:
    seconds = _env_int("BENCH_SECONDS", 10)
    rate = _env_int("BENCH_RATE", 2500)
    n = _env_int("BENCH_METERS", 2500)
    publishers = _env_int("BENCH_PUBLISHERS", 4)
    drain_s = _env_int("BENCH_DRAIN_SECONDS", 30)
    mqtt_url = os.environ.get("GTX_MQTT_URL", "mqtt://127.0.0.1:1883")
    flush_ms = _env_int("BENCH_BRIDGE_FLUSH_MS", 0)  # 0: the bridge's default
    genesis = load_genesis(BASE_DIR / "thai_market.toml")
    per_meter = max(1, -(-rate * seconds // n))
    meters = [Key(_seed(i)).address for i in range(n)]
    # Windows end in the past (the chain refuses future windows): the last one a minute ago.
    now_ms = time.time_ns() // 1_000_000 // MINUTE_MS * MINUTE_MS
    first_end = now_ms - per_meter * MINUTE_MS

    t_sign = time.monotonic()
    groups = [list(range(p, n, publishers)) for p in range(publishers)]
    chunk = 250
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        parts = [
            pool.submit(
                _sign_readings, genesis.chain_id, list(range(i, min(i + chunk, n))), per_meter, first_end
            )
            for i in range(0, n, chunk)
        ]
        bodies = [body for part in parts for body in part.result()]
    print(f"signed {n * per_meter} readings in {time.monotonic() - t_sign:.1f}s", flush=True)

    verify_s = verify_seconds()  # before the site runs
    tmp = Path(tempfile.mkdtemp(prefix="bench-meters-"))
    site, procs = start_site(tmp, extra_env={"DB_CONN_MAX_AGE": "600"})
    root = f"gtx-bench-{uuid.uuid4().hex[:8]}/meters"
    bridge = None
    try:
        conn = _pg(site.database_url)
        owner = next(a["address"] for a in genesis.accounts if a["username"] == OWNER)
        _register(site, conn, genesis.chain_id, meters, owner)
        bridge_log = open(tmp / "bridge.log", "w")  # noqa: SIM115 - the bridge holds it
        bridge = subprocess.Popen(
            [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "meters_bridge",
                "--url",
                mqtt_url,
                "--topic-root",
                root,
                *(["--flush-ms", str(flush_ms)] if flush_ms else []),
            ],
            env={**site.env, "LOG_LEVEL": "WARNING"},
            cwd=BASE_DIR,
            stdout=bridge_log,
            stderr=subprocess.STDOUT,
        )
        _wait_for_bridge(mqtt_url, root)
        start_height = conn.execute("SELECT height FROM chain_chainhead").fetchone()[0]
        result = _measure(conn, mqtt_url, root, meters, bodies, groups, per_meter, rate, seconds, drain_s)
        limit = signature_limit(sites=1, finalized_tx_per_s=result["readings_per_s"], verify_s=verify_s)
        return result | limit | {"meters": n, **_blocks(conn, start_height)}
    finally:
        if bridge is not None:
            bridge.terminate()
            bridge.wait(timeout=15)
        stop_site(site, procs)


def _measure(conn, mqtt_url, root, meters, bodies, groups, per_meter, rate, seconds, drain_s) -> dict:
    n = len(meters)
    published: list[list[float]] = [[] for _ in meters]
    t0 = time.monotonic() + 0.5
    total = min(rate * seconds, n * per_meter)
    count = len(groups)

    def publisher(p: int) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
        client.max_queued_messages_set(0)
        client.connect(*broker_address(mqtt_url))
        client.loop_start()
        try:
            # Reading k of every meter before reading k+1 of any: each meter's own order holds.
            sequence = [(m, k) for k in range(per_meter) for m in groups[p]]
            for i, (m, k) in enumerate(sequence):
                global_index = i * count + p
                if global_index >= total:
                    break
                due = t0 + global_index / rate
                delay = due - time.monotonic()
                if delay > PACE_S:
                    time.sleep(delay)
                published[m].append(time.monotonic())
                client.publish(readings_topic(meters[m], root), bodies[m][k], qos=1)
            deadline = time.monotonic() + 30
            while client.want_write() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            time.sleep(1)
            client.loop_stop()
            client.disconnect()

    workers = [threading.Thread(target=publisher, args=(p,)) for p in range(count)]
    for w in workers:
        w.start()

    latencies: list[float] = []
    minted = [0] * n
    done = 0
    index = {m: i for i, m in enumerate(meters)}
    mempool_peak = 0
    last_mint = t0
    # Each accepted reading adds one to its meter's count in the block that mints it, so the
    # readings of blocks committed since the last poll are exactly the new counts: reading
    # those blocks' rows costs the poll what was minted, not every meter each time.
    seen_height = conn.execute("SELECT height FROM chain_chainhead").fetchone()[0]
    end = t0 + seconds + drain_s
    while time.monotonic() < end:
        time.sleep(POLL_S)
        now = time.monotonic()
        rows = conn.execute(
            "SELECT block_id, sender FROM chain_chaintx "
            "WHERE block_id > %s AND kind = 'meter_reading' AND ok",
            [seen_height],
        ).fetchall()
        # A backlog here means blocks are the bottleneck; none with slow minting means the bridge.
        mempool_peak = max(mempool_peak, conn.execute("SELECT count(*) FROM chain_mempooltx").fetchone()[0])
        for height, meter_id in rows:
            seen_height = max(seen_height, height)
            i = index.get(meter_id)
            if i is None:
                continue
            k = minted[i]
            if k < len(published[i]):
                latencies.append(now - published[i][k])
            minted[i] = k + 1
            done += 1
            last_mint = now
        if done >= total and not any(w.is_alive() for w in workers):
            break
    for w in workers:
        w.join(timeout=5)
    done = sum(minted)
    latencies.sort()
    elapsed = max(last_mint - t0, 1e-9)
    return {
        "bench": "meters",
        "offered_per_s": rate,
        "published": sum(len(p) for p in published),
        "minted": done,
        "readings_per_s": round(done / elapsed, 1),
        "mempool_peak": mempool_peak,
        **_latency_figures(latencies),
    }


if __name__ == "__main__":
    print(json.dumps(run()), flush=True)
