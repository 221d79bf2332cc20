"""Issue 14, findings 1 and 7: what the core accepts, the database stores exactly.

A transfer to ``<address>\\n`` was admitted, and the block writer's varchar(64)
cast cut it to ``<address>``: the upsert overwrote that account's row (its
balance, stake, escrow and nonce), or failed on every attempt after the sites
had decided the block. Text holding U+0000 or a lone surrogate was admitted and
failed the insert with a 500.
"""

import pytest

from chain.ledger import errors
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import Transaction, sign_transaction
from chain.ledger.wire import MALFORMED_JSON
from chain.models import Account, ChainHead, Validator
from chain.services.admission import BatchRejected, transactions_submit
from tests.chain.api.conftest import address, assert_refused, ledger_snapshot, signed

pytestmark = pytest.mark.django_db

SENDER = "factory_rayong"
VICTIM = "wind_korat"


def account_row(addr: str) -> dict:
    return Account.objects.filter(address=addr).values().get()


def transfer_to(to: str, **payload) -> dict:
    return signed(SENDER, payload={"to": to, "amount": 1, **payload})


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\t"])
def test_it_refuses_a_transfer_to_an_address_with_trailing_whitespace(chain, submit, produce, suffix):
    victim = address(VICTIM)
    victim_before = account_row(victim)
    before = ledger_snapshot()

    assert_refused(submit(transfer_to(victim + suffix)), errors.BAD_ADDRESS, before)
    produce()

    assert account_row(victim) == victim_before


def test_it_refuses_a_transfer_to_the_senders_own_address_with_a_newline_and_keeps_making_blocks(
    chain, submit, produce
):
    before = ledger_snapshot()
    assert_refused(submit(transfer_to(address(SENDER) + "\n")), errors.BAD_ADDRESS, before)

    assert submit(transfer_to(address(VICTIM))).status_code == 202
    block = produce()

    assert block is not None and block.tx_count == 1
    assert ChainHead.objects.get().height == 1


def test_it_refuses_a_transfer_aimed_at_a_validators_key(chain, submit, produce):
    validator_key = address_of(demo_key("EGAT"))
    stake_before = account_row(validator_key)
    validator_before = Validator.objects.filter(public_key=validator_key).values().get()
    before = ledger_snapshot()

    assert_refused(submit(transfer_to(validator_key + "\n")), errors.BAD_ADDRESS, before)
    produce()

    assert account_row(validator_key)["staked"] == stake_before["staked"] > 0
    assert Validator.objects.filter(public_key=validator_key).values().get() == validator_before


def test_it_refuses_an_address_in_upper_case(chain, submit):
    before = ledger_snapshot()
    assert_refused(submit(transfer_to(address(VICTIM).upper())), errors.BAD_ADDRESS, before)


@pytest.mark.parametrize("text", ["nul \x00 inside", "lone \ud800 surrogate", "low \udfff"])
def test_it_refuses_a_signed_memo_postgresql_cannot_store(chain, submit, text):
    """Refused by the strict JSON decoder, before the core sees it (the core's own check is below)."""
    before = ledger_snapshot()
    assert_refused(submit(transfer_to(address(VICTIM), memo=text)), MALFORMED_JSON, before)


def test_it_refuses_a_memo_holding_a_line_break_or_a_bidi_override(chain, submit):
    before = ledger_snapshot()
    assert_refused(submit(transfer_to(address(VICTIM), memo="a\nb")), errors.BAD_FIELD, before)
    assert_refused(submit(transfer_to(address(VICTIM), memo="paid \u202e0001")), errors.BAD_FIELD, before)


@pytest.mark.parametrize("title", ["vote \x00 now", "vote \udc80 now"])
def test_it_refuses_a_governance_title_postgresql_cannot_store(chain, submit, title):
    before = ledger_snapshot()
    wire = signed("EGAT", kind="governance_propose", payload={"title": title, "action": "text"})
    assert_refused(submit(wire), MALFORMED_JSON, before)


@pytest.mark.parametrize(
    "payload",
    [
        {"to": "TO", "amount": 1, "memo": "\x00"},
        {"to": "TO", "amount": 1, "memo": "\ud83d"},  # half of 😀
    ],
)
def test_admission_refuses_unstorable_text_in_a_transaction_built_in_python(chain, payload):
    """No JSON decoder in the way: the core's own checks refuse it, before anything is stored."""
    payload = {**payload, "to": address(VICTIM)}
    tx = sign_transaction(
        demo_key(SENDER), chain_id=ChainHead.objects.get().chain_id, nonce=0, kind="transfer", payload=payload
    )
    assert isinstance(tx, Transaction)
    before = ledger_snapshot()
    with pytest.raises(BatchRejected) as info:
        transactions_submit([tx.to_wire()], gossip=False)
    assert info.value.code == errors.BAD_FIELD
    with pytest.raises(BatchRejected):
        transactions_submit([tx], gossip=False)  # as gossip hands it over, parsed
    assert ledger_snapshot() == before


def test_it_refuses_evidence_whose_messages_name_a_list_for_a_sender_and_keeps_making_blocks(
    chain, submit, produce
):
    """Found with the adversarial suite: such evidence passed its check, and its prefetch of
    the sender (an unhashable list) crashed block production for everyone."""
    message = {"type": "prevote", "height": 1, "round": 0, "sender": ["x"], "block_hash": "aa" * 32}
    payload = {"first": message, "second": {**message, "block_hash": "bb" * 32}}
    before = ledger_snapshot()

    assert_refused(
        submit(signed(SENDER, kind="evidence_double_sign", payload=payload)), errors.BAD_FIELD, before
    )

    assert submit(transfer_to(address(VICTIM))).status_code == 202
    assert produce().tx_count == 1


@pytest.mark.parametrize(
    "who, kind, payload",
    [
        (
            "wind_korat",
            "order_place",
            {
                "side": "sell",
                "energy_wh": 1000,
                "price_per_kwh": 3_000_000,
                "zone": ["bangkok"],
                "delivery_slot": 900_000,
                "source": "wind",
            },
        ),
        (
            "EGAT",
            "governance_propose",
            {"title": "t", "action": "param_change", "param": ["quorum_ppm"], "value": 5},
        ),
        (
            "EGAT",
            "governance_propose",
            {"title": "t", "action": "wheeling_fee", "from": ["x"], "to": "bangkok", "value": 5},
        ),
    ],
)
def test_it_refuses_a_list_where_a_name_goes_with_a_4xx_not_a_500(chain, submit, who, kind, payload):
    """Found with the adversarial suite: a list is unhashable, and the lookup raised TypeError."""
    before = ledger_snapshot()
    response = submit(signed(who, kind=kind, payload=payload))
    assert response.status_code == 400, response.content
    assert ledger_snapshot() == before
