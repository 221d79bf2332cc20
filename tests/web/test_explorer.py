import secrets

import pytest
from django.test import Client

from chain.ledger.tx import parse_transaction
from chain.models import Block, DroppedTx, MempoolTx
from chain.services.admission import transactions_submit
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from tests.chain.api.conftest import signed

pytestmark = pytest.mark.django_db


def test_block_page_shows_header_transactions_and_a_valid_certificate(client, committed_transfer):
    block = Block.objects.get(height=1)
    body = client.get("/explorer/block/1/").content.decode()
    for value in (
        block.hash,
        block.previous_hash,
        block.merkle_root,
        block.state_root,
        block.validators_hash,
    ):
        assert value in body
    assert "EGAT" in body
    assert "✓ valid" in body
    assert committed_transfer.hash[:12] in body
    assert "1.50" in body


def test_a_forged_precommit_shows_invalid(client, committed_transfer):
    block = Block.objects.get(height=1)
    vote = block.commit_certificate[0]
    block.commit_certificate = [{**vote, "signature": "00" * 64}]
    block.save(update_fields=["commit_certificate"])
    body = client.get("/explorer/block/1/").content.decode()
    assert "✗ invalid" in body and "✓ valid" not in body


def test_transaction_page_decodes_a_committed_transfer(client, committed_transfer, users):
    body = client.get(f"/explorer/tx/{committed_transfer.hash}/").content.decode()
    assert "Committed" in body
    assert "1.50</strong> GTX" in body
    assert "1500000 units" in body
    assert "tea money" in body
    assert committed_transfer.signature in body
    assert users["solar_somchai"].wallet.address in body


def test_transaction_page_says_pending(client, users):
    tx = transaction_sign_submit(
        key=wallet_key_open(users["home_malee"].wallet), kind="stake_bond", payload={"amount": 5}
    )
    assert "Pending" in client.get(f"/explorer/tx/{tx.hash}/").content.decode()


def test_transaction_page_says_held(client, chain):
    ahead = signed("home_malee", nonce=2)
    assert transactions_submit([ahead], gossip=False, hold_gaps=True).held
    body = client.get(f"/explorer/tx/{parse_transaction(ahead).hash}/").content.decode()
    assert "Held" in body and "waits a few seconds for its predecessor" in body


def test_transaction_page_says_failed_with_reason(client, users, produce):
    wallet = users["home_malee"].wallet
    transaction_sign_submit(key=wallet_key_open(wallet), kind="stake_bond", payload={"amount": 1_000_000})
    produce()
    tx = transaction_sign_submit(
        key=wallet_key_open(wallet), kind="stake_unbond", payload={"amount": 2_000_000}
    )
    produce()
    body = client.get(f"/explorer/tx/{tx.hash}/").content.decode()
    assert "Failed" in body and "insufficient_stake" in body


def test_transaction_page_says_dropped(client, chain):
    DroppedTx.objects.create(
        hash="ef" * 32,
        sender="ab" * 32,
        nonce=3,
        kind="transfer",
        error_code="nonce_gap",
        error_message="Expected nonce 1, got 3.",
    )
    body = client.get(f"/explorer/tx/{'ef' * 32}/").content.decode()
    assert "Dropped" in body and "Expected nonce 1, got 3." in body


@pytest.mark.parametrize(
    "path",
    [
        "/explorer/tx/" + "12" * 32 + "/",
        "/explorer/account/nonsense/",
        "/explorer/account/" + "12" * 32 + "/",
        "/explorer/block/99/",
        "/explorer/search/?q=hello",
    ],
)
def test_unknown_things_are_404_pages(client, chain, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"Nothing found" in response.content


def test_account_page_shows_balances_and_history(client, committed_transfer, users):
    address = users["solar_somchai"].wallet.address
    body = client.get(f"/explorer/account/{address}/").content.decode()
    assert "2,001.50" in body  # 2000 + 1.5 tokens
    assert "500.000" in body  # kWh
    assert "Received" in body and "+1.50" in body


def test_account_page_parts_refresh_on_every_block(client, committed_transfer, users):
    address = users["solar_somchai"].wallet.address
    page = client.get(f"/explorer/account/{address}/").content.decode()
    assert f'hx-get="/explorer/account/{address}/?part=balances" hx-trigger="chain-block from:body"' in page
    part = client.get(f"/explorer/account/{address}/?part=balances").content.decode()
    assert "2,001.50" in part and "<html" not in part


def test_a_signed_up_user_without_chain_account_has_an_account_page(chain):
    # An address of its own: sign-ups are limited per address, counted in Redis across runs.
    client = Client(REMOTE_ADDR=f"10.99.{secrets.randbelow(256)}.{secrets.randbelow(256)}")
    client.post(
        "/accounts/signup/",
        {
            "username": "fresh",
            "password1": "a-long-pass-9",
            "password2": "a-long-pass-9",
            "role": "consumer",
            "region": "south",
        },
    )
    address = client.get("/wallet/").context["wallet"].address
    assert client.get(f"/explorer/account/{address}/").status_code == 200


def test_search_goes_to_what_it_finds(client, committed_transfer, users):
    block = Block.objects.get(height=1)
    address = users["home_malee"].wallet.address
    assert client.get("/explorer/search/?q=1")["Location"] == "/explorer/block/1/"
    assert client.get("/explorer/search/?q=%231")["Location"] == "/explorer/block/1/"
    assert client.get(f"/explorer/search/?q={block.hash.upper()}")["Location"] == "/explorer/block/1/"
    assert (
        client.get(f"/explorer/search/?q={committed_transfer.hash}")["Location"]
        == f"/explorer/tx/{committed_transfer.hash}/"
    )
    assert client.get(f"/explorer/search/?q=+{address}+")["Location"] == f"/explorer/account/{address}/"


def test_latest_blocks_are_listed_newest_first_and_paged(client, users, produce):
    wallet = users["factory_rayong"].wallet
    for _ in range(3):
        transaction_sign_submit(key=wallet_key_open(wallet), kind="stake_bond", payload={"amount": 1})
        produce()
    body = client.get("/explorer/").content.decode()
    assert body.index("#3") < body.index("#2") < body.index("#1")
    assert "data-live-blocks" in body
    older = client.get("/explorer/?before=3").content.decode()
    assert "#3</a>" not in older and "#2</a>" in older and "data-live-blocks" not in older
    assert MempoolTx.objects.count() == 0
