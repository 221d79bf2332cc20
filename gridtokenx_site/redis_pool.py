"""One Redis connection pool per process for Django's cache.

Django makes a cache object, and so a connection pool, per thread, and under
daphne each request runs in a thread of its own: every request opened a new
connection to Redis (and read the redis package's metadata to name itself).
"""

import threading

import redis


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
