"""Followers: a validator pushes each block it proposed to the registered followers, and a
follower applies pushed blocks through the sync path (certificate and state root verified),
pulling instead when a push leaves a gap; its status says how far behind it is.

The tests' solo genesis has EGAT active; MEA, PEA, ERC and SIAM_TRADERS are registered
(validator records) but not active: followers.
"""

import copy
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone

from chain import peer_api, task_queue
from chain.consensus import peer_auth, transport
from chain.consensus.transport import gossip_valid
from chain.ledger.block import BlockHeader
from chain.ledger.errors import LedgerError
from chain.ledger.tx import parse_transaction
from chain.models import ChainHead, MempoolTx, Validator
from chain.peers import follower_urls
from chain.selectors import follower_lag, node_status
from chain.services.admission import FORWARD_AGAIN_AFTER_S, waiting_forward_again
from chain.services.sync import block_apply, blocks_follow, blocks_for_peer, followers_push
from tests.chain.consensus.test_proposals import admitted
from tests.chain.peer_client import peer_post

FOLLOW = "/peer/v1/follow/"


class _Undo(Exception):
    pass


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(peer_api, "_buckets", peer_api._TokenBuckets())
    transport.cache.delete(transport.VALIDATORS_HEAD)
    yield
    transport.cache.delete(transport.VALIDATORS_HEAD)


@pytest.fixture
def served(chain, produce):
    """Blocks 1 and 2 as a validator serves them, with this site left at height 0."""
    try:
        with transaction.atomic():
            for sender in ("factory_rayong", "wind_korat"):
                admitted(sender)
                produce()
            bodies = blocks_for_peer(1, 2)
            raise _Undo
    except _Undo:
        pass
    assert ChainHead.objects.get().height == 0
    return bodies


class _Capture(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def follower_site(settings):
    """A real HTTP server on 127.0.0.1 standing in for every registered follower's site."""
    _Capture.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    settings.GTX_PEER_URLS = {name: url for name in ("MEA", "PEA", "ERC", "SIAM_TRADERS")}
    yield url
    server.shutdown()
    server.server_close()


def test_the_followers_are_the_registered_validators_that_are_not_active(chain, follower_site):
    inactive = set(Validator.objects.filter(active=False).values_list("public_key", flat=True))

    assert set(follower_urls()) == inactive and len(inactive) == 4
    assert set(follower_urls().values()) == {follower_site}


def test_a_committed_block_is_pushed_signed_with_its_certificate(chain, produce, follower_site):
    admitted("factory_rayong")
    block = produce()

    took = followers_push(block.height)

    assert took == 1, "one request per follower site, however many records name it"
    [(path, headers, body)] = _Capture.received
    assert path == FOLLOW
    claim = peer_auth.request_claim(
        {k.encode(): v.encode() for k, v in headers.items()}, now_ms=block.timestamp_ms
    )
    sender = peer_auth.claim_sender(
        claim, method="POST", target=FOLLOW, body=body, chain_id=chain.chain_id, registered={block.proposer}
    )
    assert sender == block.proposer
    pushed = json.loads(body)
    assert pushed["chain_id"] == chain.chain_id
    assert pushed["blocks"] == json.loads(json.dumps(blocks_for_peer(block.height, 1)))
    assert pushed["blocks"][0]["commit_certificate"] == block.commit_certificate


def test_a_follower_applies_pushed_blocks_through_the_sync_path(served, settings, monkeypatch):
    settings.GTX_FOLLOWER = True
    queued = []
    monkeypatch.setattr(task_queue, "blocks_follow_soon", queued.append)

    answers = [
        peer_post(FOLLOW, {"chain_id": ChainHead.objects.get().chain_id, "blocks": [b]}) for b in served
    ]
    applied = sum(blocks_follow(json.loads(json.dumps(bodies))) for bodies in queued)

    assert [a.status_code for a in answers] == [200, 200]
    assert applied == 2
    head = ChainHead.objects.get()
    assert (head.height, head.block_hash) == (2, BlockHeader(**served[1]["header"]).hash)
    lag = follower_lag(head)
    assert (lag["validators_height"], lag["behind_heights"], lag["behind_seconds"]) == (2, 0, 0)
    assert node_status()["follower"] == lag and node_status()["step"] == "following"


def test_a_pushed_block_with_a_forged_certificate_is_not_applied(served):
    forged = copy.deepcopy(served[0])
    precommit = forged["commit_certificate"][0]
    precommit["signature"] = ("0" if precommit["signature"][0] != "0" else "1") + precommit["signature"][1:]

    assert blocks_follow([forged]) == 0
    assert ChainHead.objects.get().height == 0
    with pytest.raises(LedgerError, match="not signed for this block"):
        block_apply(forged)


def test_a_push_past_a_gap_pulls_instead_and_the_status_says_how_far_behind(served):
    """Block 1's push was lost: block 2 is not applied on its own (there is no other validator
    to pull from in the solo chain), and the status says how far behind the follower is."""
    assert blocks_follow([served[1]]) == 0
    head = ChainHead.objects.get()
    assert head.height == 0

    lag = follower_lag(head)

    assert (lag["validators_height"], lag["behind_heights"]) == (2, 2)
    assert lag["behind_seconds"] is None, "no block of its own to count from yet"
    assert lag["heard_at"] is not None

    assert blocks_follow(served[:1]) == 1
    lag = follower_lag(ChainHead.objects.get())
    gap_ms = served[1]["header"]["timestamp_ms"] - served[0]["header"]["timestamp_ms"]
    assert (lag["behind_heights"], lag["behind_seconds"]) == (1, round(gap_ms / 1000, 1))
    assert blocks_follow(served) == 1 and ChainHead.objects.get().height == 2


def test_a_followers_transactions_that_wait_are_forwarded_again(chain, follower_site):
    """The first forward is sent once: a validator down then would leave them waiting for good."""
    Validator.objects.filter(name="MEA").update(active=True)  # a validator to forward to
    old, fresh = admitted("factory_rayong"), admitted("wind_korat")
    MempoolTx.objects.filter(hash=parse_transaction(old).hash).update(
        received_at=timezone.now() - timedelta(seconds=FORWARD_AGAIN_AFTER_S + 1)
    )

    forwarded = waiting_forward_again(chain.chain_id)

    assert forwarded == 1
    [(path, headers, body)] = _Capture.received
    envelope = json.loads(body)
    assert path == "/peer/v1/transactions/"
    assert envelope["transactions"] == [old] and envelope["origin"] == headers["x-gtx-peer"]
    assert gossip_valid(envelope, chain.chain_id, [parse_transaction(old).hash])
    assert parse_transaction(fresh).hash not in body.decode()
