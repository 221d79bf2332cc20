"""A peer's proposal whose transaction bodies this site lacks: no verdict under the consensus
lock and no peer asked there; the bodies are fetched after the step commits, and the step that
follows votes for the block. Bodies that never arrive get the nil prevote at the propose timeout.
"""

from dataclasses import asdict

import httpx
import pytest

from chain import clock, selectors, task_queue
from chain.consensus import transport
from chain.consensus.machine import NIL, PREVOTE, PROPOSAL, Message
from chain.consensus.messages import sign_message
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.models import ChainHead, ConsensusMessage, ConsensusState, MempoolTx, ProposedBlock, Validator
from chain.node import node_key_write, node_signing_key
from chain.peers import peer_urls
from chain.services.blocks.build import block_build
from chain.services.consensus.proposals import proposal_bodies_fetch
from chain.services.consensus.step import consensus_step
from tests.chain.consensus.test_proposals import admitted


@pytest.fixture
def two_validators(chain, settings, tmp_path):
    """EGAT and MEA active with equal stake; this site runs as the one that does not propose round 0.

    Returns (the proposer's key, this site's key).
    """
    Validator.objects.filter(name="MEA").update(active=True)
    selectors.head_validators_cache.forget()  # the validators changed behind the ledger's back
    head = ChainHead.objects.get()
    validators = selectors.validator_set(head)
    keys = {address_of(demo_key(name)): demo_key(name) for name in ("EGAT", "MEA")}
    assert set(validators.power) == set(keys)
    proposer = keys[validators.proposer(0)]
    site = next(key for address, key in keys.items() if address != validators.proposer(0))
    settings.GTX_NODE_KEY_FILE = str(tmp_path / "site_key")
    node_key_write(site)
    node_signing_key.cache_clear()
    yield proposer, site
    selectors.head_validators_cache.forget()
    node_signing_key.cache_clear()


@pytest.fixture
def proposed_without_bodies(two_validators):
    """The round-0 proposer's block of one transfer, stored with its proposal as intake keeps them;
    the transfer is in no mempool here (gossip has not brought it). Returns (block hash, wire)."""
    proposer, _ = two_validators
    wire = admitted("factory_rayong")
    head = ChainHead.objects.get()
    built = block_build(proposer, head, 0, empty_ok=False)
    MempoolTx.objects.all().delete()
    block_hash = built.header.hash
    ProposedBlock.objects.create(
        hash=block_hash,
        height=built.header.height,
        header=asdict(built.header),
        tx_hashes=[tx.hash for tx in built.txs],
    )
    proposal = Message(PROPOSAL, 1, 0, address_of(proposer), block_hash, -1)
    signed = sign_message(proposer, head.chain_id, proposal)
    ConsensusMessage.objects.create(
        height=1,
        round=0,
        type=PROPOSAL,
        sender=proposal.sender,
        block_hash=block_hash,
        signature=signed["signature"],
    )
    return block_hash, wire


@pytest.fixture
def peer_requests(monkeypatch):
    """Every HTTP request this process makes to a peer (none reaches one: each is refused)."""
    made = []

    class Unreachable:
        def post(self, url, **kwargs):
            made.append(url)
            raise httpx.ConnectError("the peer is down")

        get = post

    monkeypatch.setattr(transport.http_clients, "get", Unreachable)
    return made


@pytest.fixture
def fetches_queued(monkeypatch):
    queued = []
    monkeypatch.setattr(task_queue, "proposal_bodies_fetch_soon", lambda *args: queued.append(args))
    return queued


def my_prevotes(site_key) -> list[str]:
    me = address_of(site_key)
    return list(ConsensusMessage.objects.filter(sender=me, type=PREVOTE).values_list("block_hash", flat=True))


def test_a_step_asks_no_peer_for_missing_bodies_and_gives_no_verdict_yet(
    two_validators, proposed_without_bodies, peer_requests, fetches_queued, django_capture_on_commit_callbacks
):
    _, site = two_validators
    block_hash, wire = proposed_without_bodies

    with django_capture_on_commit_callbacks(execute=True):
        consensus_step(site)

    assert peer_requests == [], "no peer is asked anything under the consensus lock"
    assert my_prevotes(site) == [], "no verdict yet: no prevote either way"
    assert ConsensusState.objects.get().step == "propose"
    assert ProposedBlock.objects.get(hash=block_hash).verdict == ""
    (tx_hash,) = ProposedBlock.objects.get(hash=block_hash).tx_hashes
    assert fetches_queued == [(block_hash, [tx_hash])], "the fetch is queued once the step commits"


def test_bodies_fetched_after_the_step_get_the_block_its_prevote(
    two_validators, proposed_without_bodies, fetches_queued, monkeypatch, django_capture_on_commit_callbacks
):
    proposer, site = two_validators
    block_hash, wire = proposed_without_bodies
    with django_capture_on_commit_callbacks(execute=True):
        consensus_step(site)
    ((_, missing),) = fetches_queued
    asked = []

    def proposers_site_answers(url, path, body):
        asked.append((url, path, body["hashes"]))
        return {"transactions": [wire, {"junk": 1}]}  # a peer's answer is checked like any input

    monkeypatch.setattr(transport, "post_json", proposers_site_answers)

    assert proposal_bodies_fetch(block_hash, missing) == 1
    assert asked == [(peer_urls()[address_of(proposer)], "/peer/v1/transactions/lookup/", missing)]
    assert proposal_bodies_fetch(block_hash, missing) == 0, "each body is kept once"
    consensus_step(site)

    assert my_prevotes(site) == [block_hash]
    assert ProposedBlock.objects.get(hash=block_hash).verdict == "valid"


def test_the_fetch_task_leaves_the_verdict_to_the_consensus_worker(
    two_validators, proposed_without_bodies, fetches_queued, monkeypatch, django_capture_on_commit_callbacks
):
    """The general worker that fetched the bodies does not step: the block executed there would be
    executed again by the consensus worker that writes it. It queues a step that judges the block,
    which a step only ``when_needed`` would skip (the proposal's message was processed)."""
    from chain import tasks
    from chain.services.consensus.step_needed import step_needed

    _, site = two_validators
    block_hash, wire = proposed_without_bodies
    with django_capture_on_commit_callbacks(execute=True):
        consensus_step(site)
    ((_, missing),) = fetches_queued
    monkeypatch.setattr(transport, "post_json", lambda url, path, body: {"transactions": [wire]})
    sent = []
    monkeypatch.setattr(task_queue, "task_send", lambda name, **options: sent.append((name, options)))

    assert tasks.proposal_bodies_fetch(block_hash, missing) == 1

    assert sent == [(task_queue.CONSENSUS_STEP, {"args": (False,)})]
    assert my_prevotes(site) == [], "no step in the fetching worker"
    assert not step_needed(), "a step only when needed would not judge the block"
    tasks.consensus_step(*sent[0][1]["args"])
    assert my_prevotes(site) == [block_hash]
    assert ProposedBlock.objects.get(hash=block_hash).verdict == "valid"


def test_bodies_fetched_after_the_verdict_are_not_kept(proposed_without_bodies, fetches_queued, monkeypatch):
    """The verdict came first (gossip brought the bodies): a body fetched now was never checked
    with the block, and gossip takes a valid proposal's bodies as verified."""
    block_hash, wire = proposed_without_bodies
    ProposedBlock.objects.filter(hash=block_hash).update(verdict="valid")
    monkeypatch.setattr(transport, "post_json", lambda url, path, body: {"transactions": [wire]})

    assert proposal_bodies_fetch(block_hash, ProposedBlock.objects.get(hash=block_hash).tx_hashes) == 0
    assert ProposedBlock.objects.get(hash=block_hash).fetched_txs == []


def test_bodies_that_never_arrive_get_the_nil_prevote_at_the_propose_timeout(
    two_validators, proposed_without_bodies, peer_requests, fetches_queued
):
    _, site = two_validators
    consensus_step(site)
    row = ConsensusState.objects.get()
    assert [t[1] for t in row.timeouts] == ["propose"]
    ConsensusState.objects.filter(id=1).update(timeouts=[[clock.now_ms() - 1, *row.timeouts[0][1:]]])

    consensus_step(site)

    assert my_prevotes(site) == [NIL]
    assert peer_requests == []


def test_a_peer_request_under_the_consensus_lock_is_refused(chain):
    with transport.peer_io_forbidden("under the consensus lock"):
        with pytest.raises(transport.PeerIOForbidden, match="under the consensus lock"):
            transport.post_json("http://127.0.0.1:9", "/peer/v1/status/", {"chain_id": chain.chain_id})
    # Outside it the same request is made (and finds nobody there).
    assert transport.post_json("http://127.0.0.1:9", "/peer/v1/status/", {"chain_id": chain.chain_id}) is None
