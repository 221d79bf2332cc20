"""Who may use each endpoint: anonymous, a user, another user, the regulator, staff.

Chain data is public, so reads answer everyone alike; /me/ answers only a
logged-in user, with that user's own wallet. Intake takes signed transactions,
which carry their own authority: a session neither helps nor hinders.
"""

import pytest
from django.test import Client

from chain.api import errors as api_errors
from tests.chain.api.conftest import SUBMIT, address, signed
from tests.trading.harness import sell
from trading import selectors

pytestmark = pytest.mark.django_db

PERSONAS = {
    "anonymous": None,
    "user": "home_malee",
    "other_user": "solar_somchai",
    "regulator": "erc_auditor",
    "staff": "admin",
}


@pytest.fixture(params=list(PERSONAS))
def persona(request, users):
    client = Client(enforce_csrf_checks=True)
    username = PERSONAS[request.param]
    if username:
        client.force_login(users[username])
    return request.param, username, client


@pytest.fixture
def one_block(chain, submit, produce):
    """A block with a transfer and a resting sell order."""
    slot = selectors.slots_open(count=2)[1]
    transfer = signed("home_malee", payload={"to": address("solar_somchai"), "amount": 9})
    order = signed("wind_korat", kind="order_place", payload=sell(slot, source="wind"))
    tx_hash, order_id = submit([transfer, order]).json()["hashes"]
    block = produce()
    return block, tx_hash, order_id, slot


def public_paths(block, tx_hash, order_id, slot) -> list[str]:
    home_malee = address("home_malee")
    return [
        "/api/v1/market/",
        f"/api/v1/market/book/?slot={slot}&zone=bangkok",
        f"/api/v1/market/trades/?slot={slot}",
        f"/api/v1/market/orders/?account={address('wind_korat')}",
        f"/api/v1/market/orders/{order_id}/",
        f"/api/v1/market/prices/?slot={slot}",
        "/api/v1/status/",
        "/api/v1/validators/",
        "/api/v1/blocks/",
        f"/api/v1/blocks/{block.height}/",
        f"/api/v1/blocks/{block.height}/?include=transactions",
        f"/api/v1/blocks/by-hash/{block.hash}/",
        f"/api/v1/transactions/{tx_hash}/",
        f"/api/v1/accounts/{home_malee}/",
        f"/api/v1/accounts/{home_malee}/transactions/",
        "/api/v1/schema/",
        "/api/v1/docs/",
    ]


def test_reads_answer_everyone_the_same(one_block, persona):
    _, _, client = persona
    anonymous = Client()
    for path in public_paths(*one_block):
        response = client.get(path)
        assert response.status_code == 200, (path, response.content[:200])
        if path.startswith("/api/v1/schema/") or path.startswith("/api/v1/docs/"):
            continue
        assert response.json() == anonymous.get(path).json(), path


def test_me_shows_only_the_logged_in_users_own_wallet(chain, persona, users):
    name, username, client = persona
    response = client.get("/api/v1/me/")

    if name == "anonymous":
        assert response.status_code in (401, 403)
        assert response.json()["error"]["code"] == api_errors.NOT_AUTHENTICATED
    elif name == "staff":  # the demo admin has no wallet
        assert response.status_code == 404
        assert response.json()["error"]["code"] == api_errors.NO_WALLET
    else:
        assert response.status_code == 200, response.content
        data = response.json()
        wallet = users[username].wallet
        assert (data["username"], data["address"], data["role"]) == (username, wallet.address, wallet.role)
        assert data["account"]["address"] == wallet.address
        assert set(data) == {"username", "address", "role", "region", "account"}  # never a key


def test_me_refuses_writes(chain, persona):
    _, username, client = persona
    response = client.post("/api/v1/me/", data="{}", content_type="application/json")
    assert response.status_code in (401, 403, 405)
    assert response.json()["error"]["code"]


def test_intake_takes_a_signed_transaction_whoever_is_logged_in(chain, persona):
    """No CSRF token and no session needed: the signature is the authority."""
    import json

    _, _, client = persona
    wire = signed("wind_korat", payload={"to": address("home_malee"), "amount": 3})

    response = client.post(SUBMIT, data=json.dumps(wire), content_type="application/json")

    assert response.status_code == 202, response.content


def test_a_session_cannot_make_a_bad_signature_pass(chain, persona):
    import json

    _, _, client = persona
    wire = signed("wind_korat")
    wire["signature"] = signed("home_malee")["signature"]

    response = client.post(SUBMIT, data=json.dumps(wire), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_signature"
