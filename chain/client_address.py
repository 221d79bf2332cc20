"""Who the client is: its address behind the site's trusted proxies (GTX_NUM_PROXIES).

Throttles of logins and signups (chain.forms) and WebSocket connection limits
(chain.consumers) take the client's address by the same rule as DRF's throttles.
"""

from django.conf import settings


def client_ip(request) -> str:
    """The client's address, as DRF's throttles take it.

    REMOTE_ADDR, or behind NUM_PROXIES trusted proxies (GTX_NUM_PROXIES) the address the
    outermost of them saw in X-Forwarded-For: a client can prepend addresses, not append.
    """
    if request is None:
        return ""
    meta = request.META
    return address_behind_proxies(meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR", ""))


def address_behind_proxies(remote: str, forwarded_for: str) -> str:
    """The client's address from the connection's and X-Forwarded-For (client_ip's rule)."""
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = [a.strip() for a in forwarded_for.split(",") if a.strip()]
    if num_proxies and forwarded:
        return forwarded[-min(num_proxies, len(forwarded))]
    return remote
