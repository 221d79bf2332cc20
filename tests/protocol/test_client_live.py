"""gtxclient against a real site over HTTP: submit, follow to final, refusals, holds that end dropped."""

import runpy

import pytest

import gtxclient
from localnet import BASE_DIR

pytestmark = pytest.mark.live

SENDER = gtxclient.Key.demo("hydro_nan")
RECIPIENT = gtxclient.Key.demo("home_malee").address


def transfers(site: gtxclient.Site, first_nonce: int, count: int, amount: int = 3):
    chain_id = site.status()["chain_id"]
    return [
        gtxclient.sign_transaction(
            SENDER,
            chain_id=chain_id,
            nonce=first_nonce + i,
            kind="transfer",
            payload={"to": RECIPIENT, "amount": amount},
        )
        for i in range(count)
    ]


def test_a_batch_submitted_with_the_client_is_final_and_the_balance_says_so(live_site):
    with gtxclient.Network([live_site.url]) as network:
        site = network.sites[0]
        before = site.account(SENDER.address)
        batch = transfers(site, site.next_nonce(SENDER.address), 3)

        accepted = site.submit(batch)
        final = network.follow(batch[-1].hash, timeout=30)

        assert accepted.hashes == [tx.hash for tx in batch] and accepted.held == []
        assert final.ok and final.error is None and final.block_height >= 1
        assert site.block(final.block_height)["hash"] == final.block_hash
        assert all(network.follow(tx.hash).ok for tx in batch)
        assert site.account(SENDER.address)["balance"] == before["balance"] - 3 * 3
        with pytest.raises(gtxclient.Refused) as refused:
            site.submit(batch[0])  # already in a block
        assert (refused.value.status, refused.value.code) == (400, "duplicate")
        assert refused.value.problems[0]["index"] == 0 and not refused.value.retry_later


def test_a_nonce_whose_predecessor_never_comes_is_held_then_dropped(live_site):
    with gtxclient.Network([live_site.url]) as network:
        site = network.sites[0]
        (ahead,) = transfers(site, site.next_nonce(SENDER.address) + 1, 1)

        accepted = site.submit(ahead)
        assert accepted.held == [ahead.hash]
        assert site.transaction(ahead.hash)["status"] == "held"
        with pytest.raises(gtxclient.Dropped) as dropped:
            network.follow(ahead.hash, timeout=40)

        assert dropped.value.code == "nonce_gap"
        receipt = site.transaction(ahead.hash)
        assert receipt["status"] == "dropped" and receipt["payload"] is None


def test_no_answer_is_unanswered_not_refused():
    site = gtxclient.Site("http://127.0.0.1:9", timeout=2)

    with pytest.raises(gtxclient.Unanswered):
        site.status()
    assert gtxclient.Network([site.url]).statuses("ab" * 32) == {site.url: None}


def test_the_documented_example_runs(live_site):
    """docs/CLIENT.md's example, against one site: the transfer is final and paid."""
    example = runpy.run_path(str(BASE_DIR / "docs" / "client_example.py"))

    result = example["send_and_follow"]([live_site.url], sender="factory_rayong")

    assert result["ok"] is True
    assert result["balance_after"] == result["balance_before"] - 2_500_000
