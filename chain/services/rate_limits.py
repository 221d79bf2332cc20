"""Counters in the Redis cache: login and sign-up limits, the API intake throttle, the browser write limit.

One counting step for all three, so each is an atomic INCR on a key that expires by
itself, and sites sharing one Redis keep their counts apart by the cache KEY_PREFIX.
"""

import time

from django.conf import settings
from django.core.cache import cache

#: Seconds in each period a rate may be given in ("60/min", "5/s", "1000/hour", "1/day").
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
PERIOD_WORDS = {1: "a second", 60: "a minute", 3600: "an hour", 86400: "a day"}
BROWSER_WRITE_REFUSED = "Too many {what} in {period}; wait {wait}."


def counter_incr(key: str, *, timeout: int, amount: int = 1) -> int:
    """Add ``amount`` to the counter at ``key`` and return it; a new counter lives ``timeout`` seconds."""
    # add() is atomic: two concurrent first hits cannot both start the counter.
    if cache.add(key, amount, timeout):
        return amount
    try:
        return cache.incr(key, amount)
    except ValueError:  # expired between add() and incr()
        cache.set(key, amount, timeout)
        return amount


def rate_parse(rate: str) -> tuple[int, int]:
    """``"60/min"`` as (60 requests, 60 seconds), the way DRF's throttle rates are written."""
    count, period = rate.split("/")
    return int(count), PERIOD_SECONDS[period.strip()[0].lower()]


def window_hit(key: str, *, limit: int, seconds: int, amount: int = 1) -> tuple[bool, int]:
    """Count ``amount`` (one request, or the transactions it carries) in the current fixed window.

    Returns whether the window's count is within ``limit`` and the seconds until the window
    ends. A fixed window is one INCR per request, where a sliding log would keep every time.
    """
    now = int(time.time())
    window = now - now % seconds
    count = counter_incr(f"{key}:{window}", timeout=seconds + 1, amount=amount)
    return count <= limit, window + seconds - now


def window_count(key: str, *, seconds: int) -> tuple[int, int]:
    """What window_hit has counted in the current window of ``key``, and the seconds it has left."""
    now = int(time.time())
    window = now - now % seconds
    return cache.get(f"{key}:{window}", 0), window + seconds - now


class BrowserWriteLimited(Exception):
    """A person signed more transactions in the browser than GTX_BROWSER_WRITE_RATE allows."""

    def __init__(self, *, what: str, period_seconds: int, wait_seconds: int):
        wait = f"{wait_seconds} second{'' if wait_seconds == 1 else 's'}"
        period = PERIOD_WORDS.get(period_seconds, f"{period_seconds} seconds")
        self.wait_seconds = wait_seconds
        self.message = BROWSER_WRITE_REFUSED.format(what=what, period=period, wait=wait)
        super().__init__(self.message)


def browser_write_admit(*, user_id: int, what: str) -> None:
    """Count one order, cancel, transfer or bond signed in the browser by the user.

    One budget for all of them per user, at GTX_BROWSER_WRITE_RATE. Raises
    BrowserWriteLimited, naming ``what`` ("orders", "transactions"), when it is spent;
    the caller then submits nothing.
    """
    limit, seconds = rate_parse(settings.GTX_BROWSER_WRITE_RATE)
    allowed, wait_seconds = window_hit(f"browser-writes:{user_id}", limit=limit, seconds=seconds)
    if not allowed:
        raise BrowserWriteLimited(what=what, period_seconds=seconds, wait_seconds=wait_seconds)
