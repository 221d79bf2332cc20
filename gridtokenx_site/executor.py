"""The event loop's default executor, whose threads give their database connections back after each call.

Django's async handler turns an exception into a response with
``sync_to_async(response_for_exception, thread_sensitive=False)``: the 404 or
403 page is rendered in the loop's default executor, not in the request's
thread. For a logged-in user that rendering loads the session, which opens a
database connection in an executor thread that no ``request_finished`` ever
reaches. The connection stays checked out of the site's pool for as long as the
thread lives; with a pool of four and six executor threads, a few parallel 404s
took every connection, and the site answered 500 (``PoolTimeout``) to everything
until it restarted (docs/SECURITY.md). Any sync code that runs with
``thread_sensitive=False`` has the same trap, so the fix is here, for every
call the executor runs, rather than in the error pages.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections


def _then_release_connections(fn, /, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    finally:
        # What request_finished does at the end of a request: with the pool
        # (CONN_MAX_AGE 0) the connection goes back to it; else it is kept until it expires.
        close_old_connections()


class ConnectionReleasingExecutor(ThreadPoolExecutor):
    """A thread pool whose every call ends as a request does: old connections closed."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(_then_release_connections, fn, *args, **kwargs)


class ReleaseExecutorConnections:
    """ASGI middleware: on a loop's first request, makes its default executor release connections."""

    def __init__(self, app, *, max_workers: int | None = None):
        self.app = app
        self.max_workers = max_workers  # None: ThreadPoolExecutor's default, as asyncio's own
        self._loop = None

    async def __call__(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            loop.set_default_executor(
                ConnectionReleasingExecutor(self.max_workers, thread_name_prefix="asyncio")
            )
            self._loop = loop
        return await self.app(scope, receive, send)
