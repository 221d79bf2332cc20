"""Rate limit on transaction intake, per client IP, counted in the Redis cache.

The rate is REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["tx_submit"], from the
GTX_TX_SUBMIT_RATE setting (default 30000/min: far above what the benchmark
sends in batches). It counts requests, not transactions: a batch is one request.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from chain.services.rate_limits import window_hit


class TransactionIntakeThrottle(SimpleRateThrottle):
    """A fixed-window counter: one INCR per request.

    DRF's stock throttles keep every request time of the window in one cached
    list, which at thousands of requests a minute costs more than the request.
    """

    scope = "tx_submit"

    def get_rate(self):
        # Read per request, not once at import, so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        allowed, self.remaining = window_hit(
            self.get_cache_key(request, view), limit=self.num_requests, seconds=self.duration
        )
        return allowed

    def wait(self):
        return self.remaining
