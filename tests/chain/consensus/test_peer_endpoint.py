"""The peer protocol's HTTP handling: what Django's request handling did for it, PeerEndpoint does."""

from chain.models import ChainHead
from tests.chain.consensus.test_proposals import admitted
from tests.chain.peer_client import peer_post, peer_request

CONSENSUS = "/peer/v1/consensus/"


def test_status_answers_a_get_with_the_head(chain):
    answer = peer_request("GET", "/peer/v1/status/")

    assert answer.status_code == 200
    assert answer.headers[b"content-type"] == b"application/json"
    assert answer.json()["block_hash"] == ChainHead.objects.get().block_hash


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
