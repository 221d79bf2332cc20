"""Fair use of intake: one account's share of the mempool, one IP's budget, forged batches refused cheaply."""

import random

import pytest
from django.conf import settings as site_settings
from nacl.signing import SigningKey

from chain.api import errors as api_errors
from chain.ledger import errors, tx
from chain.ledger.keys import address_of
from chain.services.admission import MAX_BATCH, SENDER_BUSY
from tests.chain.api.conftest import address, assert_refused, ledger_snapshot, signed

pytestmark = pytest.mark.django_db

SENDER = "factory_rayong"


@pytest.fixture
def verifies(monkeypatch):
    """Every ed25519 verification of a transaction's signature, counted (threads included)."""
    calls = []
    real_verify = tx.verify

    def counting_verify(*args):
        calls.append(1)  # list.append is atomic: the verifier threads count safely
        return real_verify(*args)

    monkeypatch.setattr(tx, "verify", counting_verify)
    return calls


def forged(username: str, *, nonce: int) -> dict:
    """A transfer from ``username`` at ``nonce`` whose signature is well-formed but false."""
    return {
        **signed(username, nonce=nonce, payload={"to": address("home_malee"), "amount": 1}),
        "signature": "00" * 64,
    }


def forged_transfers(username: str, count: int, *, first_nonce: int = 0) -> list[dict]:
    """``count`` transfers of one unit with forged signatures, without the cost of signing."""
    wire = forged(username, nonce=first_nonce)
    return [{**wire, "nonce": first_nonce + n} for n in range(count)]


def signed_transfers(username: str, count: int) -> list[dict]:
    """``count`` signed transfers of one unit from ``username``, from nonce 0."""
    return [
        signed(username, nonce=n, payload={"to": address("home_malee"), "amount": 1}) for n in range(count)
    ]


def test_it_refuses_a_sender_with_its_share_of_the_mempool_waiting(chain, submit, settings):
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 3
    assert submit([signed(SENDER, nonce=n) for n in range(3)]).status_code == 202
    before = ledger_snapshot()

    response = submit(signed(SENDER, nonce=3))

    error = assert_refused(response, SENDER_BUSY, before, http_status=429)
    assert response["Retry-After"] == "2"
    assert error["problems"][0]["index"] == 0
    assert "3 transactions waiting" in error["message"]


def test_it_refuses_a_batch_that_would_take_a_sender_past_its_share(chain, submit, settings):
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 3
    assert submit([signed(SENDER, nonce=n) for n in range(2)]).status_code == 202
    before = ledger_snapshot()

    error = assert_refused(
        submit([signed(SENDER, nonce=n) for n in (2, 3)]), SENDER_BUSY, before, http_status=429
    )

    assert [p["index"] for p in error["problems"]] == [1]


def test_a_busy_sender_keeps_nobody_else_out(chain, submit, settings):
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 2
    assert submit([signed(SENDER, nonce=n) for n in range(2)]).status_code == 202
    assert submit(signed(SENDER, nonce=2)).status_code == 429

    assert submit(signed("wind_korat", nonce=0)).status_code == 202


def test_a_busy_sender_is_admitted_again_once_a_block_takes_its_transactions(
    chain, submit, produce, settings
):
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 2
    assert submit([signed(SENDER, nonce=n) for n in range(2)]).status_code == 202
    assert submit(signed(SENDER, nonce=2)).status_code == 429

    produce()

    assert submit(signed(SENDER, nonce=2)).status_code == 202


def test_a_sender_share_is_refused_before_any_signature_is_verified(chain, submit, settings, verifies):
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 2
    assert submit([signed(SENDER, nonce=n) for n in range(2)]).status_code == 202
    verifies.clear()
    before = ledger_snapshot()

    assert_refused(submit(forged(SENDER, nonce=2)), SENDER_BUSY, before, http_status=429)

    assert verifies == []


def test_a_batch_of_forged_signatures_costs_a_few_verifies_not_one_each(chain, submit, settings, verifies):
    """5,000 forged transfers, each from a known sender at the right nonce: refused at the first."""
    from chain.services.admission import _VERIFIERS

    settings.GTX_MEMPOOL_MAX_PER_SENDER = MAX_BATCH
    before = ledger_snapshot()

    error = assert_refused(submit(forged_transfers(SENDER, MAX_BATCH)), errors.BAD_SIGNATURE, before)

    assert len(error["problems"]) == 1
    # Each verifier thread stops at its first forged signature and starts no chunk after one.
    assert 1 <= len(verifies) <= _VERIFIERS._max_workers


def test_a_forged_transaction_late_in_a_batch_is_found(chain, submit, settings, verifies):
    """The early stop loses nothing: one forgery among 300 signed transfers still refuses the batch."""
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 300
    batch = signed_transfers(SENDER, 300)
    batch[290] = forged(SENDER, nonce=290)
    before = ledger_snapshot()

    error = assert_refused(submit(batch), errors.BAD_SIGNATURE, before)

    assert [p["index"] for p in error["problems"]] == [290]


STRANGER = address_of(SigningKey(b"\x09" * 32))


@pytest.mark.parametrize(
    ("make_batch", "code"),
    [
        (lambda: forged_transfers(SENDER, 100, first_nonce=1), errors.NONCE_GAP),
        # Beyond the hold's reach: a nonce a little ahead would be held, after its signature check.
        (
            lambda: [
                *forged_transfers(SENDER, 99),
                forged(SENDER, nonce=99 + site_settings.GTX_HOLD_MAX_PER_SENDER + 1),
            ],
            errors.NONCE_GAP,
        ),
        (
            lambda: [*forged_transfers(SENDER, 99), {**forged(SENDER, nonce=0), "sender": STRANGER}],
            errors.UNKNOWN_SENDER,
        ),
    ],
    ids=["every_nonce_ahead", "last_nonce_skips", "last_sender_unknown"],
)
def test_sender_and_nonce_problems_are_found_before_any_signature(
    chain, submit, settings, verifies, make_batch, code
):
    settings.GTX_MEMPOOL_MAX_PER_SENDER = MAX_BATCH
    batch = make_batch()
    before = ledger_snapshot()

    assert_refused(submit(batch), code, before)

    assert verifies == []


def test_intake_counts_the_transactions_of_each_ip(chain, submit, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"tx_submit": "100/min", "tx_submit_items": "3/min"},
    }
    # Loopback addresses of this test alone: the counters live in the shared Redis.
    ip, other_ip = (f"127.{random.randrange(1, 255)}.{random.randrange(255)}.{n}" for n in (4, 5))
    assert submit([signed(SENDER, nonce=n) for n in range(2)], REMOTE_ADDR=ip).status_code == 202
    before = ledger_snapshot()

    throttled = submit([signed(SENDER, nonce=n) for n in (2, 3)], REMOTE_ADDR=ip)

    assert_refused(throttled, api_errors.RATE_LIMITED, before, http_status=429)
    assert int(throttled["Retry-After"]) > 0
    assert submit([signed(SENDER, nonce=n) for n in (2, 3)], REMOTE_ADDR=other_ip).status_code == 202


def test_the_last_tenth_of_the_mempool_is_kept_for_light_senders(chain, submit, settings, monkeypatch):
    """Accounts that each fill their share cannot take the room a household's one transaction needs."""
    from chain.services import admission

    monkeypatch.setattr(admission, "MEMPOOL_MAX", 200)  # its last 20 kept for light senders
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 100
    assert submit(signed_transfers(SENDER, 100)).status_code == 202
    assert submit(signed_transfers("wind_korat", 80)).status_code == 202
    before = ledger_snapshot()

    heavy = submit(signed("wind_korat", nonce=80))

    assert_refused(heavy, admission.MEMPOOL_FULL, before, http_status=503)
    assert heavy["Retry-After"] == "2"
    assert submit(signed("hydro_nan", nonce=0)).status_code == 202


def test_a_peers_gossip_may_hold_a_sender_to_twice_its_share(chain, settings):
    """The origin site held the sender to its share; this one may not have committed the last block yet."""
    from chain.services.admission import BatchRejected, transactions_submit

    settings.GTX_MEMPOOL_MAX_PER_SENDER = 2
    transactions_submit(signed_transfers(SENDER, 2), gossip=False)
    gossiped = [
        signed(SENDER, nonce=n, payload={"to": address("home_malee"), "amount": 1}) for n in (2, 3, 4)
    ]

    assert len(transactions_submit(gossiped[:2], gossip=False, skip_known=True)) == 2
    with pytest.raises(BatchRejected) as refused:
        transactions_submit(gossiped[2:], gossip=False, skip_known=True)
    assert refused.value.code == SENDER_BUSY


def test_a_batch_refused_for_room_is_refused_whole_as_a_retry_and_nothing_of_it_is_held(
    chain, submit, settings
):
    """Its first transaction found no room: the later ones of the same sender are refused alike,
    not held nor reported as nonce gaps that only the refusal made, so the client resends it."""
    from chain.models import HeldTx

    settings.GTX_MEMPOOL_MAX_PER_SENDER = 2
    assert submit([signed(SENDER, nonce=n) for n in range(2)]).status_code == 202
    before = ledger_snapshot()

    response = submit([signed(SENDER, nonce=n) for n in range(2, 6)])

    assert_refused(response, SENDER_BUSY, before, http_status=429)
    problems = response.json()["error"]["problems"]
    assert [p["index"] for p in problems] == [0, 1, 2, 3] and {p["code"] for p in problems} == {SENDER_BUSY}
    assert not HeldTx.objects.exists()
