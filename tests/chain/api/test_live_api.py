"""The API through a real daphne: body limits, JSON 404s, and a batch to committed."""

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction

pytestmark = pytest.mark.live


def test_an_oversized_body_is_a_json_413_through_daphne(live_site):
    body = b"[" + b" " * (4 * 1024 * 1024) + b"]"
    response = live_site.post(
        "/api/v1/transactions/", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_an_unknown_api_route_is_a_json_404_through_daphne(live_site):
    response = live_site.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_batch_is_committed_and_its_statuses_say_so(live_site, genesis):
    key = demo_key("wind_korat")
    sender = address_of(key)
    to = address_of(demo_key("home_malee"))
    account = live_site.get(f"/api/v1/accounts/{sender}/").json()
    batch = [
        sign_transaction(
            key,
            chain_id=genesis.chain_id,
            nonce=account["next_nonce"] + i,
            kind="transfer",
            payload={"to": to, "amount": 5},
        ).to_wire()
        for i in range(20)
    ]

    response = live_site.post("/api/v1/transactions/", json=batch)

    assert response.status_code == 202, response.text
    hashes = response.json()["hashes"]

    def all_committed():
        statuses = [live_site.get(f"/api/v1/transactions/{h}/").json()["status"] for h in hashes[-1:]]
        return statuses == ["committed"]

    live_site.wait_for(all_committed, timeout=20)
    statuses = [live_site.get(f"/api/v1/transactions/{h}/").json() for h in hashes]
    assert {(s["status"], s["ok"]) for s in statuses} == {("committed", True)}
    after = live_site.get(f"/api/v1/accounts/{sender}/").json()
    assert after["balance"] == account["balance"] - 20 * 5
