"""`manage.py start --no-mining` on a real network: the site keeps checking, voting and applying
every block, and the proposer draw never picks it again (nor charges it a miss)."""

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from gtxclient import Key, sign_transaction
from gtxclient import Site as Client
from localnet.network import restart_site, start_network, stop_network, wait_for_height
from localnet.processes import stop_processes

pytestmark = pytest.mark.live

#: Heights watched after the change: MEA holds about a third of the draw, so a site still
#: drawn would propose one of them with a chance of 1 - (2/3)^24, all but certain (1 - 6e-5).
HEIGHTS = 24


def validator(site, name: str) -> dict:
    return next(v for v in site.get("/api/v1/validators/").json() if v["name"] == name)


def one_block_per_transfer(site, heights: int) -> int:
    """Blocks come with work: one transfer at a time, each waited for, ``heights`` blocks; the
    height reached."""
    key = Key.demo("factory_rayong")
    to = address_of(demo_key("home_malee"))
    with Client(site.url) as client:
        chain_id = client.status()["chain_id"]
        nonce = client.next_nonce(key.address)
        for _ in range(heights):
            height = client.status()["height"]
            tx = sign_transaction(
                key, chain_id=chain_id, nonce=nonce, kind="transfer", payload={"to": to, "amount": 1}
            )
            client.submit(tx)
            nonce += 1
            site.wait_for(lambda h=height: client.status()["height"] > h, 30, interval=0.1)
        return client.status()["height"]


def test_a_site_started_with_no_mining_votes_but_never_proposes(tmp_path):
    sites = start_network(tmp_path, ["EGAT", "MEA", "PEA"], block_interval_ms=300)
    egat, mea, _ = sites
    try:
        assert validator(egat, "MEA")["mining"] is True
        stop_processes(mea.procs)
        mea.start_options = ["--no-mining"]
        restart_site(mea)
        assert "Mining off: validator_set_mining" in (mea.run_dir / "site.log").read_text()
        egat.wait_for(lambda: all(not validator(s, "MEA")["mining"] for s in sites), 60, interval=0.5)
        before = validator(egat, "MEA")
        start = egat.status()["height"]

        end = one_block_per_transfer(egat, HEIGHTS)
        assert end >= start + HEIGHTS
        wait_for_height(sites, end, timeout=60)
        proposers = {
            egat.get(f"/api/v1/blocks/{height}/").json()["proposer"] for height in range(start + 1, end + 1)
        }
        assert address_of(demo_key("MEA")) not in proposers
        assert proposers == {address_of(demo_key("EGAT")), address_of(demo_key("PEA"))}
        after = validator(egat, "MEA")
        assert after["missed_total"] == before["missed_total"] and not after["jailed"]
        # MEA's own site checked and applied every block: it holds the same chain.
        same = egat.get(f"/api/v1/blocks/{end}/").json()["hash"]
        assert mea.get(f"/api/v1/blocks/{end}/").json()["hash"] == same
    finally:
        stop_network(sites)
