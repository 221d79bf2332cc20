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

A reading the bridge answers ``rejected`` with ``retry_after_ms`` (no room: mempool_full,
intake_busy) is published again by its publisher after that wait, in its next slot, as a
meter would: publishers keep their schedule whatever the answers, so the offered rate is what
was asked. A meter keeps its readings in nonce order, as the chain asks: those that fall due
while it has one to send again wait behind it and go with it, in one message (a list of up
to METER_MAX_READINGS; those already sent are held by the chain for the one missing). The
refusal's time (publish to answer) is counted (``refused_p50_ms``, ``refused_p95_ms``); an
accepted reading's latency starts at the publish that got it in.

Prints one JSON object on its last line: minted readings/s, p50/p95/p99
publish-to-minted seconds, blocks, average readings per block.

With BENCH_HEADENDS=1 each publisher is a utility's head-end instead: every ~20 ms tick it sends
the readings due in it as one message (``<root>/headends/<name>/readings``, each reading still
signed by its meter) and hears one answer per message; readings it is told to retry go again
in a later tick, as above.

Overload (bench.overload): BENCH_RATES="1000,2000,3000" offers each rate in turn for
BENCH_SECONDS; the knee is the most a step minted with its p95 within 2.5 s, and
BENCH_OVERLOAD=3 then offers three times the knee, with ``ratio_to_knee``.

Environment: BENCH_SECONDS (10), BENCH_RATE (2500) or BENCH_RATES, BENCH_OVERLOAD (0),
BENCH_METERS (2500), BENCH_PUBLISHERS (4), BENCH_HEADENDS (0), BENCH_DRAIN_SECONDS (30), BENCH_BRIDGE_FLUSH_MS
(the bridge's --flush-ms; unset: its default), GTX_MQTT_URL (mqtt://127.0.0.1:1883).
"""

import bisect
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.ledger import _blocks, _env_int, _latency_figures, _pg
from bench.limits import signature_limit, verify_seconds
from bench.overload import rates_from_env, refusal_figures, stepped
from chain.ledger.genesis import load_genesis
from gtxclient import Key, Refused, Site, sign_transaction
from localnet import BASE_DIR
from localnet.network import start_site, stop_site
from meters.mqtt_client import BufferedClient
from meters.topics import (
    OUT_OF_TURN_MESSAGE,
    RETRY_AFTER_MS,
    broker_address,
    headend_answer_topic,
    headend_message,
    headend_topic,
    meter_messages,
    meter_of_topic,
    readings_topic,
    reply_topic,
)

POLL_S = 0.05
#: Publishers sleep only when more than this ahead of schedule: readings go out in ticks of
#: about 20 ms, not one wake-up each (the load generator shares the site's 2 cores; paced
#: message by message it took 136 us of CPU per reading, in ticks 56 us). The rate is the
#: same; a reading's latency still starts when it is handed to the MQTT client.
PACE_S = 0.02
MINUTE_MS = 60_000
#: The most readings a head-end puts in one message (the bridge takes up to HEADEND_MAX_READINGS).
HEADEND_TICK_MAX = 500
RATED_W = 1_000_000
OWNER = "bkk_community_solar"


def _seed(index: int) -> bytes:
    return b"meter" + index.to_bytes(4, "big") + bytes(23)


def _sign_readings(
    chain_id: str, indexes: list[int], per_meter: int, first_end_ms: int
) -> list[list[tuple[str, str]]]:
    """Per meter, its readings as (wire JSON, hash): one-minute windows ending at first_end_ms,
    +1 min, ..."""
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
            bodies.append((json.dumps(tx.wire()), tx.hash))
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
    # One account may have 1,000 transactions waiting (GTX_MEMPOOL_MAX_PER_SENDER): batches of
    # 500, each sent again once there is room.
    with Site(site.url, timeout=30) as http:
        for i in range(0, len(txs), 500):
            deadline = time.monotonic() + 120
            while True:
                try:
                    http.submit(txs[i : i + 500])
                    break
                except Refused as exc:
                    if not exc.retry_later or time.monotonic() > deadline:
                        raise
                    time.sleep(exc.retry_after or 0.5)
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
    rates, overload = rates_from_env(2500)
    n = _env_int("BENCH_METERS", 2500)
    publishers = _env_int("BENCH_PUBLISHERS", 4)
    headends = bool(_env_int("BENCH_HEADENDS", 0))
    drain_s = _env_int("BENCH_DRAIN_SECONDS", 30)
    mqtt_url = os.environ.get("GTX_MQTT_URL", "mqtt://127.0.0.1:1883")
    flush_ms = _env_int("BENCH_BRIDGE_FLUSH_MS", 0)  # 0: the bridge's default
    genesis = load_genesis(BASE_DIR / "thai_market.toml")
    # Enough readings for every step, and for three times the knee (at most a tenth over the
    # highest step's rate).
    budget = (sum(rates) + overload * max(rates) * 11 // 10) * seconds
    per_meter = max(1, -(-budget // n))
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
        load = MeterLoad(conn, mqtt_url, root, meters, bodies, groups, headends=headends)

        def step(rate: int) -> dict:
            start_height = conn.execute("SELECT height FROM chain_chainhead").fetchone()[0]
            result = load.step(rate, seconds, drain_s)
            limit = signature_limit(sites=1, finalized_tx_per_s=result["readings_per_s"], verify_s=verify_s)
            return result | limit | {"meters": n, "headends": headends, **_blocks(conn, start_height)}

        try:
            return stepped(step, rates, overload, throughput="readings_per_s")
        finally:
            load.close()
    finally:
        if bridge is not None:
            bridge.terminate()
            bridge.wait(timeout=15)
        stop_site(site, procs)


class MeterLoad:
    """Publishers of pre-signed readings, the chain polled for what was minted, and a listener
    for the bridge's refusals; each ``step`` continues every meter's readings where the last
    left them."""

    def __init__(self, conn, mqtt_url: str, root: str, meters: list[str], bodies, groups, *, headends=False):
        self.conn, self.mqtt_url, self.root, self.headends = conn, mqtt_url, root, headends
        self.meters, self.bodies, self.groups = meters, bodies, groups
        self.index = {m: i for i, m in enumerate(meters)}
        self.by_hash = {h: (m, k) for m, readings in enumerate(bodies) for k, (_, h) in enumerate(readings)}
        #: Per meter: the next reading never published, and how many were minted.
        self.next_new = [0] * len(meters)
        self.minted = [0] * len(meters)
        #: (meter, reading) -> when it was last published (monotonic).
        self.published_at: dict[tuple[int, int], float] = {}
        #: Per publisher: (when it may go again, meter) of the meters with readings to send again.
        self.retries: list[deque] = [deque() for _ in groups]
        #: Per meter told to retry: its readings not sent since, in nonce order (a meter keeps its
        #: readings in order, as the chain's nonces ask: the next waits behind the one refused).
        self.unsent: dict[int, list[int]] = {}
        self.refusal_s: list[float] = []
        #: Each refusal's code ("out_of_turn": told to wait for an earlier reading's turn).
        self.refusal_codes: list[str] = []
        self.last_refusal = 0.0
        self.other_refusals: dict[str, int] = {}
        #: A head-end's messages awaiting their answer: batch id -> the (meter, reading) it holds.
        self.batches: dict[str, list[tuple[int, int]]] = {}
        self.lock = threading.Lock()
        self.listener = BufferedClient(mqtt.CallbackAPIVersion.VERSION2)
        self.listener.on_message = self._on_answer if headends else self._on_rejected
        self.listener.connect(*broker_address(mqtt_url))
        self.listener.loop_start()
        subscribed = threading.Event()
        self.listener.on_subscribe = lambda *args: subscribed.set()
        answers = headend_answer_topic("+", root) if headends else reply_topic("+", "rejected", root)
        self.listener.subscribe(answers, qos=0)
        subscribed.wait(10)
        self.height = conn.execute("SELECT height FROM chain_chainhead").fetchone()[0]

    def close(self) -> None:
        self.listener.loop_stop()
        self.listener.disconnect()

    def _dropped(self) -> dict[str, int]:
        """The site's receipts of readings it admitted or held and then dropped, by code."""
        rows = self.conn.execute(
            "SELECT error_code, count(*) FROM chain_droppedtx "
            "WHERE kind = 'meter_reading' GROUP BY error_code"
        ).fetchall()
        return dict(rows)

    def _on_rejected(self, client, userdata, message) -> None:
        now = time.monotonic()
        body = json.loads(message.payload)
        if "nonces" in body:  # refused for want of room: named by the meter (topic) and nonces
            m = self.index.get(meter_of_topic(message.topic))
            found = [] if m is None else [(m, k) for k in body["nonces"]]
        else:
            found = [self.by_hash[body["hash"]]] if body.get("hash") in self.by_hash else []
        with self.lock:
            for m, k in found:
                self._refused(m, k, body, now)

    def _on_answer(self, client, userdata, message) -> None:
        """A head-end's answer: the whole message refused, or each refused reading by its index."""
        now = time.monotonic()
        body = json.loads(message.payload)
        with self.lock:
            items = self.batches.pop(body.get("batch", ""), None)
            if items is None:
                return
            if "code" in body:  # the whole message
                refused = [(item, body) for item in items]
            else:
                refused = [(items[r["index"]], r) for r in body["rejected"]]
            for (m, k), reason in refused:
                self._refused(m, k, reason, now)

    def _refused(self, m: int, k: int, body: dict, now: float) -> None:
        """Reading k of meter m was refused (under the lock): sent again when told to retry."""
        self.last_refusal = now
        if "retry_after_ms" in body or body.get("code") == "nonce_gap":
            # nonce_gap: its predecessor was told to retry and the hold was full; a meter
            # sends it again, as it does what it is told to retry.
            self.refusal_s.append(now - self.published_at.get((m, k), now))
            out_of_turn = body.get("message") == OUT_OF_TURN_MESSAGE
            self.refusal_codes.append("out_of_turn" if out_of_turn else body.get("code", ""))
            if m not in self.unsent:
                self.unsent[m] = []
                wait_ms = body.get("retry_after_ms", RETRY_AFTER_MS)
                self.retries[m % len(self.groups)].append((now + wait_ms / 1000, m))
            bisect.insort(self.unsent[m], k)
        else:
            self.other_refusals[body.get("code", "")] = self.other_refusals.get(body.get("code", ""), 0) + 1

    def _publisher(self, p: int, rate: int, t0: float, seconds: int, deadline: float, new: list) -> None:
        client = BufferedClient(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}"
        )
        client.max_queued_messages_set(0)
        client.connect(*broker_address(self.mqtt_url))
        client.loop_start()
        count, retries, pending_new = len(self.groups), self.retries[p], deque(new)
        tick: list[tuple[int, int]] = []  # a head-end's readings of this tick
        sent = 0

        def send_tick() -> None:
            """A head-end's message: the readings of its tick, in the order they fell due."""
            nonlocal sent
            if not tick:
                return
            sent += 1
            batch_id = f"p{p}-{sent}"
            with self.lock:
                self.batches[batch_id] = list(tick)
            now = time.monotonic()
            for item in tick:
                self.published_at[item] = now
            body = headend_message(batch_id, [self.bodies[m][k][0] for m, k in tick])
            client.publish(headend_topic(f"bench-headend-{p}", self.root), body, qos=1)
            tick.clear()

        try:
            slot = 0
            while time.monotonic() < deadline:
                due = t0 + (slot * count + p) / rate
                delay = due - time.monotonic()
                if delay > PACE_S:
                    send_tick()
                    time.sleep(delay)
                now = time.monotonic()
                items = []
                with self.lock:
                    if retries and retries[0][0] <= now:
                        m = retries.popleft()[1]
                        items = [(m, k) for k in self.unsent.pop(m)]
                    elif pending_new:
                        m, k = pending_new.popleft()
                        if m in self.unsent:  # behind its meter's reading to send again
                            bisect.insort(self.unsent[m], k)
                            slot += 1
                            continue
                        items = [(m, k)]
                if not items:
                    with self.lock:
                        quiet = not retries and now - self.last_refusal > 1.5
                    if quiet:
                        break  # every reading of the step is published, none waits to go again
                    slot += 1
                    continue
                if self.headends:
                    for m, k in items:
                        tick.append((m, k))
                        if len(tick) >= HEADEND_TICK_MAX:  # behind schedule: no tick grows past it
                            send_tick()
                else:
                    self._send_own(client, items)
                slot += 1
            send_tick()
            limit = time.monotonic() + 30
            while client.want_write() and time.monotonic() < limit:
                time.sleep(0.05)
        finally:
            time.sleep(1)
            client.loop_stop()
            client.disconnect()

    def _send_own(self, client, items: list[tuple[int, int]]) -> None:
        """One meter's readings as its meter sends them: one alone, a backlog (the readings it was
        told to send again and those that fell due meanwhile) in messages of up to
        METER_MAX_READINGS."""
        m = items[0][0]
        now = time.monotonic()
        for item in items:
            self.published_at[item] = now
        for message in meter_messages([self.bodies[m][k][0] for _, k in items]):
            client.publish(readings_topic(self.meters[m], self.root), message, qos=1)

    def step(self, rate: int, seconds: int, drain_s: int) -> dict:
        """Offer ``rate`` new readings/s for ``seconds``, retries in the same slots; then wait up to
        ``drain_s`` for what was published to be minted."""
        total = rate * seconds
        count = len(self.groups)
        # Reading k of every meter before reading k+1 of any: each meter's own order holds. The
        # meters the last step left a reading behind go first; meter m is publisher m % count's.
        order = sorted(range(len(self.meters)), key=lambda m: self.next_new[m])
        left = sum(map(len, self.bodies)) - sum(self.next_new)
        new: list[list] = [[] for _ in self.groups]
        for i in range(min(total, left)):
            m = order[i % len(order)]
            new[m % count].append((m, self.next_new[m]))
            self.next_new[m] += 1
        want = {(m, k) for part in new for m, k in part}
        refusals_before = len(self.refusal_s)
        dropped_before = self._dropped()
        t0 = time.monotonic() + 0.5
        end = t0 + seconds + drain_s
        workers = [
            threading.Thread(target=self._publisher, args=(p, rate, t0, seconds, end, new[p]))
            for p in range(count)
        ]
        for w in workers:
            w.start()
        latencies: list[float] = []
        done, mempool_peak, last_mint = 0, 0, t0
        # Each accepted reading adds one to its meter's count in the block that mints it, so the
        # readings of blocks committed since the last poll are exactly the new counts.
        while time.monotonic() < end:
            time.sleep(POLL_S)
            now = time.monotonic()
            rows = self.conn.execute(
                "SELECT block_id, sender FROM chain_chaintx "
                "WHERE block_id > %s AND kind = 'meter_reading' AND ok",
                [self.height],
            ).fetchall()
            mempool_peak = max(
                mempool_peak, self.conn.execute("SELECT count(*) FROM chain_mempooltx").fetchone()[0]
            )
            for height, meter_id in rows:
                self.height = max(self.height, height)
                m = self.index.get(meter_id)
                if m is None:
                    continue
                k = self.minted[m]
                self.minted[m] = k + 1
                if (m, k) in want:
                    latencies.append(now - self.published_at.get((m, k), now))
                    done += 1
                    last_mint = now
            if done >= len(want) and not any(w.is_alive() for w in workers):
                break
        for w in workers:
            w.join(timeout=5)
        latencies.sort()
        elapsed = max(last_mint - t0, 1e-9)
        return {
            "bench": "meters",
            "offered": rate,
            "offered_per_s": rate,
            "published": len(want),
            "minted": done,
            "readings_per_s": round(done / elapsed, 1),
            "mempool_peak": mempool_peak,
            "other_refusals": dict(self.other_refusals),
            # Admitted (answered accepted) and then dropped by the site, by code: lost to the meter.
            "dropped": {
                code: count - dropped_before.get(code, 0)
                for code, count in self._dropped().items()
                if count > dropped_before.get(code, 0)
            },
            **_latency_figures(latencies),
            **refusal_figures(self.refusal_s[refusals_before:], self.refusal_codes[refusals_before:]),
        }


if __name__ == "__main__":
    print(json.dumps(run()), flush=True)
