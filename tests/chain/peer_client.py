"""Requests to this site's peer protocol in-process: the ASGI routes daphne serves, no server.

Not channels.testing.HttpCommunicator: it runs the application in an empty
context, so the endpoint's database work would run on another thread and
connection, outside the test's transaction. Called through async_to_sync, and
thread-sensitive, it runs on the test's own thread and connection; and, as Django's test client
does for its requests, it keeps the connection open that Channels would
close around the work (the test's transaction is on it).
"""

import asyncio
import json
from dataclasses import dataclass
from unittest import mock
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from channels.routing import URLRouter

from chain.consumers import PeerEndpoint
from chain.routing import peer_http_urlpatterns

PEER_ROUTES = URLRouter(peer_http_urlpatterns)
HOST = [(b"host", b"127.0.0.1")]


@dataclass
class PeerAnswer:
    status_code: int
    headers: dict[bytes, bytes]
    body: bytes

    def json(self):
        return json.loads(self.body)


async def _call(scope: dict, body: bytes) -> list[dict]:
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        if incoming:
            return incoming.pop()
        await asyncio.Event().wait()  # the client stays connected until the answer

    async def send(message):
        sent.append(message)

    await PEER_ROUTES(scope, receive, send)
    return sent


def peer_request(method: str, path: str, body: bytes = b"", headers=HOST) -> PeerAnswer:
    url = urlsplit(path)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": url.path,
        "query_string": url.query.encode(),
        "headers": headers,
    }
    with (
        mock.patch("channels.db.close_old_connections"),
        mock.patch.object(PeerEndpoint, "thread_sensitive", True),  # the test's thread
    ):
        start, *chunks = async_to_sync(_call)(scope, body)
    return PeerAnswer(start["status"], dict(start["headers"]), b"".join(c["body"] for c in chunks))


def peer_post(path: str, data) -> PeerAnswer:
    return peer_request(
        "POST", path, json.dumps(data).encode(), [*HOST, (b"content-type", b"application/json")]
    )
