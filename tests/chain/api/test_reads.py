"""Transaction status, blocks and accounts as the API shows them."""

import pytest

from chain.api import errors as api_errors
from chain.ledger import errors
from chain.models import Account, DroppedTx
from tests.chain.api.conftest import address, signed

pytestmark = pytest.mark.django_db


def error_code(response, http_status: int) -> str:
    assert response.status_code == http_status, response.content
    return response.json()["error"]["code"]


@pytest.fixture
def three_blocks(chain, submit, produce):
    """Blocks 1..3: block 2 holds two transfers, the others one."""
    blocks = []
    for nonces in ([0], [1, 2], [3]):
        batch = [
            signed("factory_rayong", nonce=n, payload={"to": address("home_malee"), "amount": 10 + n})
            for n in nonces
        ]
        assert submit(batch).status_code == 202
        blocks.append(produce())
    return blocks


def test_unknown_transaction_is_not_found(chain, api):
    assert error_code(api.get(f"/api/v1/transactions/{'ab' * 32}/"), 404) == api_errors.NOT_FOUND


@pytest.mark.parametrize("bad", ["xyz", "AB" * 32, "ab" * 31])
def test_malformed_transaction_hash_is_a_bad_request(chain, api, bad):
    assert error_code(api.get(f"/api/v1/transactions/{bad}/"), 400) == api_errors.BAD_HASH


def test_a_dropped_transaction_says_why(chain, api):
    DroppedTx.objects.create(
        hash="cd" * 32,
        sender=address("wind_korat"),
        nonce=4,
        kind="transfer",
        error_code=errors.NONCE_REPLAYED,
        error_message="Stale nonce.",
    )

    data = api.get(f"/api/v1/transactions/{'cd' * 32}/").json()

    assert data["status"] == "dropped"
    assert data["error"] == {"code": errors.NONCE_REPLAYED, "message": "Stale nonce."}
    assert data["block"] is None


def test_blocks_are_listed_newest_first(three_blocks, api):
    data = api.get("/api/v1/blocks/").json()

    assert [b["height"] for b in data["results"]] == [3, 2, 1]
    assert data["results"][1]["tx_count"] == 2
    assert data["results"][0]["hash"] == three_blocks[2].hash


def test_blocks_are_paginated(three_blocks, api):
    first = api.get("/api/v1/blocks/?limit=2").json()
    assert [b["height"] for b in first["results"]] == [3, 2]

    second = api.get(first["next"]).json()

    assert [b["height"] for b in second["results"]] == [1]
    assert second["next"] is None


def test_a_block_by_height_has_its_header_certificate_and_hashes(three_blocks, api):
    block = three_blocks[1]

    data = api.get("/api/v1/blocks/2/").json()

    assert data["hash"] == block.hash
    assert data["previous_hash"] == three_blocks[0].hash
    assert data["merkle_root"] == block.merkle_root
    assert data["state_root"] == block.state_root
    assert data["proposer"] == block.proposer
    assert data["commit_certificate"] == block.commit_certificate
    assert len(data["commit_certificate"]) == 1
    assert data["tx_hashes"] == list(block.transactions.order_by("position").values_list("hash", flat=True))
    assert "transactions" not in data


def test_a_block_can_include_its_transactions(three_blocks, api):
    data = api.get("/api/v1/blocks/2/?include=transactions").json()

    assert [t["position"] for t in data["transactions"]] == [0, 1]
    assert [t["nonce"] for t in data["transactions"]] == [1, 2]
    assert data["transactions"][0]["payload"]["amount"] == 11
    assert [t["hash"] for t in data["transactions"]] == data["tx_hashes"]


def test_a_block_by_hash_is_the_same_block(three_blocks, api):
    by_hash = api.get(f"/api/v1/blocks/by-hash/{three_blocks[2].hash}/").json()

    assert by_hash == api.get("/api/v1/blocks/3/").json()


def test_unknown_include_is_a_bad_request(three_blocks, api):
    assert error_code(api.get("/api/v1/blocks/1/?include=everything"), 400) == api_errors.BAD_QUERY


def test_missing_blocks_are_not_found(three_blocks, api):
    assert error_code(api.get("/api/v1/blocks/4/"), 404) == api_errors.NOT_FOUND
    assert error_code(api.get(f"/api/v1/blocks/by-hash/{'0' * 64}/"), 404) == api_errors.NOT_FOUND
    assert error_code(api.get("/api/v1/blocks/by-hash/nothex/"), 400) == api_errors.BAD_HASH


def test_an_account_shows_balances_nonce_stake_and_escrow(chain, api):
    row = Account.objects.get(address=address("wind_korat"))

    data = api.get(f"/api/v1/accounts/{row.address}/").json()

    for field in ("balance", "staked", "unbonding", "escrow_tokens", "energy_wh", "escrow_wh", "nonce"):
        assert data[field] == getattr(row, field)
    assert data["balance"] == 10_000 * 1_000_000
    assert data["energy_wh"] == 20_000 * 1000


def test_an_unknown_account_is_not_found(chain, api):
    assert error_code(api.get(f"/api/v1/accounts/{'e' * 64}/"), 404) == api_errors.NOT_FOUND


@pytest.mark.parametrize("bad", ["nope", address("wind_korat").upper(), address("wind_korat") + "0"])
def test_a_malformed_address_is_a_bad_request(chain, api, bad):
    assert error_code(api.get(f"/api/v1/accounts/{bad}/"), 400) == errors.BAD_ADDRESS
    assert error_code(api.get(f"/api/v1/accounts/{bad}/transactions/"), 400) == errors.BAD_ADDRESS


def test_account_history_lists_both_sides_newest_first(three_blocks, api):
    sent = api.get(f"/api/v1/accounts/{address('factory_rayong')}/transactions/").json()
    received = api.get(f"/api/v1/accounts/{address('home_malee')}/transactions/").json()
    bystander = api.get(f"/api/v1/accounts/{address('hydro_nan')}/transactions/").json()

    assert [(t["block_height"], t["nonce"]) for t in sent["results"]] == [(3, 3), (2, 2), (2, 1), (1, 0)]
    assert [t["hash"] for t in received["results"]] == [t["hash"] for t in sent["results"]]
    assert bystander["results"] == []


def test_the_node_status_counts_the_mempool(chain, api, submit):
    submit(signed("factory_rayong"))

    data = api.get("/api/v1/status/").json()

    assert data["chain_id"] == chain.chain_id
    assert data["height"] == 0
    assert data["mempool_size"] == 1
