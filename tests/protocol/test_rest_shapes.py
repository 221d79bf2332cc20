"""docs/API.md's response shapes are what the ledger reads answer, key for key.

A transfer is signed with gtxclient (as an outside program would), submitted,
committed in a block, and every documented answer is fetched; each JSON example
of "Response shapes of the ledger reads" must have exactly the keys of the live
answer, at every level.
"""

import json
import re

import pytest
from django.test import Client

import gtxclient
from localnet import BASE_DIR
from trading.selectors import slots_open

API_DOC = (BASE_DIR / "docs" / "API.md").read_text()
SUBMIT = "/api/v1/transactions/"


def documented_shapes() -> list[dict]:
    start = API_DOC.index("## Response shapes of the ledger reads")
    text = API_DOC[start : API_DOC.index("\n## ", start + 1)]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def keys(value):
    """The value's structure: dicts' keys at every level, a list by its first item."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return None


def post(api: Client, txs) -> dict:
    return api.post(SUBMIT, data=json.dumps([tx.wire() for tx in txs]), content_type="application/json")


@pytest.fixture
def answers(chain, produce):
    api = Client()
    key = gtxclient.Key.demo("home_malee")
    to = gtxclient.Key.demo("solar_somchai").address

    def transfer(nonce: int, amount: int = 1_000_000):
        return gtxclient.sign_transaction(
            key, chain_id=chain.chain_id, nonce=nonce, kind="transfer", payload={"to": to, "amount": amount}
        )

    first = transfer(0)
    accepted = post(api, [first])
    refused = post(api, [transfer(1), transfer(0, amount=7)])  # the second replays nonce 0
    produce()
    get = {
        name: api.get(path).json()
        for name, path in {
            "status_of_tx": f"/api/v1/transactions/{first.hash}/",
            "account": f"/api/v1/accounts/{key.address}/",
            "history": f"/api/v1/accounts/{key.address}/transactions/",
            "blocks": "/api/v1/blocks/",
            "block": "/api/v1/blocks/1/?include=transactions",
            "status": "/api/v1/status/",
            "validators": "/api/v1/validators/",
        }.items()
    }
    assert accepted.status_code == 202 and refused.status_code == 400
    return {"accepted": accepted.json(), "refused": refused.json(), **get}


def test_the_document_shows_each_answer_with_its_keys(answers):
    accepted, refused, status_of_tx, account, page, block, status, validators, _order = documented_shapes()

    assert keys(accepted) == keys(answers["accepted"])
    assert keys(refused) == keys(answers["refused"])
    assert refused["error"]["code"] == answers["refused"]["error"]["code"] == "nonce_replayed"
    assert keys(status_of_tx) == keys(answers["status_of_tx"])
    assert status_of_tx["status"] == answers["status_of_tx"]["status"] == "committed"
    assert keys(account) == keys(answers["account"])
    assert keys(page) == keys(answers["history"])
    assert keys(block) == keys(answers["block"])
    listed = {k: v for k, v in keys(block).items() if k not in ("tx_hashes", "transactions")}
    assert keys(answers["blocks"]) == {"next": None, "previous": None, "results": [listed]}
    assert keys(status) == keys(answers["status"])
    assert keys(validators) == keys(answers["validators"])
    assert {v["name"] for v in answers["validators"]} >= {"EGAT", "MEA", "PEA"}


def test_the_documented_account_arithmetic_holds(answers):
    account = answers["account"]

    assert account["next_nonce"] == account["nonce"] + account["pending_count"]
    assert account["available_balance"] == account["balance"] - account["pending_token_debit"]


def test_a_blocks_state_root_is_the_one_before_it(answers, chain):
    """API.md: `state_root` is the root before the block (the header's), `result_state_root` after."""
    assert answers["block"]["state_root"] == chain.state_root
    assert answers["block"]["result_state_root"] == answers["status"]["state_root"]


def test_the_documented_order_is_a_live_private_deal_key_for_key(chain, produce):
    """An order placed by an outside program with a counterparty reads back with every documented key."""
    api = Client()
    key = gtxclient.Key.demo("solar_somchai")
    payload = {
        "side": "sell",
        "energy_wh": 10_000,
        "price_per_kwh": 3_500_000,
        "zone": "bangkok",
        "delivery_slot": slots_open(count=2)[1],
        "source": "solar",
        "counterparty": gtxclient.Key.demo("home_malee").address,
    }
    tx = gtxclient.sign_transaction(
        key, chain_id=chain.chain_id, nonce=0, kind="order_place", payload=payload
    )
    assert post(api, [tx]).status_code == 202
    produce()
    order = api.get(f"/api/v1/market/orders/{tx.hash}/").json()
    assert keys(documented_shapes()[-1]) == keys(order)
    assert (order["counterparty"], order["status"]) == (payload["counterparty"], "open")
