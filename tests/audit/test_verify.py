"""Verify-the-chain names exactly the block that was tampered with in the database."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AccountSnapshot, ChainVerification, VerificationStatus
from audit.services import (
    ABANDONED,
    ABANDONED_AFTER,
    VERIFICATION_RUNNING,
    VerificationRunning,
    verification_run,
    verification_start,
)
from chain.models import Account, Block, ChainHead, ChainTx

pytestmark = pytest.mark.django_db


def run(users, replay=False) -> ChainVerification:
    verification = verification_start(user=users["erc_auditor"], replay=replay)
    finished = verification_run(verification_id=verification.pk)
    assert finished is not None
    return finished


def ledger_snapshot() -> tuple:
    return (
        list(Account.objects.order_by("address").values_list()),
        list(Block.objects.order_by("height").values_list()),
        list(ChainTx.objects.order_by("hash").values_list()),
        ChainHead.objects.values_list().get(),
    )


@pytest.mark.parametrize("replay", [False, True])
def test_an_untouched_chain_passes_and_nothing_on_the_ledger_changes(users, transfers, replay):
    before = ledger_snapshot()
    result = run(users, replay=replay)
    assert result.status == VerificationStatus.PASSED, result.problem
    assert (result.checked_height, result.target_height) == (3, 3)
    assert result.signatures_checked == 3 and result.precommits_checked == 3
    assert result.first_bad_height is None
    assert ledger_snapshot() == before


def test_replay_recomputes_balances_over_time(users, transfers):
    run(users, replay=True)
    malee = users["home_malee"].wallet.address
    balances = list(
        AccountSnapshot.objects.filter(address=malee).order_by("height").values_list("height", "balance")
    )
    assert [h for h, _ in balances] == [1, 2, 3]
    assert balances[0][1] - balances[1][1] == 2_000_000
    assert balances[-1][1] == Account.objects.get(address=malee).balance


def tamper_header(height):
    Block.objects.filter(height=height).update(timestamp_ms=Block.objects.get(height=height).timestamp_ms + 1)


def tamper_payload(height):
    tx = ChainTx.objects.get(block_id=height)
    tx.payload = {**tx.payload, "amount": tx.payload["amount"] * 100}
    tx.save(update_fields=["payload"])


def tamper_certificate(height):
    block = Block.objects.get(height=height)
    vote = block.commit_certificate[0]
    flipped = ("0" if vote["signature"][0] != "0" else "1") + vote["signature"][1:]
    block.commit_certificate = [{**vote, "signature": flipped}]
    block.save(update_fields=["commit_certificate"])


def tamper_signature(height):
    tx = ChainTx.objects.get(block_id=height)
    tx.signature = ("0" if tx.signature[0] != "0" else "1") + tx.signature[1:]
    tx.save(update_fields=["signature"])


def tamper_result_root(height):
    Block.objects.filter(height=height).update(result_state_root="0" * 64)


@pytest.mark.parametrize(
    ("tamper", "height", "says", "replay"),
    [
        (tamper_header, 2, "re-hashes to", False),
        (tamper_payload, 2, "fields hash to", False),
        (tamper_certificate, 3, "precommit 0", False),
        (tamper_signature, 1, "signature does not verify", False),
        (tamper_result_root, 2, "replayed state root after the block", True),
    ],
)
def test_a_tampered_block_is_named_as_the_first_bad_block(users, transfers, tamper, height, says, replay):
    tamper(height)
    result = run(users, replay=replay)
    assert result.status == VerificationStatus.FAILED
    assert result.first_bad_height == height
    assert result.problem.startswith(f"Block {height}: ")
    assert says in result.problem
    assert result.checked_height == height - 1


def test_a_deleted_block_is_named(users, transfers):
    ChainTx.objects.filter(block_id=2).delete()
    Block.objects.filter(height=2).delete()
    result = run(users)
    assert (result.status, result.first_bad_height) == (VerificationStatus.FAILED, 2)
    assert "missing" in result.problem


def test_a_second_start_while_one_waits_is_refused(users, transfers):
    verification_start(user=users["erc_auditor"], replay=False)
    with pytest.raises(VerificationRunning, match=VERIFICATION_RUNNING):
        verification_start(user=users["admin"], replay=False)
    assert ChainVerification.objects.count() == 1


def test_a_run_is_claimed_once(users, transfers):
    verification = verification_start(user=users["erc_auditor"], replay=False)
    assert verification_run(verification_id=verification.pk) is not None
    assert verification_run(verification_id=verification.pk) is None


def test_a_market_chain_replays_from_genesis(users, make_trade, transfers):
    make_trade("solar_somchai", "home_malee", kwh=2)
    make_trade("hydro_nan", "factory_rayong", kwh=1, zone="east", source="hydro")
    result = run(users, replay=True)
    assert result.status == VerificationStatus.PASSED, result.problem
    assert result.checked_height == Block.objects.count()


def test_a_run_abandoned_by_its_worker_does_not_block_the_next(users, transfers):
    stuck = verification_start(user=users["erc_auditor"], replay=False)
    ChainVerification.objects.filter(pk=stuck.pk).update(
        status=VerificationStatus.RUNNING, progress_at=timezone.now() - ABANDONED_AFTER - timedelta(seconds=1)
    )
    fresh = verification_start(user=users["erc_auditor"], replay=False)
    stuck.refresh_from_db()
    assert (stuck.status, stuck.problem) == (VerificationStatus.ERROR, ABANDONED)
    assert verification_run(verification_id=fresh.pk).status == VerificationStatus.PASSED


def test_a_certificate_signed_by_a_validator_without_voting_power_fails_the_replay(users, transfers):
    from chain.ledger.block import sign_precommit
    from chain.ledger.genesis import demo_key

    block = Block.objects.get(height=2)
    header = block.header(ChainHead.objects.get().chain_id)
    # MEA is a genesis validator but not active in the tests' chain: a genuine signature, no power.
    block.commit_certificate = [sign_precommit(demo_key("MEA"), header)]
    block.save(update_fields=["commit_certificate"])
    assert run(users, replay=False).status == VerificationStatus.PASSED  # every signature holds
    result = run(users, replay=True)
    assert (result.status, result.first_bad_height) == (VerificationStatus.FAILED, 2)
    assert "more than 2/3 must sign" in result.problem and "no authority signed" in result.problem
