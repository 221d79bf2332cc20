"""Peers authenticate before any work: a signed request, a registered node's key, then the body.

The tests' solo genesis has EGAT as its one active validator; MEA is a
validator of the genesis that is not active (a registered follower: it may
gossip its users' transactions, not vote, look up or push blocks), and a
fresh key is a stranger.
"""

import json
from unittest import mock

import pytest

from chain import peer_api, task_queue
from chain.consensus import messages as consensus_messages
from chain.consensus import peer_auth
from chain.consensus.machine import PREVOTE, Message
from chain.consensus.messages import sign_message
from chain.consensus.transport import gossip_envelope
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of, new_signing_key
from chain.ledger.keys import verify as real_verify
from chain.ledger.tx import parse_transaction
from chain.models import ConsensusMessage, MempoolTx
from chain.services.consensus.intake import ROUND_WINDOW
from tests.chain.api.conftest import address, signed
from tests.chain.peer_client import HOST, peer_post, peer_request, signature_headers

CONSENSUS = "/peer/v1/consensus/"
GOSSIP = "/peer/v1/transactions/"
LOOKUP = "/peer/v1/transactions/lookup/"


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    """Stored messages queue a consensus step and a sync in Celery: not in these tests."""
    monkeypatch.setattr(task_queue, "consensus_step_soon", lambda: None)
    monkeypatch.setattr(task_queue, "sync_soon", lambda: None)


@pytest.fixture(autouse=True)
def fresh_buckets(monkeypatch):
    """This process's rate limits, empty for each test."""
    monkeypatch.setattr(peer_api, "_buckets", peer_api._TokenBuckets())


@pytest.fixture
def verifies():
    """Every ed25519 verify the peer protocol makes, wherever it makes it."""
    counter = mock.Mock(wraps=real_verify)
    with (
        mock.patch.object(consensus_messages, "verify", counter),
        mock.patch.object(peer_auth, "verify", counter),
        mock.patch("chain.consensus.transport.verify", counter),
        mock.patch("chain.ledger.tx.verify", counter, create=True),
    ):
        yield counter


def prevotes(key, chain_id: str, count: int) -> list[dict]:
    sender = address_of(key)
    return [sign_message(key, chain_id, Message(PREVOTE, 1, r, sender, "")) for r in range(count)]


# --- signed requests ---------------------------------------------------------------


def test_it_refuses_an_unsigned_post_on_every_route(chain):
    for path in (CONSENSUS, GOSSIP, LOOKUP):
        answer = peer_post(path, {"chain_id": chain.chain_id, "hashes": []}, signer=None)

        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "peer_auth_required"


def test_a_lookup_needs_an_active_validators_signature(chain):
    """Finding 5: 10,000 hashes were looked up for anyone who asked."""
    body = {"chain_id": chain.chain_id, "hashes": ["ab" * 32] * 10_000}

    unsigned = peer_post(LOOKUP, body, signer=None)
    stranger = peer_post(LOOKUP, body, signer=new_signing_key())
    inactive = peer_post(LOOKUP, body, signer="MEA")
    validator = peer_post(LOOKUP, body)

    assert unsigned.status_code == 401
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (403, "unknown_peer")
    assert (inactive.status_code, inactive.json()["error"]["code"]) == (403, "unknown_peer")
    assert validator.status_code == 200


def test_a_strangers_request_costs_no_signature_work(chain, verifies):
    answer = peer_post(CONSENSUS, {"chain_id": chain.chain_id, "messages": []}, signer=new_signing_key())

    assert answer.status_code == 403
    assert verifies.call_count == 0


def test_a_request_signature_is_checked_with_one_verify_before_the_body(chain, verifies):
    body = b'{"chain_id": "x", "hashes": [' + b"[" * 1000 + b"]" * 1000 + b"]}"
    headers = [*HOST, *signature_headers(demo_key("EGAT"), "POST", LOOKUP, b"something else")]

    forged = peer_request("POST", LOOKUP, body, headers, signer=None)

    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "bad_peer_signature")
    assert verifies.call_count == 1
    assert peer_request("POST", LOOKUP, body).json()["error"]["code"] == "malformed_json"


def test_a_signature_for_another_path_chain_or_time_is_refused(chain):
    body = json.dumps({"chain_id": chain.chain_id, "hashes": []}).encode()
    key = demo_key("EGAT")
    other_path = signature_headers(key, "POST", GOSSIP, body)
    other_chain = signature_headers(key, "POST", LOOKUP, body, chain_id="other-chain")
    stale = [
        (name.encode(), value.encode())
        for name, value in peer_auth.request_headers(
            key, method="POST", target=LOOKUP, body=body, chain_id=chain.chain_id, now_ms=1_000
        ).items()
    ]

    for headers, code in (
        (other_path, "bad_peer_signature"),
        (other_chain, "bad_peer_signature"),
        (stale, "stale_request"),
    ):
        answer = peer_request("POST", LOOKUP, body, [*HOST, *headers], signer=None)
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, code)


def test_malformed_signature_headers_are_refused_as_unsigned(chain):
    good = dict(signature_headers(demo_key("EGAT"), "POST", LOOKUP, b"{}"))
    for name, junk in (
        (b"x-gtx-peer", good[b"x-gtx-peer"].upper()),
        (b"x-gtx-peer", good[b"x-gtx-peer"] + b"\n"),
        (b"x-gtx-timestamp", b"-5"),
        (b"x-gtx-timestamp", b"1e12"),
        (b"x-gtx-signature", b"\x00" * 128),
    ):
        headers = [*HOST, *{**good, name: junk}.items()]
        answer = peer_request("POST", LOOKUP, b"{}", headers, signer=None)
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "peer_auth_required"), junk


def test_reads_may_come_unsigned_unless_the_setting_says_no(chain, settings):
    assert peer_request("GET", "/peer/v1/status/", signer=None).status_code == 200
    assert peer_request("GET", "/peer/v1/blocks/?from=1", signer=None).status_code == 200

    settings.GTX_PEER_OPEN_READS = False

    assert peer_request("GET", "/peer/v1/status/", signer=None).status_code == 401
    assert peer_request("GET", "/peer/v1/blocks/?from=1&limit=2").status_code == 200


# --- limits --------------------------------------------------------------------------


def test_each_peer_is_rate_limited(chain, settings):
    settings.GTX_PEER_RATE_PER_S = 2  # bursts of 4
    body = {"chain_id": chain.chain_id, "hashes": []}

    answers = [peer_post(LOOKUP, body) for _ in range(6)]

    assert [a.status_code for a in answers[:4]] == [200] * 4
    # The bucket refills 2 a second: on a loaded machine one of the last two may find a token.
    refused = [a for a in answers[4:] if a.status_code != 200]
    assert refused and all(a.status_code == 429 for a in refused)
    assert {a.json()["error"]["code"] for a in refused} == {"rate_limited"}


def test_refused_signatures_are_limited_per_address_before_any_verify(chain, settings, verifies):
    settings.GTX_PEER_REFUSED_RATE_PER_S = 1  # bursts of 2
    body = json.dumps({"chain_id": chain.chain_id, "hashes": []}).encode()
    forged = [*HOST, *signature_headers(demo_key("EGAT"), "POST", LOOKUP, b"other")]

    codes = [
        peer_request("POST", LOOKUP, body, forged, signer=None, client="10.0.0.9").status_code
        for _ in range(4)
    ]

    assert codes == [401, 401, 429, 429]
    assert verifies.call_count == 2
    assert peer_request("POST", LOOKUP, body).status_code == 200, (
        "an honest peer at another address is served"
    )


# --- consensus messages ----------------------------------------------------------------


def test_a_non_validators_thousand_messages_are_refused_without_verifying_one(chain, verifies):
    """Finding 5: 1,000 validly self-signed messages of a non-validator cost 1,000 verifies."""
    wires = prevotes(demo_key("MEA"), chain.chain_id, 1000)

    answer = peer_post(CONSENSUS, {"chain_id": chain.chain_id, "messages": wires, "blocks": []})

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "not_a_validator")
    assert verifies.call_count == 1, "the request's own signature only"
    assert not ConsensusMessage.objects.exists()


def test_a_batch_is_refused_at_its_first_strangers_message_before_any_signature(chain, verifies):
    wires = [
        *prevotes(demo_key("EGAT"), chain.chain_id, 500),
        *prevotes(new_signing_key(), chain.chain_id, 1),
    ]

    answer = peer_post(CONSENSUS, {"chain_id": chain.chain_id, "messages": wires, "blocks": []})

    assert answer.json()["error"]["code"] == "not_a_validator"
    assert verifies.call_count == 1
    assert not ConsensusMessage.objects.exists()


def test_a_validators_messages_are_stored_with_one_verify_each(chain, verifies):
    wires = prevotes(demo_key("EGAT"), chain.chain_id, 3)

    answer = peer_post(CONSENSUS, {"chain_id": chain.chain_id, "messages": wires, "blocks": []})

    assert answer.json()["stored"] == 3
    assert verifies.call_count == 1 + 3


def test_messages_above_the_height_window_only_say_a_peer_is_ahead(chain):
    key = demo_key("EGAT")
    wires = [
        sign_message(key, chain.chain_id, Message(PREVOTE, h, 0, address_of(key), ""))
        for h in (1, 2, 3, 10**6)
    ]

    answer = peer_post(CONSENSUS, {"chain_id": chain.chain_id, "messages": wires, "blocks": []})

    assert answer.json()["stored"] == 2
    assert answer.json()["ahead"] == 3
    assert sorted(ConsensusMessage.objects.values_list("height", flat=True)) == [1, 2]


def test_an_equivocator_keeps_two_values_of_a_vote_not_more(chain):
    key = demo_key("EGAT")
    wires = [
        sign_message(key, chain.chain_id, Message(PREVOTE, 1, 0, address_of(key), f"{i:02x}" * 32))
        for i in range(5)
    ]

    peer_post(CONSENSUS, {"chain_id": chain.chain_id, "messages": wires[:1], "blocks": []})
    peer_post(CONSENSUS, {"chain_id": chain.chain_id, "messages": wires[1:], "blocks": []})

    assert ConsensusMessage.objects.count() == 2


# --- gossip ------------------------------------------------------------------------------


def transfer() -> dict:
    return signed("factory_rayong", nonce=0, payload={"to": address("hydro_nan"), "amount": 5})


def test_gossip_whose_origin_is_not_its_signer_is_refused_before_its_signature(chain, verifies):
    wires = [transfer()]
    envelope = gossip_envelope(demo_key("MEA"), chain.chain_id, wires, [parse_transaction(wires[0]).hash])

    answer = peer_post(GOSSIP, envelope)

    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "unknown_origin")
    assert verifies.call_count == 1, "the request's own signature only"
    assert not MempoolTx.objects.exists()


@pytest.mark.parametrize("origin", [["ab" * 32], {"a": 1}, 7, None, "AB" * 32])
def test_a_gossip_origin_that_is_not_a_key_is_refused(chain, origin):
    """Finding 8: an origin given as a list was a 500."""
    wires = [transfer()]
    envelope = gossip_envelope(demo_key("EGAT"), chain.chain_id, wires, [parse_transaction(wires[0]).hash])

    answer = peer_post(GOSSIP, {**envelope, "origin": origin})

    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "unknown_origin")
    assert not MempoolTx.objects.exists()


def test_an_unsigned_or_stale_post_is_refused_before_any_query(chain, django_assert_num_queries):
    body = b'{"chain_id": "x", "hashes": []}'
    stale = peer_auth.request_headers(
        demo_key("EGAT"), method="POST", target=LOOKUP, body=body, chain_id=chain.chain_id, now_ms=1_000
    )

    with django_assert_num_queries(0):
        unsigned = peer_request("POST", LOOKUP, body, signer=None)
        old = peer_request(
            "POST", LOOKUP, body, [*HOST, *((k.encode(), v.encode()) for k, v in stale.items())], signer=None
        )

    assert unsigned.status_code == old.status_code == 401


def test_what_this_site_sends_a_peer_is_signed_so_that_the_peer_accepts_it(chain, node_key):
    from chain.consensus import transport

    content = json.dumps({"chain_id": chain.chain_id, "hashes": []}).encode()
    headers = transport._signed_headers("POST", LOOKUP, content, chain.chain_id)

    answer = peer_request(
        "POST", LOOKUP, content, [*HOST, *((k.encode(), v.encode()) for k, v in headers.items())], signer=None
    )

    assert answer.status_code == 200


def test_messages_of_rounds_far_ahead_of_this_sites_round_are_not_kept(chain):
    """One validator could otherwise store messages for 10,000 rounds, which every step reads."""
    key = demo_key("EGAT")
    rounds = (0, ROUND_WINDOW, ROUND_WINDOW + 1, 10_000)
    wires = [
        sign_message(key, chain.chain_id, Message(PREVOTE, h, r, address_of(key), ""))
        for h in (1, 2)
        for r in rounds
    ]

    answer = peer_post(CONSENSUS, {"chain_id": chain.chain_id, "messages": wires, "blocks": []})

    assert answer.json()["stored"] == 4
    assert sorted(ConsensusMessage.objects.values_list("height", "round")) == [
        (1, 0),
        (1, 16),
        (2, 0),
        (2, 16),
    ]


# --- followers ---------------------------------------------------------------------------

FOLLOW = "/peer/v1/follow/"


def test_a_registered_followers_gossip_is_admitted(chain):
    """MEA's record is not active: its site follows, and forwards what its users submit."""
    wires = [transfer()]
    envelope = gossip_envelope(demo_key("MEA"), chain.chain_id, wires, [parse_transaction(wires[0]).hash])

    answer = peer_post(GOSSIP, envelope, signer="MEA")

    assert answer.status_code == 200
    assert answer.json() == {"admitted": 1, "received": 1}
    assert MempoolTx.objects.filter(hash=parse_transaction(wires[0]).hash).exists()


def test_an_unregistered_nodes_gossip_is_refused_with_403_and_nothing_admitted(chain, verifies):
    stranger = new_signing_key()
    wires = [transfer()]
    envelope = gossip_envelope(stranger, chain.chain_id, wires, [parse_transaction(wires[0]).hash])

    answer = peer_post(GOSSIP, envelope, signer=stranger)

    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "unknown_peer")
    assert "registered node" in answer.json()["error"]["message"]
    assert verifies.call_count == 0
    assert not MempoolTx.objects.exists()


def test_a_followers_requests_are_limited_at_the_follower_rate(chain, settings):
    settings.GTX_PEER_FOLLOWER_RATE_PER_S = 1  # bursts of 2; a validator's is far higher
    envelope = gossip_envelope(demo_key("MEA"), chain.chain_id, [], [])

    codes = [peer_post(GOSSIP, envelope, signer="MEA").status_code for _ in range(4)]

    assert codes == [200, 200, 429, 429]
    assert peer_post(LOOKUP, {"chain_id": chain.chain_id, "hashes": []}).status_code == 200


def test_a_follower_may_not_send_consensus_messages_or_push_blocks(chain):
    messages = peer_post(CONSENSUS, {"chain_id": chain.chain_id, "messages": [], "blocks": []}, signer="MEA")

    assert (messages.status_code, messages.json()["error"]["code"]) == (403, "unknown_peer")


def test_a_validator_refuses_pushed_blocks(chain):
    answer = peer_post(FOLLOW, {"chain_id": chain.chain_id, "blocks": []})

    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "not_a_follower")


def test_a_follower_takes_pushes_from_active_validators_only(chain, settings, monkeypatch):
    settings.GTX_FOLLOWER = True
    queued = []
    monkeypatch.setattr(task_queue, "blocks_follow_soon", queued.append)
    block = {"header": {"height": 5}, "commit_certificate": [], "txs": []}

    from_follower = peer_post(FOLLOW, {"chain_id": chain.chain_id, "blocks": [block]}, signer="MEA")
    malformed = peer_post(FOLLOW, {"chain_id": chain.chain_id, "blocks": [{"header": {"height": "5"}}]})
    from_validator = peer_post(FOLLOW, {"chain_id": chain.chain_id, "blocks": [block]})

    assert (from_follower.status_code, from_follower.json()["error"]["code"]) == (403, "unknown_peer")
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "malformed")
    assert from_validator.status_code == 200
    assert queued == [[block]], "queued for the sync path to verify, once"
