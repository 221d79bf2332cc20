"""Redis clients for Django's cache and Celery's broker: one pool and one client per process.

Django makes a cache object, and so a connection pool, per thread, and under
daphne each request runs in a thread of its own: every request opened a new
connection to Redis (and read the redis package's metadata to name itself).

Django's cache and kombu's Redis transport also build a new ``redis.Redis`` for every
command they send (each cache call; each task published, acknowledged or restored).
In redis-py 8 building one costs about 120 µs of CPU, more than the round trip it
wraps (about 85 µs for a GET here): 6 to 7 % of a quiet height's CPU in every daphne
and consensus worker. A client over a pool is safe to share between threads (each
command takes a connection from the pool), so each pool keeps one.
"""

import threading

import redis
from django.core.cache.backends import redis as django_redis
from kombu.transport import redis as kombu_redis


class SharedConnectionPool(redis.ConnectionPool):
    """``from_url`` hands every thread the same pool for the same URL and options."""

    _pools: dict[str, "SharedConnectionPool"] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "SharedConnectionPool":
        key = url + repr(sorted(kwargs.items()))
        with cls._lock:
            if key not in cls._pools:
                cls._pools[key] = super().from_url(url, **kwargs)
            return cls._pools[key]


class _SharedClientCacheClient(django_redis.RedisCacheClient):
    """Django's cache client, with one ``redis.Redis`` per (shared) pool instead of one per call."""

    _clients: dict[redis.ConnectionPool, redis.Redis] = {}

    def get_client(self, key=None, *, write=False) -> redis.Redis:
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class RedisCache(django_redis.RedisCache):
    """Django's Redis cache backend over ``_SharedClientCacheClient``."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _SharedClientCacheClient


class _BrokerChannel(kombu_redis.Channel):
    """kombu's Redis channel, keeping its synchronous client for as long as it keeps its pool."""

    _sync_client: redis.Redis | None = None

    def _create_client(self, asynchronous: bool = False) -> redis.Redis:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._sync_client
        if client is None or client.connection_pool is not self.pool:
            client = self._sync_client = super()._create_client()
        return client


class BrokerTransport(kombu_redis.Transport):
    """Celery's broker transport for a ``redis://`` broker (``CELERY_BROKER_TRANSPORT``)."""

    Channel = _BrokerChannel
