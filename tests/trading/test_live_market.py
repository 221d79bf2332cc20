"""The market on a running site: signed orders over HTTP, the trade over ws/market/."""

import json

import pytest
from websockets.sync.client import connect

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction

pytestmark = pytest.mark.live


def signed_order(live_site, genesis, username: str, payload: dict) -> dict:
    key = demo_key(username)
    account = live_site.get(f"/api/v1/accounts/{address_of(key)}/").json()
    return sign_transaction(
        key, chain_id=genesis.chain_id, nonce=account["next_nonce"], kind="order_place", payload=payload
    ).to_wire()


def test_crossing_orders_trade_and_the_stream_says_so(live_site, genesis):
    slot = live_site.get("/api/v1/market/").json()["slots"][1]["slot_ms"]
    order = {"energy_wh": 2_000, "price_per_kwh": 3_000_000, "zone": "north", "delivery_slot": slot}
    sell = signed_order(live_site, genesis, "hydro_nan", {**order, "side": "sell", "source": "hydro"})
    buy = signed_order(live_site, genesis, "solar_somchai", {**order, "side": "buy", "sources": ["hydro"]})

    with connect(
        f"{live_site.ws_url}/ws/market/?slot={slot}&zone=north",
        additional_headers={"Origin": live_site.url},
        open_timeout=10,
    ) as stream:
        assert json.loads(stream.recv(timeout=10))["type"] == "subscribed"
        response = live_site.post("/api/v1/transactions/", json=[sell, buy])
        assert response.status_code == 202, response.text
        sell_id, buy_id = response.json()["hashes"]
        while (message := json.loads(stream.recv(timeout=15)))["type"] != "trade":
            assert message["type"] == "order_placed"

    assert (message["sell_order_id"], message["buy_order_id"]) == (sell_id, buy_id)
    assert (message["energy_wh"], message["price_per_kwh"], message["paid_tokens"]) == (
        2_000,
        3_000_000,
        6_000_000,
    )
    trades = live_site.get("/api/v1/market/trades/", params={"slot": slot, "zone": "north"}).json()
    # The session's live site is shared: other tests may have traded in this slot and zone too.
    assert message["trade_id"] in [t["trade_id"] for t in trades]
    assert live_site.get(f"/api/v1/market/orders/{sell_id}/").json()["status"] == "filled"
