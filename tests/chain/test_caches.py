"""The chain's in-process caches give what their key says, and a new key reads again."""

import os

from django.core.cache import cache

from chain import selectors
from chain.caches import LatestKeyCache, PerProcess
from chain.consensus.transport import PeerSeenWrites
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.models import ChainHead, Validator
from chain.node import node_key_write, node_signing_key
from chain.services.blocks.build import block_build
from chain.services.consensus.proposals import ExecutedBlocks
from tests.chain.consensus.test_proposals import admitted

MEA = address_of(demo_key("MEA"))
EGAT = address_of(demo_key("EGAT"))


def test_a_latest_key_cache_computes_once_per_key_and_again_when_the_key_changes():
    computed = []
    cached = LatestKeyCache(lambda *key: computed.append(key) or len(computed))

    assert [
        cached.get("h1", "r1"),
        cached.get("h1", "r1"),
        cached.get("h2", "r2"),
        cached.get("h1", "r1"),
    ] == [
        1,
        1,
        2,
        3,
    ]
    assert computed == [("h1", "r1"), ("h2", "r2"), ("h1", "r1")]


def test_a_per_process_value_is_made_again_in_a_forked_child():
    """As Celery forks its workers: the child must not use the parent's client or thread."""
    per_process = PerProcess(object)
    parents = per_process.get()
    assert per_process.get() is parents

    child = os.fork()
    if child == 0:
        os._exit(0 if per_process.get() is not parents else 1)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0


def test_the_validator_set_is_read_again_once_a_block_is_written(chain, produce):
    """A block is what changes the validators (governance, staking, jailing): the next head's
    key reads them again, as every step, check and intake then sees at once."""
    selectors.head_validators_cache.forget()
    before = selectors.validator_set(ChainHead.objects.get())
    Validator.objects.filter(name="MEA").update(active=True)  # as if the block below had done it
    assert selectors.validator_set(ChainHead.objects.get()) is before, "same head: the value it read"

    admitted("factory_rayong")
    produce()
    after = selectors.validator_set(ChainHead.objects.get())

    assert set(before.power) == {EGAT}
    assert set(after.power) == {EGAT, MEA}
    selectors.head_validators_cache.forget()


def test_the_peer_urls_of_a_step_leave_out_this_nodes_own_site(chain, settings, tmp_path):
    Validator.objects.filter(name="MEA").update(active=True)
    head = ChainHead.objects.get()
    selectors.head_validators_cache.forget()
    as_egat = selectors.peer_urls_at(head.block_hash, head.state_root, EGAT)

    settings.GTX_NODE_KEY_FILE = str(tmp_path / "mea_key")
    node_key_write(demo_key("MEA"))
    node_signing_key.cache_clear()
    as_mea = selectors.peer_urls_at(head.block_hash, head.state_root, MEA)

    mea_url, egat_url = (Validator.objects.get(name=name).url.rstrip("/") for name in ("MEA", "EGAT"))
    assert mea_url in as_egat and egat_url not in as_egat
    assert egat_url in as_mea and mea_url not in as_mea

    settings.GTX_PEER_URLS = {"MEA": "http://127.0.0.1:9/"}  # a site behind another host name
    selectors.head_validators_cache.forget()
    assert selectors.peer_urls_at(head.block_hash, head.state_root, EGAT) == ["http://127.0.0.1:9"]
    selectors.head_validators_cache.forget()
    node_signing_key.cache_clear()


def test_an_execution_is_reused_only_on_the_head_it_ran_on(chain, node_key):
    executed = ExecutedBlocks()
    head = ChainHead.objects.get()
    built = block_build(node_key, head, 0, empty_ok=True)
    executed.put(built)

    assert executed.get(head.block_hash, built.header.hash) is built
    assert executed.get("ff" * 32, built.header.hash) is None
    assert executed.get(head.block_hash, built.header.hash) is None, "another head came: dropped"


def test_a_peers_seen_time_is_written_once_a_second_per_peer(monkeypatch):
    writes = []
    monkeypatch.setattr(cache, "set", lambda key, value, timeout: writes.append(key))
    seen = PeerSeenWrites()

    for url in ("http://a", "http://a", "http://b"):
        seen.seen(url)

    assert writes == ["peer-seen:http://a", "peer-seen:http://b"]
