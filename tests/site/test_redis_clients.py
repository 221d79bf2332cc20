"""Django's cache and Celery's broker reuse one Redis client per pool (gridtokenx_site.redis_pool).

Both libraries build a new ``redis.Redis`` for every command by default, which costs
more CPU than the command's round trip. These tests hold the reuse to what makes it
safe: the same client across calls and threads, every command still reaching the
real Redis, and a new client when kombu replaces its pool.
"""

import threading
import uuid

from django.conf import settings
from django.core.cache import cache, caches
from kombu import Connection

from gridtokenx_site.celery import app
from gridtokenx_site.redis_pool import BrokerTransport


def _client_in_new_thread():
    found = {}

    def read():
        # Each thread gets its own cache object from Django; the client is still the pool's one.
        found["client"] = caches["default"]._cache.get_client(write=True)
        caches["default"].set(key, "from a thread", 30)

    key = f"redis-clients-{uuid.uuid4().hex}"
    thread = threading.Thread(target=read)
    thread.start()
    thread.join(10)
    return found["client"], key


def test_cache_calls_share_one_client_across_threads_and_reach_redis():
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client() is client

    other, key = _client_in_new_thread()

    assert other is client
    try:
        assert cache.get(key) == "from a thread"
        assert cache.add(key, "again", 30) is False  # the value written in the thread is there
    finally:
        cache.delete(key)
    assert cache.get(key) is None


def test_celery_uses_the_reusing_transport_for_a_redis_broker():
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, BrokerTransport)


def test_broker_channel_keeps_its_client_and_messages_go_through():
    queue_name = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-redis-clients-{uuid.uuid4().hex[:8]}"
    with Connection(settings.CELERY_BROKER_URL, transport=BrokerTransport) as connection:
        queue = connection.SimpleQueue(queue_name)
        try:
            channel = queue.channel
            client = channel._create_client()
            for n in range(3):
                queue.put({"n": n})
            assert channel._create_client() is client
            received = []
            for _ in range(3):
                message = queue.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
            assert received == [0, 1, 2]
            assert channel._create_client() is client

            # kombu drops its pools when the connection closes; a client of the old pool is not reused.
            channel._pool = None
            renewed = channel._create_client()
            assert renewed is not client
            assert renewed.connection_pool is channel.pool
            queue.put({"n": 3})
            assert queue.get(timeout=5).payload == {"n": 3}
        finally:
            queue.queue.delete()
            queue.close()
