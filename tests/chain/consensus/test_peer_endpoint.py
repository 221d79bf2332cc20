"""The peer protocol's HTTP handling: what Django's request handling did for it, PeerEndpoint does."""

from unittest import mock

import pytest

from chain.models import ChainHead
from tests.chain.consensus.test_proposals import admitted
from tests.chain.peer_client import peer_post, peer_request

CONSENSUS = "/peer/v1/consensus/"


def test_status_answers_a_get_with_the_head(chain):
    answer = peer_request("GET", "/peer/v1/status/")

    assert answer.status_code == 200
    assert answer.headers[b"content-type"] == b"application/json"
    assert answer.json()["block_hash"] == ChainHead.objects.get().block_hash


def test_a_request_is_answered_with_no_hop_to_close_connections(chain):
    """Channels' dispatch would first hop to the sync thread to close old connections; the
    endpoint's database work closes its own (chain.consumers.WithoutConnectionHop)."""
    with mock.patch("channels.consumer.aclose_old_connections") as hop:
        answer = peer_request("GET", "/peer/v1/status/")
    assert (answer.status_code, hop.await_count) == (200, 0)


def test_blocks_read_their_query_and_refuse_a_bad_one(chain, produce):
    admitted("factory_rayong")
    produce()

    blocks = peer_request("GET", "/peer/v1/blocks/?from=1&limit=5").json()["blocks"]
    assert [b["header"]["height"] for b in blocks] == [1]
    assert len(blocks[0]["txs"]) == 1
    bad = peer_request("GET", "/peer/v1/blocks/?from=x")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "malformed"


def test_a_wrong_method_is_refused_with_what_to_use(chain):
    answer = peer_request("GET", CONSENSUS)

    assert answer.status_code == 405
    assert answer.headers[b"allow"] == b"POST"


def test_a_body_that_is_not_a_json_object_is_malformed(chain):
    for body, code in (
        (b"not json", "malformed_json"),
        (b"[1, 2]", "malformed"),
        (b"\xff\xfe", "malformed_json"),
    ):
        answer = peer_request("POST", CONSENSUS, body)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == code


def test_an_unknown_host_is_refused(chain):
    answer = peer_request("GET", "/peer/v1/status/", headers=[(b"host", b"evil.example")])

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_host"


def test_a_body_over_the_limit_is_refused_whole(chain, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    answer = peer_request("POST", CONSENSUS, b'{"chain_id": "' + b"x" * 200 + b'"}')

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"


def test_a_wrong_chain_is_refused(chain):
    answer = peer_post(CONSENSUS, {"chain_id": "other", "messages": [], "blocks": []})

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "wrong_chain"


# --- malformed input: a 4xx with a stable code, never a 500 (finding 8) -------------------

LOOKUP = "/peer/v1/transactions/lookup/"
GOSSIP = "/peer/v1/transactions/"


@pytest.mark.parametrize(
    "hashes",
    [
        ["ab" * 31 + "a\u0000"],
        ["AB" * 32],
        ["ab" * 31],
        [7],
        [None],
        "ab" * 32,
        {"ab": 1},
    ],
)
def test_a_lookup_of_a_hash_that_is_not_lower_case_hex_is_malformed(chain, hashes):
    answer = peer_post(LOOKUP, {"chain_id": chain.chain_id, "hashes": hashes})

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] in ("malformed", "malformed_json")


def test_a_lookup_hash_with_nul_is_refused_by_the_decoder(chain):
    """Finding 8: a NUL in a hash reached PostgreSQL and was a 500."""
    answer = peer_post(LOOKUP, {"chain_id": chain.chain_id, "hashes": ["ab" * 31 + "a\u0000"]})

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed_json")


@pytest.mark.parametrize("path", [CONSENSUS, GOSSIP, LOOKUP])
def test_json_nested_a_thousand_deep_is_malformed_on_every_post_route(chain, path):
    """Finding 8: it raised RecursionError, a 500."""
    body = b'{"chain_id": "x", "messages": ' + b"[" * 1000 + b"]" * 1000 + b"}"

    answer = peer_request("POST", path, body)

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        b'{"chain_id": "a", "chain_id": "b"}',
        b'{"chain_id": NaN}',
        b'{"chain_id": "\\ud800"}',
        b"",
        b"null",
    ],
)
def test_bodies_the_strict_decoder_refuses_are_4xx(chain, body):
    for path in (CONSENSUS, GOSSIP, LOOKUP):
        answer = peer_request("POST", path, body)
        assert answer.status_code == 400, (path, body)
        assert answer.json()["error"]["code"] in ("malformed", "malformed_json")


@pytest.mark.parametrize(
    "query",
    [
        "from=x",
        "from=-1",
        "from=1e3",
        "from=%00",
        "limit=junk",
        "from=99999999999999999999",
        "from= 1",
        "from=%D9%A1",
    ],
)
def test_blocks_from_and_limit_must_be_plain_decimal_integers(chain, query):
    answer = peer_request("GET", f"/peer/v1/blocks/?{query}")

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed")


@pytest.mark.parametrize(
    "body",
    [
        {"messages": "x"},
        {"messages": [1]},
        {"messages": [{"type": ["proposal"]}]},
        {"messages": [{"type": "prevote", "sender": ["ab" * 32]}]},
        {"blocks": {"a": 1}},
        {"messages": [{}] * 1001},
    ],
)
def test_malformed_consensus_messages_are_4xx(chain, body):
    answer = peer_post(CONSENSUS, {"chain_id": chain.chain_id, **body})

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] in ("malformed", "bad_message")


@pytest.mark.parametrize(
    "body",
    [
        {"transactions": "x"},
        {"transactions": [1], "origin": "ab" * 32},
        {"transactions": [], "origin": ["ab" * 32]},
        {"transactions": [], "origin": {"k": "v"}},
        {"transactions": [], "chain_id": ["x"]},
    ],
)
def test_malformed_gossip_is_4xx(chain, body):
    answer = peer_post(GOSSIP, {"chain_id": chain.chain_id, **body})

    assert 400 <= answer.status_code < 500
