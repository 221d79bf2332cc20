"""Tests never touch another process's Redis state: their own namespace, and no flush anywhere."""

import asyncio
import re
from pathlib import Path

import pytest
import redis
import redis.asyncio
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache, caches

from gridtokenx_site.celery import app as celery_app
from tests.conftest import SESSION_REDIS_TAG
from tests.redis_guard import SharedRedisFlush

TESTS = Path(__file__).resolve().parent
#: The guard and these tests name the flushes they forbid.
EXEMPT = {TESTS / "redis_guard.py", Path(__file__).resolve()}
#: Calls that empty a Redis database (or a whole server) that other processes use.
FLUSHES = re.compile(
    r"\bcaches?(\[[^\]]*\])?\.clear\s*\("  # Django's cache.clear() is flushdb
    r"|\.flush(db|all)\s*\("  # redis-py
    r"|['\"]flush(db|all)['\"]",  # execute_command("FLUSHDB")
    re.IGNORECASE,
)


def test_no_test_code_flushes_redis():
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path not in EXEMPT
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if FLUSHES.search(line)
    ]
    assert offenders == []


def test_the_grep_finds_every_spelling_of_a_flush():
    spellings = [
        "cache.clear()",
        'caches["default"].clear()',
        "client.flushdb()",
        "r.flushall(asynchronous=True)",
        'client.execute_command("FLUSHDB")',
    ]
    assert all(FLUSHES.search(s) for s in spellings)
    assert not FLUSHES.search("node_signing_key.cache_clear()")


def test_clearing_the_cache_is_refused():
    cache.set("redis-guard-canary", 1, 30)
    with pytest.raises(SharedRedisFlush):
        cache.clear()
    with pytest.raises(SharedRedisFlush):
        caches["default"].clear()
    assert cache.get("redis-guard-canary") == 1
    cache.delete("redis-guard-canary")


def test_flushing_through_redis_py_is_refused():
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        for flush in (client.flushdb, client.flushall, client.pipeline().flushdb):
            with pytest.raises(SharedRedisFlush):
                flush()
    finally:
        client.close()


def test_flushing_through_asyncio_redis_is_refused():
    async def flush_both():
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        try:
            for flush in (client.flushdb, client.flushall):
                with pytest.raises(SharedRedisFlush):
                    await flush()
        finally:
            await client.aclose()

    asyncio.run(flush_both())


def test_the_session_has_its_own_cache_channel_and_queue_names():
    tag = SESSION_REDIS_TAG
    assert re.fullmatch(r"gtx-test-[0-9a-f]{10}", tag)
    assert cache.make_key("anything").startswith(f"{tag}:")
    assert get_channel_layer().prefix == tag
    assert celery_app.conf.task_default_queue == tag
    route = celery_app.amqp.router.route({}, "chain.consensus_step")
    assert route["queue"].name == tag + settings.GTX_CONSENSUS_QUEUE_SUFFIX
    assert celery_app.amqp.router.route({}, "chain.vacuum_churning")["queue"].name == tag
