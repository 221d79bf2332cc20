"""POST /api/v1/transactions/ refuses bad transactions with a reason and changes nothing."""

import json

import pytest
from nacl.signing import SigningKey

from chain.api import errors as api_errors
from chain.ledger import errors
from chain.ledger.encoding import MAX_SAFE_INTEGER
from chain.ledger.tx import sign_transaction
from chain.models import Account
from chain.units import tokens_text
from tests.chain.api.conftest import address, assert_refused, ledger_snapshot, signed

pytestmark = pytest.mark.django_db

SENDER = "factory_rayong"


def balance(username: str) -> int:
    return Account.objects.get(address=address(username)).balance


def with_payload(**changes) -> dict:
    """A transfer whose payload was altered after signing (amount checks come before the signature)."""
    wire = signed(SENDER)
    wire["payload"] = {**wire["payload"], **changes}
    return wire


def test_it_rejects_a_bad_signature(chain, submit):
    before = ledger_snapshot()
    wire = signed(SENDER)
    wire["signature"] = ("0" if wire["signature"][0] != "0" else "1") + wire["signature"][1:]
    assert_refused(submit(wire), errors.BAD_SIGNATURE, before)


def test_it_rejects_a_signature_by_another_key(chain, submit):
    before = ledger_snapshot()
    wire = signed(SENDER)
    wire["signature"] = signed("home_malee")["signature"]
    assert_refused(submit(wire), errors.BAD_SIGNATURE, before)


def test_it_rejects_a_tampered_amount(chain, submit):
    before = ledger_snapshot()
    assert_refused(submit(with_payload(amount=999)), errors.BAD_SIGNATURE, before)


def test_it_rejects_a_wrong_chain_id(chain, submit):
    before = ledger_snapshot()
    error = assert_refused(submit(signed(SENDER, chain_id="gridtokenx-other-1")), errors.WRONG_CHAIN, before)
    assert chain.chain_id in error["message"]


def test_it_rejects_a_replayed_nonce(chain, submit, produce):
    assert submit(signed(SENDER, nonce=0)).status_code == 202
    produce()
    before = ledger_snapshot()
    replay = signed(SENDER, nonce=0, payload={"to": address("hydro_nan"), "amount": 5})
    error = assert_refused(submit(replay), errors.NONCE_REPLAYED, before)
    assert "Expected nonce 1, got 0" in error["message"]
    assert error["problems"][0]["expected_nonce"] == 1


def test_it_rejects_a_nonce_beyond_the_holds_reach(chain, submit, settings):
    """A nonce a little ahead is held (tests/chain/api/test_intake_nonces.py); further is refused."""
    settings.GTX_HOLD_MAX_PER_SENDER = 4
    before = ledger_snapshot()
    error = assert_refused(submit(signed(SENDER, nonce=5)), errors.NONCE_GAP, before)
    assert error["problems"] == [
        {"index": 0, "code": errors.NONCE_GAP, "message": "Expected nonce 0, got 5.", "expected_nonce": 0}
    ]


def test_it_rejects_an_overspend(chain, submit):
    before = ledger_snapshot()
    too_much = balance(SENDER) + 1
    wire = signed(SENDER, payload={"to": address("home_malee"), "amount": too_much})
    assert_refused(submit(wire), errors.INSUFFICIENT_FUNDS, before)


def test_it_counts_pending_debits_against_the_balance(chain, submit):
    """Each transfer alone fits the balance; together they do not."""
    most = balance(SENDER) * 3 // 5
    first = signed(SENDER, nonce=0, payload={"to": address("home_malee"), "amount": most})
    assert submit(first).status_code == 202
    before = ledger_snapshot()
    second = signed(SENDER, nonce=1, payload={"to": address("hydro_nan"), "amount": most})
    error = assert_refused(submit(second), errors.INSUFFICIENT_FUNDS, before)
    assert f"only {tokens_text(balance(SENDER) - most)} are free" in error["message"]


def test_it_rejects_a_stake_bond_beyond_the_balance(chain, submit):
    before = ledger_snapshot()
    wire = signed(SENDER, kind="stake_bond", payload={"amount": balance(SENDER) + 1})
    assert_refused(submit(wire), errors.INSUFFICIENT_FUNDS, before)


@pytest.mark.parametrize(
    "amount",
    [0, -5, MAX_SAFE_INTEGER + 1, 2**64, 1.5, 10.0, "10", True, None, [10], {"units": 10}],
    ids=[
        "zero",
        "negative",
        "2^53",
        "2^64",
        "float",
        "float-whole",
        "string",
        "bool",
        "null",
        "list",
        "object",
    ],
)
def test_it_rejects_amounts_that_are_not_positive_safe_integers(chain, submit, amount):
    before = ledger_snapshot()
    assert_refused(submit(with_payload(amount=amount)), errors.BAD_AMOUNT, before)


def test_it_rejects_an_unknown_kind(chain, submit):
    before = ledger_snapshot()
    error = assert_refused(submit(signed(SENDER, kind="mint")), errors.UNKNOWN_KIND, before)
    assert "transfer" in error["message"]  # says which kinds exist


@pytest.mark.parametrize("field", ["chain_id", "sender", "nonce", "kind", "payload", "signature"])
def test_it_rejects_a_missing_field(chain, submit, field):
    before = ledger_snapshot()
    wire = signed(SENDER)
    del wire[field]
    error = assert_refused(submit(wire), errors.MALFORMED, before)
    assert field in error["message"]


def test_it_rejects_an_extra_field(chain, submit):
    before = ledger_snapshot()
    wire = {**signed(SENDER), "fee": 1}
    error = assert_refused(submit(wire), errors.MALFORMED, before)
    assert "fee" in error["message"]


def test_it_rejects_a_missing_payload_field(chain, submit):
    before = ledger_snapshot()
    wire = signed(SENDER, payload={"amount": 5})
    assert_refused(submit(wire), errors.BAD_FIELD, before)


def test_it_rejects_an_extra_payload_field(chain, submit):
    before = ledger_snapshot()
    wire = signed(SENDER, payload={"to": address("home_malee"), "amount": 5, "fee": 1})
    assert_refused(submit(wire), errors.BAD_FIELD, before)


@pytest.mark.parametrize("body", [b"{not json", b'{"chain_id": ', b"\xc3\x28", b"   "])
def test_it_rejects_malformed_json(chain, submit, body):
    before = ledger_snapshot()
    assert_refused(submit(body), api_errors.MALFORMED_JSON, before)


@pytest.mark.parametrize("body", [[], {}, "a transaction", 42, None, [[]]])
def test_it_rejects_json_that_is_not_transactions(chain, submit, body):
    before = ledger_snapshot()
    assert_refused(submit(json.dumps(body)), errors.MALFORMED, before)


def test_it_refuses_a_body_over_the_size_limit(chain, submit, settings):
    """The body would be valid JSON (padding is whitespace): only its size is refused."""
    before = ledger_snapshot()
    body = json.dumps(signed(SENDER)) + " " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    error = assert_refused(submit(body), api_errors.TOO_LARGE, before, http_status=413)
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in error["message"]


def test_it_rejects_an_unknown_sender(chain, submit):
    before = ledger_snapshot()
    stranger = SigningKey(b"\x07" * 32)
    wire = sign_transaction(
        stranger,
        chain_id=chain.chain_id,
        nonce=0,
        kind="transfer",
        payload={"to": address("home_malee"), "amount": 1},
    ).to_wire()
    assert_refused(submit(wire), errors.UNKNOWN_SENDER, before)


@pytest.mark.parametrize("sender", ["abc", "A" * 64, "g" * 64, 12, None])
def test_it_rejects_a_malformed_sender(chain, submit, sender):
    before = ledger_snapshot()
    wire = {**signed(SENDER), "sender": sender}
    assert_refused(submit(wire), errors.BAD_ADDRESS, before)


@pytest.mark.parametrize("to", ["", "xyz", address("home_malee").upper(), address("home_malee")[:-1], 7])
def test_it_rejects_a_malformed_recipient(chain, submit, to):
    before = ledger_snapshot()
    wire = signed(SENDER, payload={"to": to, "amount": 5})
    assert_refused(submit(wire), errors.BAD_ADDRESS, before)


def test_it_refuses_a_whole_batch_when_item_3_of_5_has_a_bad_signature(chain, submit):
    before = ledger_snapshot()
    batch = [signed(SENDER, nonce=n) for n in range(5)]
    batch[3]["signature"] = signed("home_malee")["signature"]
    error = assert_refused(submit(batch), errors.BAD_SIGNATURE, before)
    assert [p["index"] for p in error["problems"]] == [3]
    assert error["message"].startswith("Transaction 3: ")


def test_it_refuses_a_whole_batch_when_item_3_of_5_overspends(chain, submit):
    before = ledger_snapshot()
    amounts = [1, 1, 1, balance(SENDER), 1]
    batch = [
        signed(SENDER, nonce=n, payload={"to": address("home_malee"), "amount": a})
        for n, a in enumerate(amounts)
    ]
    error = assert_refused(submit(batch), errors.INSUFFICIENT_FUNDS, before)
    assert error["problems"][0]["index"] == 3


def test_it_names_every_bad_item_of_a_batch(chain, submit):
    before = ledger_snapshot()
    batch = [signed(SENDER, nonce=n) for n in range(5)]
    batch[1]["kind"] = "mint"
    batch[3]["payload"]["amount"] = 0
    error = assert_refused(submit(batch), errors.UNKNOWN_KIND, before)
    assert [(p["index"], p["code"]) for p in error["problems"]] == [
        (1, errors.UNKNOWN_KIND),
        (3, errors.BAD_AMOUNT),
    ]


def test_it_rejects_a_duplicate_submission(chain, submit):
    wire = signed(SENDER)
    assert submit(wire).status_code == 202
    before = ledger_snapshot()
    assert_refused(submit(wire), errors.DUPLICATE, before)


def test_it_rejects_a_duplicate_inside_one_batch(chain, submit):
    before = ledger_snapshot()
    wire = signed(SENDER)
    error = assert_refused(submit([wire, wire]), errors.DUPLICATE, before)
    assert [p["index"] for p in error["problems"]] == [1]


def test_it_rejects_a_duplicate_of_a_committed_transaction(chain, submit, produce):
    wire = signed(SENDER)
    assert submit(wire).status_code == 202
    produce()
    before = ledger_snapshot()
    assert_refused(submit(wire), errors.DUPLICATE, before)


def test_it_rejects_a_batch_over_the_batch_limit(chain, submit):
    from chain.services.admission import MAX_BATCH

    before = ledger_snapshot()
    wire = signed(SENDER)
    error = assert_refused(submit([wire] * (MAX_BATCH + 1)), errors.MALFORMED, before)
    assert str(MAX_BATCH) in error["message"]


def test_it_refuses_work_when_the_mempool_is_full(chain, submit, monkeypatch):
    from chain.services import admission

    assert submit(signed(SENDER)).status_code == 202
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 1)
    before = ledger_snapshot()
    response = submit(signed(SENDER, nonce=1))
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json()["error"]["code"] == admission.MEMPOOL_FULL
    assert ledger_snapshot() == before


def test_under_load_intake_holds_what_the_site_measured_it_finalizes(
    chain, submit, produce, monkeypatch, settings
):
    """Once blocks have measured a finalize rate, a client's batch is refused when the mempool
    would hold more than that rate times the latency target; before, nothing is measured."""
    from chain import clock
    from chain.services import admission

    settings.GTX_INTAKE_TARGET_MS, settings.GTX_INTAKE_MIN_WAITING = 1_000, 3
    now = [clock.now_ms()]
    monkeypatch.setattr(clock, "now_ms", lambda: now[0])
    nonce = iter(range(100))
    for _ in range(2):  # two blocks of 8 transfers, one second apart: 8 tx/s finalized
        # The first batch exceeds the floor of 3: with nothing measured yet, it is admitted.
        assert submit([signed(SENDER, nonce=next(nonce)) for _ in range(8)]).status_code == 202
        produce()
        now[0] += 1_000
    assert submit(signed(SENDER, nonce=16)).status_code == 202
    before = ledger_snapshot()
    response = submit([signed(SENDER, nonce=n) for n in range(17, 25)])  # 1 + 8 > 8 tx/s x 1 s
    assert response.status_code == 503
    assert response.json()["error"]["code"] == admission.MEMPOOL_FULL
    assert ledger_snapshot() == before
    assert submit([signed(SENDER, nonce=n) for n in range(17, 24)]).status_code == 202
    settings.GTX_INTAKE_TARGET_MS = 2_000  # twice the latency allowed: twice the room
    assert submit([signed(SENDER, nonce=n) for n in range(24, 32)]).status_code == 202
    assert submit(signed(SENDER, nonce=32)).status_code == 503


def test_with_no_rate_measured_intake_holds_the_floor(chain, submit, produce, monkeypatch, settings):
    """A new or quiet chain has no two recent blocks to measure: a burst then fills the mempool
    to GTX_INTAKE_MIN_WAITING, not to GTX_MEMPOOL_MAX (blocks of seconds each, before)."""
    from chain import clock
    from chain.services import admission

    settings.GTX_INTAKE_MIN_WAITING = 3
    now = [clock.now_ms()]
    monkeypatch.setattr(clock, "now_ms", lambda: now[0])
    assert submit(signed(SENDER, nonce=0)).status_code == 202
    produce()
    now[0] += admission.RATE_WINDOW_MS + 1  # the next block is alone in its window
    assert submit(signed(SENDER, nonce=1)).status_code == 202
    produce()
    assert submit([signed(SENDER, nonce=n) for n in range(2, 4)]).status_code == 202
    before = ledger_snapshot()
    response = submit([signed(SENDER, nonce=n) for n in range(4, 6)])  # 2 + 2 > 3
    assert response.status_code == 503
    assert response.json()["error"]["code"] == admission.MEMPOOL_FULL
    assert ledger_snapshot() == before
    assert submit(signed(SENDER, nonce=4)).status_code == 202  # 2 + 1 fits


def test_an_empty_mempool_takes_a_batch_larger_than_the_measured_room(
    chain, submit, produce, monkeypatch, settings
):
    """A client whose batches are larger than a quiet site's room is not refused for ever."""
    from chain import clock

    settings.GTX_INTAKE_TARGET_MS, settings.GTX_INTAKE_MIN_WAITING = 1_000, 3
    now = [clock.now_ms()]
    monkeypatch.setattr(clock, "now_ms", lambda: now[0])
    for first in (0, 2):  # two blocks of 2 transfers a second apart: a room of 2
        assert submit([signed(SENDER, nonce=first + n) for n in range(2)]).status_code == 202
        produce()
        now[0] += 1_000
    # More than LIGHT_SENDER_MAX of one sender: the reserve of a full mempool does not apply.
    assert submit([signed(SENDER, nonce=n) for n in range(4, 24)]).status_code == 202
    assert submit(signed(SENDER, nonce=24)).status_code == 503
