"""An account's pending view: what its next transaction sees, committed state net of what waits."""

import pytest

from chain.models import Account, ChainHead
from chain.services.mempool import next_nonce, pending_views
from tests.chain.api.conftest import address
from tests.chain.consensus.test_proposals import admitted

pytestmark = pytest.mark.django_db


def view_of(username: str):
    next_height = ChainHead.objects.get().height + 1
    return pending_views([address(username)], next_height=next_height)[address(username)]


def test_waiting_transfers_take_their_nonces_and_units(chain, produce):
    committed = Account.objects.get(address=address("factory_rayong"))
    before = view_of("factory_rayong")
    assert (before.next_nonce, before.free_tokens, before.waiting) == (committed.nonce, committed.balance, 0)

    admitted("factory_rayong", nonce=0)
    admitted("factory_rayong", nonce=1)  # each moves 5 units (test_proposals.admitted)
    waiting = view_of("factory_rayong")
    assert (waiting.next_nonce, waiting.waiting) == (2, 2)
    assert waiting.free_tokens == committed.balance - 10
    assert next_nonce(address("factory_rayong")) == 2

    produce()
    after = view_of("factory_rayong")
    assert (after.next_nonce, after.waiting, after.free_tokens) == (2, 0, committed.balance - 10)


def test_an_account_not_on_chain_has_no_view_and_starts_at_nonce_zero(chain):
    stranger = "ab" * 32
    assert pending_views([stranger], next_height=1) == {}
    assert next_nonce(stranger) == 0
