"""transaction_sign_submit: one lock per signer, consecutive nonces, one Refused."""

import threading

import pytest
from django.db import connection, transaction

from chain.ledger import errors
from chain.ledger.errors import Refused
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.models import Account, MempoolTx
from chain.services.mempool import next_nonce
from chain.services.signing import SIGNER_LOCK_SPACE, signer_lock_id, transaction_sign_submit

pytestmark = pytest.mark.django_db(transaction=True)  # each thread has its own connection

#: Long enough for a submit that is not blocked to finish on a busy machine.
SETTLE_SECONDS = 30


def transfer_in_thread(username: str, results: dict) -> threading.Thread:
    """Start a thread that signs a 1-unit transfer as ``username`` on its own connection."""

    def run():
        try:
            tx = transaction_sign_submit(
                key=demo_key(username),
                kind="transfer",
                payload={"to": address_of(demo_key("solar_somchai")), "amount": 1},
            )
            results.setdefault(username, []).append(tx)
        except Exception as exc:  # the test asserts on whatever happened
            results.setdefault("errors", []).append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_concurrent_submits_of_one_signer_take_consecutive_nonces(chain):
    malee = address_of(demo_key("home_malee"))
    first_nonce = next_nonce(malee)
    results: dict = {}
    with transaction.atomic():
        # Hold Malee's signer lock, as a first submit of hers would, while two more start.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SIGNER_LOCK_SPACE, signer_lock_id(malee)])
        malee_tabs = [transfer_in_thread("home_malee", results) for _ in range(2)]
        other_signer = transfer_in_thread("factory_rayong", results)
        other_signer.join(SETTLE_SECONDS)

        assert not other_signer.is_alive()  # another signer does not wait for Malee's lock
        assert all(tab.is_alive() for tab in malee_tabs)  # both of Malee's wait for it
        assert not MempoolTx.objects.filter(sender=malee).exists()
    for tab in malee_tabs:
        tab.join(SETTLE_SECONDS)

    assert results.get("errors") is None
    assert sorted(tx.nonce for tx in results["home_malee"]) == [first_nonce, first_nonce + 1]
    waiting = MempoolTx.objects.filter(sender=malee).order_by("nonce").values_list("hash", flat=True)
    assert set(waiting) == {tx.hash for tx in results["home_malee"]}
    assert len(results["factory_rayong"]) == 1


def test_an_admission_refusal_is_one_refused_with_the_callers_field(chain):
    balance = Account.objects.get(address=address_of(demo_key("home_malee"))).balance
    with pytest.raises(Refused) as refused:
        transaction_sign_submit(
            key=demo_key("home_malee"),
            kind="transfer",
            payload={"to": address_of(demo_key("solar_somchai")), "amount": balance + 1},
            fields={errors.INSUFFICIENT_FUNDS: "amount"},
        )

    assert (refused.value.code, refused.value.field) == (errors.INSUFFICIENT_FUNDS, "amount")
    assert refused.value.message.startswith("Needs ")  # the problem's words, no batch index
    assert not MempoolTx.objects.exists()


def test_a_malformed_payload_is_refused_before_signing(chain):
    with pytest.raises(Refused) as refused:
        transaction_sign_submit(key=demo_key("home_malee"), kind="transfer", payload={"amount": 1})

    assert (refused.value.code, refused.value.field) == (errors.BAD_FIELD, None)
    assert refused.value.message == "Missing payload field(s): to."
    assert not MempoolTx.objects.exists()
