"""A held transaction survives a failure while it is released: it stays held, or gets a receipt.

The fault run lost nine acknowledged transactions at a site killed a few seconds after
a partition healed: the hold's release took them out in one committed statement and
admitted them in the next, and the process died in between (docs/FAULTS.md).
"""

import pytest

from chain.ledger.tx import parse_transaction
from chain.models import DroppedTx, HeldTx, MempoolTx
from chain.services import admission
from chain.services.admission import held_release, transactions_submit
from tests.chain.api.conftest import address, signed

pytestmark = pytest.mark.django_db(transaction=True)  # held_release's transaction is the outermost one


class Crash(Exception):
    """Stands for the process dying: a kill, a lost connection."""


def held_successor(monkeypatch) -> str:
    """malee's nonce 1 held, then its predecessor admitted without releasing it; its hash."""
    ahead = signed("home_malee", nonce=1)
    assert transactions_submit([ahead], gossip=False, hold_gaps=True).held
    with monkeypatch.context() as patch:
        patch.setattr(admission, "held_senders", lambda senders=None: [])
        transactions_submit([signed("home_malee", nonce=0)], gossip=False)
    return parse_transaction(ahead).hash


def test_a_crash_while_releasing_leaves_the_transaction_held(chain, monkeypatch):
    tx_hash = held_successor(monkeypatch)

    def crash(*args, **kwargs):
        raise Crash

    monkeypatch.setattr(admission, "transactions_submit", crash)
    with pytest.raises(Crash):
        held_release([address("home_malee")])
    assert HeldTx.objects.filter(hash=tx_hash).exists()

    monkeypatch.undo()
    assert held_release([address("home_malee")]) == 1
    assert MempoolTx.objects.filter(hash=tx_hash).exists()
    assert not HeldTx.objects.filter(hash=tx_hash).exists()


def test_one_that_cannot_be_held_again_gets_a_receipt(chain, monkeypatch):
    """Refused for want of room and its nonce held by another copy meanwhile: dropped, with a reason."""
    tx_hash = held_successor(monkeypatch)

    def busy(txs, **kwargs):
        raise admission.BatchRejected([{"index": 0, "code": admission.SENDER_BUSY, "message": "busy"}])

    monkeypatch.setattr(admission, "transactions_submit", busy)
    monkeypatch.setattr(admission, "held_insert", lambda txs: set())
    assert held_release([address("home_malee")]) == 0
    receipt = DroppedTx.objects.get(hash=tx_hash)
    assert receipt.error_code == "duplicate" and "nonce 1 is held" in receipt.error_message
