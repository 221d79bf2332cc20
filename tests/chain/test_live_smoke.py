import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction

pytestmark = pytest.mark.live


def test_a_signed_transfer_is_committed_by_the_running_site(live_site, genesis):
    sender = demo_key("factory_rayong")
    to = next(a["address"] for a in genesis.accounts if a["username"] == "home_malee")
    # The site is shared by the session's live tests: take the account's next nonce, not 0.
    nonce = live_site.get(f"/api/v1/accounts/{address_of(sender)}/").json()["nonce"]
    tx = sign_transaction(
        sender, chain_id=genesis.chain_id, nonce=nonce, kind="transfer", payload={"to": to, "amount": 7}
    )
    response = live_site.post("/api/v1/transactions/", json=tx.to_wire())
    assert response.status_code == 202, response.text
    status = live_site.wait_for(lambda: live_site.get("/api/v1/status/").json()["height"] >= 1)
    assert status
