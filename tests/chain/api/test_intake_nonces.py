"""A site's next nonce counts only transactions that exist; a nonce ahead is held for its
predecessor; a 202 ends committed or dropped with its reason, never a silent 404."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from chain.ledger import errors
from chain.ledger.tx import parse_transaction
from chain.models import Account, ChainHead, DroppedTx, HeldTx, MempoolTx
from chain.selectors import transaction_find
from chain.services import admission
from chain.services.admission import intake_upkeep, transactions_submit
from chain.services.blocks.build import block_build
from chain.services.blocks.write import block_write
from chain.services.mempool import dropped_receipts_prune, next_nonce
from tests.chain.api.conftest import address, ledger_snapshot, signed

pytestmark = pytest.mark.django_db

SENDER = "factory_rayong"
STATUS = "/api/v1/transactions/{}/"


def transfer(nonce: int, amount: int = 5) -> dict:
    return signed(SENDER, nonce=nonce, payload={"to": address("hydro_nan"), "amount": amount})


def hash_of(wire: dict) -> str:
    return parse_transaction(wire).hash


def waiting_nonces() -> list[int]:
    return list(
        MempoolTx.objects.filter(sender=address(SENDER)).order_by("nonce").values_list("nonce", flat=True)
    )


def more_than_the_balance() -> int:
    return Account.objects.get(address=address(SENDER)).balance + 1


def committed_nonce() -> int:
    return Account.objects.get(address=address(SENDER)).nonce


def test_gossip_written_after_its_block_commits_is_no_phantom_nonce(chain, produce, monkeypatch):
    """Gossip checks a transaction; meanwhile a block with it (from the proposal) commits; then gossip
    inserts it. Before the fix the site counted it twice and answered "expected nonce n+1"."""
    wire = transfer(0)
    verify = admission._first_bad_signature
    meanwhile = []

    def block_commits_while_gossip_verifies(txs):
        bad = verify(txs)
        if not meanwhile:
            meanwhile.append(True)
            transactions_submit([wire], gossip=False)  # the copy the proposal carried
            produce()
        return bad

    monkeypatch.setattr(admission, "_first_bad_signature", block_commits_while_gossip_verifies)
    transactions_submit([wire], gossip=False, skip_known=True)
    monkeypatch.undo()

    assert committed_nonce() == 1
    assert next_nonce(address(SENDER)) == 1
    transactions_submit([transfer(1)], gossip=False)  # the sender's real next nonce is admitted
    produce()
    assert committed_nonce() == 2
    assert waiting_nonces() == []  # the late copy left with the next block...
    assert transaction_find(tx_hash=hash_of(wire))[0] == "committed"
    assert not DroppedTx.objects.exists()  # ...without a receipt: it was committed, not lost


def test_a_waiting_twin_of_a_committed_nonce_is_reported_dropped(chain, node_key, api):
    """This site admitted Y (nonce 0); the block decided elsewhere holds X (nonce 0)."""
    committed, twin = transfer(0, amount=5), transfer(0, amount=7)
    transactions_submit([committed], gossip=False)
    head = ChainHead.objects.get()
    built = block_build(node_key, head, 0, empty_ok=False)
    MempoolTx.objects.filter(hash=hash_of(committed)).delete()  # it reached this site in the proposal only
    transactions_submit([twin], gossip=False)

    with transaction.atomic():
        block_write(ChainHead.objects.select_for_update().get(), built, [])

    assert waiting_nonces() == []
    answer = api.get(STATUS.format(hash_of(twin))).json()
    assert answer["status"] == "dropped"
    assert answer["error"]["code"] == errors.NONCE_REPLAYED
    assert f"Block {built.header.height}" in answer["error"]["message"]


def test_a_nonce_ahead_is_held_then_admitted_when_its_predecessor_arrives(
    chain, produce, submit, api, django_capture_on_commit_callbacks
):
    mempool_before = ledger_snapshot()["mempool"]
    ahead = transfer(1, amount=more_than_the_balance())  # held: funds are checked on release

    response = submit([ahead])

    assert response.status_code == 202, response.content
    assert response.json() == {
        "accepted": 1,
        "hashes": [hash_of(ahead)],
        "status": "held",
        "held": [hash_of(ahead)],
    }
    assert api.get(STATUS.format(hash_of(ahead))).json()["status"] == "held"
    assert next_nonce(address(SENDER)) == 0  # a held one counts toward no next nonce
    assert ledger_snapshot()["mempool"] == mempool_before

    successor = transfer(1)
    assert submit([successor]).status_code == 400  # the same nonce is held: not twice
    HeldTx.objects.all().delete()
    assert submit([successor]).json()["status"] == "held"
    with django_capture_on_commit_callbacks(execute=True):
        predecessor = submit([transfer(0)])
    assert predecessor.json()["status"] == "pending"
    assert waiting_nonces() == [0, 1]
    assert not HeldTx.objects.exists()
    produce()
    assert committed_nonce() == 2
    assert api.get(STATUS.format(hash_of(successor))).json()["status"] == "committed"


def test_a_released_one_the_sender_cannot_pay_is_dropped_with_its_reason(
    chain, submit, api, django_capture_on_commit_callbacks
):
    unpayable = transfer(1, amount=more_than_the_balance())
    assert submit([unpayable]).json()["status"] == "held"
    with django_capture_on_commit_callbacks(execute=True):
        submit([transfer(0)])

    answer = api.get(STATUS.format(hash_of(unpayable))).json()
    assert answer["status"] == "dropped"
    assert answer["error"]["code"] == errors.INSUFFICIENT_FUNDS
    assert waiting_nonces() == [0]


def test_one_held_past_its_window_is_dropped_for_a_nonce_gap(chain, submit, api):
    ahead = transfer(2)
    assert submit([ahead]).json()["status"] == "held"
    intake_upkeep()
    assert api.get(STATUS.format(hash_of(ahead))).json()["status"] == "held"  # still within the window

    HeldTx.objects.update(received_at=timezone.now() - timedelta(seconds=60))
    intake_upkeep()

    answer = api.get(STATUS.format(hash_of(ahead))).json()
    assert answer["status"] == "dropped"
    assert answer["error"] == {"code": errors.NONCE_GAP, "message": answer["error"]["message"]}
    assert "nonce 0" in answer["error"]["message"]
    assert not HeldTx.objects.exists()


def test_the_tick_releases_one_whose_predecessor_came_in_a_block(chain, produce, submit):
    held = transfer(1)
    assert submit([held]).json()["status"] == "held"
    transactions_submit([transfer(0)], gossip=False)  # no commit hook runs in this test transaction
    produce()
    assert committed_nonce() == 1

    intake_upkeep()

    assert waiting_nonces() == [1]
    assert not HeldTx.objects.exists()


def test_the_hold_is_bounded_per_sender_and_in_nonces_ahead(chain, submit, settings):
    settings.GTX_HOLD_MAX_PER_SENDER = 2
    too_far = submit([transfer(3)])
    assert too_far.status_code == 400
    assert too_far.json()["error"]["code"] == errors.NONCE_GAP

    assert submit([transfer(1), transfer(2)]).json()["held"] == [hash_of(transfer(1)), hash_of(transfer(2))]
    third = submit([transfer(2, amount=6)])
    assert third.status_code == 400
    assert third.json()["error"]["code"] == errors.NONCE_GAP
    assert HeldTx.objects.count() == 2


def test_the_hold_is_bounded_in_all(chain, submit, settings):
    settings.GTX_HOLD_MAX = 1
    assert submit([transfer(1)]).json()["status"] == "held"
    other = submit([signed("hydro_nan", nonce=1)])
    assert other.status_code == 400
    assert other.json()["error"]["code"] == errors.NONCE_GAP


def test_a_forged_transaction_is_never_held(chain, submit):
    forged = {**transfer(1), "signature": transfer(2)["signature"]}
    response = submit([forged])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == errors.BAD_SIGNATURE
    assert not HeldTx.objects.exists()


def test_the_wallets_and_meters_path_still_refuses_a_gap(chain):
    with pytest.raises(admission.BatchRejected) as refused:
        transactions_submit([transfer(1)], gossip=False)
    assert refused.value.code == errors.NONCE_GAP
    assert not HeldTx.objects.exists()


def test_receipts_are_kept_for_the_documented_days(chain, settings):
    settings.GTX_DROPPED_RECEIPT_DAYS = 7
    for tx_hash, age_days in (("aa" * 32, 8), ("bb" * 32, 6)):
        receipt = DroppedTx.objects.create(
            hash=tx_hash,
            sender=address(SENDER),
            nonce=0,
            kind="transfer",
            error_code="nonce_gap",
            error_message="x",
        )
        DroppedTx.objects.filter(hash=receipt.hash).update(
            dropped_at=timezone.now() - timedelta(days=age_days)
        )

    assert dropped_receipts_prune() == 1
    assert list(DroppedTx.objects.values_list("hash", flat=True)) == ["bb" * 32]


def test_a_held_twin_of_a_committed_nonce_is_reported_dropped(chain, produce, submit, api):
    twin = transfer(1, amount=7)
    assert submit([twin]).json()["status"] == "held"
    transactions_submit([transfer(0), transfer(1)], gossip=False)  # no commit hook releases the twin here
    produce()

    assert not HeldTx.objects.exists()
    answer = api.get(STATUS.format(hash_of(twin))).json()
    assert (answer["status"], answer["error"]["code"]) == ("dropped", errors.NONCE_REPLAYED)
