"""A test session keeps to its own keys in the Redis that running sites share.

Every local site, its Celery broker and its channel layer use one Redis server
(each site under its own prefix and queues). A test that clears the cache sends
flushdb, which wipes a running network's queued consensus tasks and WebSocket
groups. So the session gets a namespace of its own, as every live test site
has (localnet.network), and flushing is refused while tests run:

- ``use_session_namespace``: cache KEY_PREFIX, channel-layer prefix and Celery
  queues named ``gtx-test-<random>``, for this process and the manage.py
  commands it starts; ``forget_session_keys`` deletes those keys at the end.
- ``forbid_flushes``: redis-py's flushdb/flushall (sync and asyncio) and Django's
  ``cache.clear()`` raise SharedRedisFlush instead of reaching the server.

tests/test_redis_isolation.py holds both, and greps tests/ for any flush.
"""

import os
import uuid

from django.conf import settings

#: Keys deleted at most, per session: the SCAN is bounded like every loop.
MAX_FORGOTTEN_KEYS = 100_000


class SharedRedisFlush(RuntimeError):
    """A test tried to empty a Redis database other processes use."""


def use_session_namespace() -> str:
    """Name this session's keys and queues ``gtx-test-<random>``; returns that tag.

    Runs at conftest import, before any cache, channel layer or Celery producer is
    opened (pytest-django has read the settings by then, from the environment).
    """
    from channels.layers import channel_layers
    from django.core.cache import caches

    tag = f"gtx-test-{uuid.uuid4().hex[:10]}"
    default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    cache = settings.CACHES["default"]
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CACHES = {**settings.CACHES, "default": {**cache, "KEY_PREFIX": tag}}
    settings.CHANNEL_LAYERS = {
        **settings.CHANNEL_LAYERS,
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "prefix": tag}},
    }
    settings.CELERY_TASK_DEFAULT_QUEUE = tag
    settings.CELERY_TASK_ROUTES = {
        pattern: {**route, "queue": tag + route["queue"].removeprefix(default_queue)}
        for pattern, route in settings.CELERY_TASK_ROUTES.items()
    }
    # manage.py commands the tests start read the same names from the environment.
    os.environ["GTX_CHANNEL_PREFIX"] = os.environ["GTX_CELERY_QUEUE"] = tag
    # Nothing may have opened a connection under the old names.
    caches.__dict__.pop("settings", None)
    channel_layers.backends = {}
    return tag


def forget_session_keys(tag: str) -> int:
    """Delete this session's own keys (cache, channel layer, queues): a bounded SCAN, no flush."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        names = []
        for name in client.scan_iter(match=f"*{tag}*", count=1000):
            names.append(name)
            if len(names) >= MAX_FORGOTTEN_KEYS:
                break
        for start in range(0, len(names), 1000):
            client.delete(*names[start : start + 1000])
        return len(names)
    finally:
        client.close()


def _refuse(*args, **kwargs):
    raise SharedRedisFlush(
        "Tests never flush Redis: other sites, their Celery queues and channel layer share it. "
        "Delete the keys your test wrote (cache.delete, cache.delete_many) instead."
    )


async def _refuse_async(*args, **kwargs):
    _refuse()


def forbid_flushes() -> None:
    """Make every way a test could flush the shared Redis raise SharedRedisFlush."""
    from django.core.cache.backends.redis import RedisCache
    from redis.commands.core import AsyncManagementCommands, ManagementCommands

    for commands, refuse in ((ManagementCommands, _refuse), (AsyncManagementCommands, _refuse_async)):
        commands.flushdb = commands.flushall = refuse
    RedisCache.clear = _refuse
