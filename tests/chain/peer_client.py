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
import time
from dataclasses import dataclass
from unittest import mock
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from channels.routing import URLRouter

from chain.consensus.peer_auth import request_headers
from chain.consumers import PeerEndpoint
from chain.ledger.genesis import demo_key
from chain.models import ChainHead
from chain.routing import peer_http_urlpatterns

PEER_ROUTES = URLRouter(peer_http_urlpatterns)
HOST = [(b"host", b"127.0.0.1")]
#: Who signs a request by default: EGAT, the one active validator of the tests' solo genesis.
SIGNER = "EGAT"


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


def signature_headers(key, method: str, path: str, body: bytes, chain_id: str | None = None) -> list:
    """The headers a site sends to say ``key`` (its node key) signed this request."""
    chain_id = chain_id or ChainHead.objects.get().chain_id
    signed = request_headers(
        key, method=method, target=path, body=body, chain_id=chain_id, now_ms=time.time_ns() // 1_000_000
    )
    return [(name.encode(), value.encode()) for name, value in signed.items()]


def peer_request(
    method: str, path: str, body: bytes = b"", headers=HOST, *, signer=SIGNER, client: str = "127.0.0.1"
) -> PeerAnswer:
    """One request as a peer sends it, signed by ``signer`` (a demo validator's name, a
    signing key, or None for an unsigned request)."""
    url = urlsplit(path)
    if signer is not None:
        key = demo_key(signer) if isinstance(signer, str) else signer
        headers = [*headers, *signature_headers(key, method, path, body)]
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": url.path,
        "query_string": url.query.encode(),
        "headers": headers,
        "client": [client, 50000],
    }
    with (
        mock.patch("channels.db.close_old_connections"),
        mock.patch.object(PeerEndpoint, "thread_sensitive", True),  # the test's thread
    ):
        start, *chunks = async_to_sync(_call)(scope, body)
    return PeerAnswer(start["status"], dict(start["headers"]), b"".join(c["body"] for c in chunks))


def peer_post(path: str, data, *, signer=SIGNER) -> PeerAnswer:
    return peer_request(
        "POST",
        path,
        json.dumps(data).encode(),
        [*HOST, (b"content-type", b"application/json")],
        signer=signer,
    )
