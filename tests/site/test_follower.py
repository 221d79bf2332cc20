"""A follower site, live: the ERC's registered (inactive) validator record runs a site that
follows the chain, serves its own users and forwards their transactions to the validators.

Real sites over HTTP on 127.0.0.1 (daphne, Celery workers and beat each): EGAT and MEA
vote, ERC follows and is started late, after the validators made some heights.
"""

import json
import re
import time

import httpx
import pytest

from chain.consensus.peer_auth import request_headers
from chain.consensus.transport import gossip_envelope
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of, new_signing_key
from chain.ledger.tx import sign_transaction
from chain.management.commands.init import DEMO_PASSWORD
from localnet.network import start_later, start_network, stop_network, wait_for_height

pytestmark = pytest.mark.live

GOSSIP = "/peer/v1/transactions/"


def _transfer(chain_id: str, sender: str, nonce: int, amount: int = 1):
    return sign_transaction(
        demo_key(sender),
        chain_id=chain_id,
        nonce=nonce,
        kind="transfer",
        payload={"to": address_of(demo_key("home_malee")), "amount": amount},
    )


def _committed(site, tx_hash: str) -> bool:
    answer = site.get(f"/api/v1/transactions/{tx_hash}/")
    return answer.status_code == 200 and answer.json().get("status") == "committed"


def _blocks(site, height: int) -> list[tuple]:
    rows = []
    for h in range(1, height + 1):
        block = site.get(f"/api/v1/blocks/{h}/").json()
        rows.append((h, block["hash"], block["state_root"], block["result_state_root"]))
    return rows


def _signed_post(url: str, key, chain_id: str, body: dict) -> httpx.Response:
    content = json.dumps(body).encode()
    headers = request_headers(
        key, method="POST", target=GOSSIP, body=content, chain_id=chain_id, now_ms=time.time_ns() // 10**6
    )
    return httpx.post(
        url + GOSSIP, content=content, headers={"content-type": "application/json", **headers}, timeout=10
    )


def _login(site, username: str) -> httpx.Client:
    client = httpx.Client(base_url=site.url, timeout=30, follow_redirects=True)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    client.post(
        "/accounts/login/",
        data={"username": username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token},
        headers={"referer": site.url + "/accounts/login/"},
    )
    return client


def test_a_late_follower_catches_up_follows_and_forwards_its_users_transactions(tmp_path):
    sites = start_network(tmp_path, ["EGAT", "MEA"], followers=["ERC"], followers_later=True)
    egat, mea, erc = sites
    try:
        chain_id = egat.status()["chain_id"]
        # The validators make heights before the follower exists: one transfer a height.
        for nonce in range(3):
            tx = _transfer(chain_id, "wind_korat", nonce)
            assert egat.post("/api/v1/transactions/", json=[tx.to_wire()]).status_code == 202
            egat.wait_for(lambda tx=tx: _committed(egat, tx.hash), timeout=120)
        made = egat.status()["height"]
        assert made >= 3

        start_later(erc)

        # It catches up: every block it holds is the validators' block, state roots included.
        wait_for_height([erc], made, timeout=120)
        status = erc.status()
        assert status["node_type"] == "follower"
        assert status["node_address"] == erc.public_key
        assert status["state_root"] == egat.status()["state_root"]
        assert _blocks(erc, made) == _blocks(egat, made) == _blocks(mea, made)

        # It follows: a block committed now reaches it (pushed by its proposer, or pulled).
        tx = _transfer(chain_id, "wind_korat", 3)
        assert mea.post("/api/v1/transactions/", json=[tx.to_wire()]).status_code == 202
        erc.wait_for(lambda: _committed(erc, tx.hash), timeout=60)
        # Validators pushed blocks to it (beat's pull is the backstop): daphne logged them.
        assert '"POST /peer/v1/follow/" 200' in (erc.run_dir / "site.log").read_text()

        # A user at the follower: its intake admits the transfer and forwards it to the
        # validators, which commit it; the follower has it final too.
        mine = _transfer(chain_id, "factory_rayong", 0, amount=7)
        assert erc.post("/api/v1/transactions/", json=[mine.to_wire()]).status_code == 202
        egat.wait_for(lambda: _committed(egat, mine.hash), timeout=120)
        erc.wait_for(lambda: _committed(erc, mine.hash), timeout=60)
        height = egat.status()["height"]
        wait_for_height([erc], height, timeout=60)
        assert _blocks(erc, height) == _blocks(egat, height)
        assert erc.status()["state_root"] == egat.status()["state_root"]

        # Its status says it follows, and how far behind it is.
        lag = erc.wait_for(lambda: (s := erc.status()["follower"]) and s["behind_heights"] == 0 and s, 30)
        assert lag["validators_height"] >= height and lag["behind_seconds"] == 0
        assert egat.status()["follower"] is None
        page = erc.get("/status/").text
        assert "follower" in page and 'data-testid="behind"' in page

        # The validators take gossip from the registered follower, and refuse a stranger's.
        gift = _transfer(chain_id, "hydro_nan", 0)
        envelope = gossip_envelope(demo_key("ERC"), chain_id, [gift.to_wire()], [gift.hash])
        accepted = _signed_post(egat.url, demo_key("ERC"), chain_id, envelope)
        assert accepted.status_code == 200 and accepted.json()["admitted"] == 1
        stranger = new_signing_key()
        spam = _transfer(chain_id, "hydro_nan", 1)
        refused = _signed_post(
            egat.url, stranger, chain_id, gossip_envelope(stranger, chain_id, [spam.to_wire()], [spam.hash])
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "unknown_peer"
        egat.wait_for(lambda: _committed(egat, gift.hash), timeout=120)
        assert egat.get(f"/api/v1/transactions/{spam.hash}/").status_code == 404

        # The regulator's audit pages work at the ERC's site.
        auditor = _login(erc, "erc_auditor")
        try:
            for path in ("/audit/", "/audit/blocks/", "/audit/trades/"):
                answer = auditor.get(path)
                assert answer.status_code == 200, path
                assert "/accounts/login/" not in str(answer.url), path
        finally:
            auditor.close()
    finally:
        stop_network(sites)
