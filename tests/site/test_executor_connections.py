"""Sync code that Django runs outside a request's thread gives its database connection back.

Django renders a view's 404 or 403 with sync_to_async(thread_sensitive=False), in the
event loop's default executor; the page's session lookup opened a connection there that
nothing returned to the pool (gridtokenx_site/executor.py). The live half of this is
the hostile sweep, whose parts run side by side.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from gridtokenx_site.executor import ReleaseExecutorConnections

pytestmark = pytest.mark.django_db(transaction=True)


def _query() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _holds_a_connection() -> bool:
    return connection.connection is not None


def _close() -> None:
    connection.close()


async def _after_a_query_in_the_default_executor(install) -> bool:
    """Whether the default executor's one thread still holds a connection after a query ran in it."""
    loop = asyncio.get_running_loop()
    await install(loop)
    await sync_to_async(_query, thread_sensitive=False)()
    held = await loop.run_in_executor(None, _holds_a_connection)
    await loop.run_in_executor(None, _close)  # the plain executor's, for the test database's sake
    return held


def test_the_site_default_executor_returns_the_connection_after_each_call():
    async def through_the_middleware(loop):
        async def app(scope, receive, send):
            return None

        # One thread, so the thread asked afterwards is the query's.
        await ReleaseExecutorConnections(app, max_workers=1)({"type": "http"}, None, None)

    assert asyncio.run(_after_a_query_in_the_default_executor(through_the_middleware)) is False


def test_a_plain_default_executor_keeps_it():
    """The fault the site's executor removes: the thread keeps its connection after the call."""

    async def plain(loop):
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))

    assert asyncio.run(_after_a_query_in_the_default_executor(plain)) is True
