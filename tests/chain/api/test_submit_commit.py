"""Signed transactions go in through the API, a block commits them, the API reports it."""

import pytest

from chain.models import Account, ChainHead
from tests.chain.api.conftest import address, signed

pytestmark = pytest.mark.django_db


def account(username: str) -> Account:
    return Account.objects.get(address=address(username))


def status_of(api, tx_hash: str) -> dict:
    response = api.get(f"/api/v1/transactions/{tx_hash}/")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_single_transfer_is_pending_then_committed(chain, api, submit, produce):
    sender, recipient = account("factory_rayong"), account("home_malee")
    wire = signed("factory_rayong", payload={"to": recipient.address, "amount": 2_500_000, "memo": "solar"})

    response = submit(wire)

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 1 and body["status"] == "pending"
    [tx_hash] = body["hashes"]
    pending = status_of(api, tx_hash)
    assert pending["status"] == "pending"
    assert pending["payload"] == wire["payload"] and pending["block"] is None

    block = produce()

    committed = status_of(api, tx_hash)
    assert committed["status"] == "committed"
    assert committed["block"] == {"height": block.height, "hash": block.hash}
    assert committed["position"] == 0
    assert committed["ok"] is True and committed["error"] is None
    assert account("factory_rayong").balance == sender.balance - 2_500_000
    assert account("home_malee").balance == recipient.balance + 2_500_000
    assert account("factory_rayong").nonce == sender.nonce + 1


def test_a_batch_from_two_senders_is_committed_in_order(chain, api, submit, produce):
    before = {u: account(u).balance for u in ("factory_rayong", "wind_korat", "hydro_nan")}
    batch = [
        signed("factory_rayong", nonce=0, payload={"to": address("hydro_nan"), "amount": 100}),
        signed("wind_korat", nonce=0, payload={"to": address("hydro_nan"), "amount": 20}),
        signed("factory_rayong", nonce=1, payload={"to": address("wind_korat"), "amount": 3}),
    ]

    response = submit(batch)

    assert response.status_code == 202, response.content
    hashes = response.json()["hashes"]
    assert len(hashes) == 3
    produce()
    statuses = [status_of(api, h) for h in hashes]
    assert [(s["status"], s["position"], s["ok"]) for s in statuses] == [
        ("committed", 0, True),
        ("committed", 1, True),
        ("committed", 2, True),
    ]
    assert account("factory_rayong").balance == before["factory_rayong"] - 103
    assert account("wind_korat").balance == before["wind_korat"] - 20 + 3
    assert account("hydro_nan").balance == before["hydro_nan"] + 120
    assert account("factory_rayong").nonce == 2


def test_a_committed_transaction_that_fails_reports_its_error(chain, api, submit, produce):
    """Admission cannot see that sending to oneself fails; the block's receipt says so."""
    me = address("factory_rayong")
    start = account("factory_rayong")
    [tx_hash] = submit(signed("factory_rayong", payload={"to": me, "amount": 5})).json()["hashes"]
    produce()

    committed = status_of(api, tx_hash)

    assert committed["status"] == "committed" and committed["ok"] is False
    assert committed["error"]["code"] == "self_transfer"
    assert account("factory_rayong").balance == start.balance


def test_the_account_shows_what_is_pending(chain, api, submit):
    start = account("factory_rayong")
    submit(signed("factory_rayong", nonce=0, payload={"to": address("home_malee"), "amount": 70}))

    data = api.get(f"/api/v1/accounts/{start.address}/").json()

    assert data["balance"] == start.balance
    assert data["pending_count"] == 1
    assert data["pending_token_debit"] == 70
    assert data["next_nonce"] == 1
    assert data["available_balance"] == start.balance - 70


def test_stake_bond_and_unbond_go_end_to_end(chain, api, submit, produce):
    """Bonded stake leaves the balance; unbonded stake comes back after unbonding_blocks."""
    head = ChainHead.objects.get()
    head.params = {**head.params, "unbonding_blocks": 2}
    head.save(update_fields=["params"])
    staker = "hydro_nan"
    start = account(staker)

    assert submit(signed(staker, nonce=0, kind="stake_bond", payload={"amount": 400})).status_code == 202
    produce()
    bonded = api.get(f"/api/v1/accounts/{start.address}/").json()
    assert (bonded["balance"], bonded["staked"]) == (start.balance - 400, start.staked + 400)

    assert submit(signed(staker, nonce=1, kind="stake_unbond", payload={"amount": 400})).status_code == 202
    unbond_block = produce()
    unbonding = api.get(f"/api/v1/accounts/{start.address}/").json()
    assert (unbonding["balance"], unbonding["staked"], unbonding["unbonding"]) == (
        start.balance - 400,
        start.staked,
        400,
    )
    assert unbonding["unbonding_release_height"] == unbond_block.height + 2

    # Another account's transfer makes the next block; the stake is still unbonding there.
    submit(signed("wind_korat", nonce=0, payload={"to": address("home_malee"), "amount": 1}))
    produce()
    submit(signed(staker, nonce=2, payload={"to": address("home_malee"), "amount": 1}))
    release_block = produce()
    assert release_block.height == unbond_block.height + 2

    released = api.get(f"/api/v1/accounts/{start.address}/").json()
    assert (released["balance"], released["staked"], released["unbonding"]) == (
        start.balance - 1,
        start.staked,
        0,
    )


def test_unbonded_stake_stays_locked_before_its_release_height(chain, api, submit, produce):
    head = ChainHead.objects.get()
    head.params = {**head.params, "unbonding_blocks": 5}
    head.save(update_fields=["params"])
    start = account("hydro_nan")
    submit(signed("hydro_nan", nonce=0, kind="stake_bond", payload={"amount": 400}))
    submit(signed("hydro_nan", nonce=1, kind="stake_unbond", payload={"amount": 400}))
    produce()
    submit(signed("hydro_nan", nonce=2, payload={"to": address("home_malee"), "amount": 1}))
    produce()

    data = api.get(f"/api/v1/accounts/{start.address}/").json()

    assert (data["balance"], data["unbonding"]) == (start.balance - 400 - 1, 400)


def test_stake_whose_unbonding_matured_can_be_spent_at_once(chain, api, submit, produce):
    """Admission counts matured unbonding as spendable, as the next block will."""
    head = ChainHead.objects.get()
    head.params = {**head.params, "unbonding_blocks": 1}
    head.save(update_fields=["params"])
    staker = Account.objects.get(address=address("solar_somchai"))
    everything = staker.balance
    assert (
        submit(signed("solar_somchai", kind="stake_bond", payload={"amount": everything})).status_code == 202
    )
    assert (
        submit(
            signed("solar_somchai", nonce=1, kind="stake_unbond", payload={"amount": everything})
        ).status_code
        == 202
    )
    produce()

    payload = {"to": address("home_malee"), "amount": everything}
    assert submit(signed("solar_somchai", nonce=2, payload=payload)).status_code == 202
    produce()

    spent = api.get(f"/api/v1/accounts/{staker.address}/").json()
    assert (spent["balance"], spent["staked"], spent["unbonding"]) == (0, 0, 0)
