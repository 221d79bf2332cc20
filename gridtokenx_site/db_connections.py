"""Pooled database connections go back to the pool in the thread that used them.

Django gives a request's connection back on ``request_finished``, which its ASGI handler
sends after the response. When a client leaves before the answer (a timeout) and the view
runs past daphne's application close timeout, daphne cancels the handler: the signal is
never sent, while the view's thread runs on to its end and keeps its pooled connection for
good. Four such requests took every connection of a site's pool (DB_POOL_MAX_SIZE); from
then on each request waited 30 s for one and failed (seen with the hostile sweep's parallel
clients and with the fault run's clients, whose timeouts are 2 and 5 s).

This middleware is the innermost one and sync only, so Django runs it in the view's thread:
whatever happens to the handler, the connections that thread opened are closed (returned to
the pool) when the view returns. Not inside an atomic block (a test's transaction), and not
without a pool (Celery workers keep theirs).
"""

from django.db import connections


class PooledConnectionsReturned:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            for connection in connections.all(initialized_only=True):
                if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
                    connection.close()
