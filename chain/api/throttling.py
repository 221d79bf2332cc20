"""Rate limits on transaction intake, per client IP, counted in the Redis cache.

Two budgets per IP (docs/API.md, Rate limits): requests, REST_FRAMEWORK
["DEFAULT_THROTTLE_RATES"]["tx_submit"] from GTX_TX_SUBMIT_RATE (default 1200/min),
and the transactions those requests carry, ["tx_submit_items"] from
GTX_TX_SUBMIT_ITEMS_RATE (default 240000/min). A client that batches, as the
benchmarks do for a whole market, needs a few requests a second; the request
budget stops a flood of small ones, the transaction budget a flood of large ones.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from chain.services.rate_limits import window_hit


class TransactionIntakeThrottle(SimpleRateThrottle):
    """Requests per client IP: a fixed-window counter, one INCR per request.

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
        return self.allow_count(request, view, 1)

    def allow_count(self, request, view, amount: int) -> bool:
        """Count ``amount`` against the IP's budget of this window; False once it is spent."""
        if self.rate is None:
            return True
        allowed, self.remaining = window_hit(
            self.get_cache_key(request, view), limit=self.num_requests, seconds=self.duration, amount=amount
        )
        return allowed

    def wait(self):
        return self.remaining


class TransactionCountThrottle(TransactionIntakeThrottle):
    """Transactions per client IP: the view counts a batch's size once it has read the body."""

    scope = "tx_submit_items"
