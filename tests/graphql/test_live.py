"""GraphQL on a running site (daphne, Celery making blocks): a subscription over a real
WebSocket gets the block a signed transfer made, and /graphql/ over HTTP reads it back."""

import json

import pytest
from websockets.sync.client import connect

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction

pytestmark = pytest.mark.live


def transfer_committed(live_site, genesis, sender, to: str):
    """A signed transfer, POSTed and waited for: the transaction and its block (height, hash)."""
    nonce = live_site.get(f"/api/v1/accounts/{address_of(sender)}/").json()["next_nonce"]
    tx = sign_transaction(
        sender, chain_id=genesis.chain_id, nonce=nonce, kind="transfer", payload={"to": to, "amount": 5}
    )
    response = live_site.post("/api/v1/transactions/", json=tx.to_wire())
    assert response.status_code == 202, response.text
    status = live_site.wait_for(
        lambda: (s := live_site.get(f"/api/v1/transactions/{tx.hash}/").json())["status"] == "committed" and s
    )
    return tx, status["block"]


def block_at(stream, height: int) -> dict | None:
    """The block at ``height`` as the subscription sends it; None if it was missed."""
    while True:
        try:
            message = json.loads(stream.recv(timeout=5))
        except TimeoutError:
            return None
        assert message["type"] == "next", message
        block = message["payload"]["data"]["blocks"]
        if int(block["height"]) >= height:
            return block if int(block["height"]) == height else None


def test_a_subscriber_gets_the_block_its_transfer_made(live_site, genesis):
    sender = demo_key("factory_rayong")
    to = next(a["address"] for a in genesis.accounts if a["username"] == "home_malee")
    with connect(
        f"{live_site.ws_url}/graphql/",
        subprotocols=["graphql-transport-ws"],
        additional_headers={"Origin": live_site.url},
        open_timeout=10,
    ) as stream:
        stream.send(json.dumps({"type": "connection_init"}))
        assert json.loads(stream.recv(timeout=10))["type"] == "connection_ack"
        subscription = {"query": "subscription { blocks { height hash txCount } }"}
        stream.send(json.dumps({"id": "blocks", "type": "subscribe", "payload": subscription}))

        # The subscription joins the block broadcast just after the subscribe message: a block
        # committed before then is not sent, so a missed first transfer is followed by another.
        for _attempt in range(3):
            tx, included = transfer_committed(live_site, genesis, sender, to)
            block = block_at(stream, included["height"])
            if block is not None:
                break
        else:
            raise AssertionError("no block reached the subscription")

    assert block["height"] == str(included["height"]) and block["hash"] == included["hash"]
    read = live_site.post(
        "/graphql/",
        json={
            "query": "query($h: BigInt!) { block(height: $h) { hash txHashes } }",
            "variables": {"h": block["height"]},
        },
    ).json()
    assert read["data"]["block"]["hash"] == block["hash"]
    assert tx.hash in read["data"]["block"]["txHashes"]
