"""Intake over shards on a running site: the coordinator scales up under load and down after it,
two shards verify at once, and nothing offered is admitted twice or lost (docs/SCALING.md)."""

import threading
import time

import psycopg
import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from localnet.network import start_site, stop_site

pytestmark = pytest.mark.live

SENDERS = ["solar_somchai", "wind_korat", "hydro_nan", "home_malee", "factory_rayong", "bkk_community_solar"]
BATCH = 100
#: The load stops after this long whatever happens (the test's bound).
LOAD_SECONDS = 40


@pytest.fixture(scope="module")
def sharded_site(tmp_path_factory):
    site, procs = start_site(
        tmp_path_factory.mktemp("shards"),
        # The mempool's room is the senders' own caps (six senders, 1,000 waiting each), not
        # half a second of what the chain finalizes: the load is then bounded by the shard's
        # verification, which is what the coordinator measures, and not by how fast blocks drain.
        extra_env={
            "GTX_SHARDING": "load",
            "GTX_SCALING_TICK_S": "1",
            "GTX_SCALING_WINDOW_S": "2",
            "GTX_INTAKE_MIN_WAITING": "6000",
        },
    )
    yield site
    stop_site(site, procs)


def _rows(site, sql: str, *args) -> list[tuple]:
    with psycopg.connect(site.database_url) as conn:
        return conn.execute(sql, args).fetchall()


def _offer(site, username: str, chain_id: str, to: str, stop: threading.Event, accepted: list, errors: list):
    """One client: batches of transfers with consecutive nonces, resent after a refusal for room."""
    try:
        _offer_until(site, username, chain_id, to, stop, accepted)
    except Exception as exc:  # the test fails on it, below
        errors.append(repr(exc))


def _offer_until(site, username: str, chain_id: str, to: str, stop: threading.Event, accepted: list) -> None:
    key = demo_key(username)
    nonce = site.get(f"/api/v1/accounts/{address_of(key)}/").json()["nonce"]
    while not stop.is_set():
        batch = [
            sign_transaction(
                key, chain_id=chain_id, nonce=nonce + i, kind="transfer", payload={"to": to, "amount": 1}
            )
            for i in range(BATCH)
        ]
        response = site.post("/api/v1/transactions/", json=[tx.to_wire() for tx in batch])
        if response.status_code == 202:
            accepted.extend(response.json()["hashes"])
            nonce += BATCH
        elif response.status_code in (429, 503):
            time.sleep(float(response.headers.get("Retry-After", "1")))
        else:
            raise AssertionError(response.text)


def test_the_coordinator_scales_up_under_load_then_down_and_no_transaction_is_lost(sharded_site, genesis):
    site = sharded_site
    to = next(a["address"] for a in genesis.accounts if a["username"] == "erc_auditor")
    assert site.get("/api/v1/status/").json()["scaling"]["active_shards"] == 1
    stop, accepted, errors, threads = threading.Event(), [], [], []
    for username in SENDERS:
        thread = threading.Thread(
            target=_offer, args=(site, username, genesis.chain_id, to, stop, accepted, errors)
        )
        thread.start()
        threads.append(thread)
    seen = []
    try:
        deadline = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < deadline and not errors:
            seen.append(site.get("/api/v1/status/").json()["scaling"])
            if seen[-1]["active_shards"] >= 2:
                time.sleep(3)  # the load goes on over two shards for a moment
                break
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    scaled = seen[-1]
    assert scaled["active_shards"] >= 2, ("no shard added under load", scaled, len(accepted))
    up = [d for d in scaled["decisions"] if d["to"] > d["from"]]
    assert up and all("of its capacity, above 80%" in d["reason"] and d["tx_per_s"] > 0 for d in up)

    # With the load gone every shard falls below 40 %: one shard less a tick, down to one.
    down = site.wait_for(
        lambda: site.get("/api/v1/status/").json()["scaling"]["active_shards"] == 1, timeout=30
    )
    assert down
    decisions = site.get("/api/v1/status/").json()["scaling"]["decisions"]
    assert decisions[0]["to"] == 1 and "every shard below 40%" in decisions[0]["reason"]

    # Two shards' workers verified at the same time: their batches' working times overlap.
    work = _rows(
        site,
        "SELECT shard, finished_at - busy_us * interval '1 microsecond', finished_at FROM chain_shardwork"
        " WHERE admitted ORDER BY 2",
    )
    assert {shard for shard, _, _ in work} >= {0, 1}
    overlapping = any(
        a[0] != b[0] and a[1] < b[2] and b[1] < a[2] for i, a in enumerate(work) for b in work[i + 1 : i + 40]
    )
    assert overlapping, "no two shards ever worked at once"

    # Every accepted transaction reaches a block exactly once.
    assert len(accepted) == len(set(accepted)) > 0
    committed = site.wait_for(
        lambda: (
            (n := _rows(site, "SELECT count(*) FROM chain_chaintx WHERE hash = ANY(%s)", accepted)[0][0])
            == len(accepted)
            and n
        ),
        timeout=60,
    )
    assert committed == len(accepted)
