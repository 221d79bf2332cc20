"""Block assembly is fair between senders: admitted through the real admission, taken by the real producer."""

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.models import ChainHead, ChainTx
from chain.services.admission import MAX_BATCH, transactions_submit

pytestmark = pytest.mark.django_db

FLOODER, OTHER = "factory_rayong", "home_malee"
BLOCK_TXS = 200


@pytest.fixture
def small_blocks(chain, settings):
    """Blocks of BLOCK_TXS transactions, and room for a flood of thousands from one account."""
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 10 * MAX_BATCH
    settings.GTX_INTAKE_MIN_WAITING = 10 * MAX_BATCH  # the room while no rate is measured
    head = ChainHead.objects.get()
    head.params = {**head.params, "max_block_txs": BLOCK_TXS}
    head.save(update_fields=["params"])
    return head


def transfers(username: str, count: int, *, first_nonce: int = 0) -> list:
    key, to = demo_key(username), address_of(demo_key("wind_korat"))
    chain_id = ChainHead.objects.get().chain_id
    return [
        sign_transaction(key, chain_id=chain_id, nonce=n, kind="transfer", payload={"to": to, "amount": 1})
        for n in range(first_nonce, first_nonce + count)
    ]


def admit(txs: list) -> list:
    for start in range(0, len(txs), MAX_BATCH):
        transactions_submit([tx.to_wire() for tx in txs[start : start + MAX_BATCH]], gossip=False)
    return txs


def block_senders(block) -> list[tuple[str, int]]:
    return list(ChainTx.objects.filter(block=block).order_by("position").values_list("sender", "nonce"))


def test_a_flooding_sender_cannot_keep_another_senders_transaction_out_of_the_next_block(
    small_blocks, produce
):
    admit(transfers(FLOODER, 3000))  # fifteen blocks' worth, admitted first
    [late] = admit(transfers(OTHER, 1))

    block = produce()

    included = block_senders(block)
    assert (address_of(demo_key(OTHER)), 0) in included
    assert late.hash in set(ChainTx.objects.filter(block=block).values_list("hash", flat=True))
    assert len(included) == BLOCK_TXS


def test_two_busy_senders_share_each_block_in_turns_keeping_their_nonce_order(small_blocks, produce):
    admit(transfers(FLOODER, 1000))
    admit(transfers(OTHER, 300))
    flooder, other = address_of(demo_key(FLOODER)), address_of(demo_key(OTHER))

    first, second = produce(), produce()

    for block, first_nonce in ((first, 0), (second, BLOCK_TXS // 2)):
        included = block_senders(block)
        for sender in (flooder, other):
            nonces = [nonce for s, nonce in included if s == sender]
            assert nonces == list(range(first_nonce, first_nonce + BLOCK_TXS // 2))


def test_a_sender_that_arrives_later_joins_the_current_round(small_blocks, produce):
    """After a block took the flood's first turns, a newcomer is served before the flood's later ones."""
    admit(transfers(FLOODER, 1000))
    produce()  # takes the flood's turns 1..200
    [late] = admit(transfers(OTHER, 1))

    included = block_senders(produce())

    assert included.index((late.sender, 0)) == 1  # after the flood's turn 201, before its 202
