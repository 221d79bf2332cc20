"""The chain's consumers: its WebSocket stream and the peer protocol's HTTP endpoints.

The stream (docs/PROTOCOL.md): every client gets ``block`` messages. A
logged-in user also gets ``wallet`` when a block touched their account, so
the wallet page refreshes at once.
"""

import json
import logging
from collections.abc import Callable

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http.request import split_domain_port, validate_host

from chain.events import CHAIN_GROUP
from chain.models import ChainTx
from chain.peer_api import Reply, error, peer_request_answer

log = logging.getLogger(__name__)


class ChainGroupConsumer(AsyncJsonWebsocketConsumer):
    """A stream fed by the ``chain.block`` broadcast of every committed block (chain.events).

    Clients may ping to keep an idle connection open through proxies.
    """

    async def disconnect(self, code):
        await self.channel_layer.group_discard(CHAIN_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})


class ChainStreamConsumer(ChainGroupConsumer):
    async def connect(self):
        self.address = await self._user_address()
        await self.channel_layer.group_add(CHAIN_GROUP, self.channel_name)
        await self.accept()

    async def chain_block(self, message):
        await self.send_json(
            {
                "type": "block",
                "height": message["height"],
                "hash": message["hash"],
                "tx_count": message["tx_count"],
                "timestamp_ms": message["timestamp_ms"],
                "events": message["events"],
            }
        )
        if self.address and await self._touched(message):
            await self.send_json({"type": "wallet", "address": self.address, "height": message["height"]})

    async def _touched(self, message) -> bool:
        if message["parties"] is not None:
            return self.address in message["parties"]
        return await database_sync_to_async(
            ChainTx.objects.filter(block_id=message["height"], parties__contains=[self.address]).exists
        )()

    @database_sync_to_async
    def _user_address(self) -> str | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None
        wallet = getattr(user, "wallet", None)
        return wallet.address if wallet else None


class PeerEndpoint(AsyncHttpConsumer):
    """One route of the peer protocol (chain.peer_api): a signed request in, a status and JSON out.

    Served here rather than by a Django view: a peer request needs no session,
    CSRF token, messages or templates, and Django's middleware chain, with its
    hops between the event loop and threads, cost about 4 ms of daphne's CPU
    a request against under 2 ms here. As Django would, it checks the Host
    header against ALLOWED_HOSTS, and the body against DATA_UPLOAD_MAX_MEMORY_SIZE
    while it arrives. chain.peer_api then checks the request's signature before
    it decodes the body.
    """

    #: No channel layer: a request neither joins groups nor listens (each would open a Redis channel).
    channel_layer_alias = None
    #: Requests run side by side on the event loop's pool of threads, each thread with its
    #: own database connection; not on a new thread each, as Django starts for every view:
    #: starting it was a quarter of a small request's CPU.
    thread_sensitive = False

    def __init__(self, *, method: str, handler: Callable[..., Reply]):
        super().__init__()
        self.method, self.handler = method, handler
        self.received = 0

    async def http_request(self, message):
        self.received += len(message.get("body", b""))
        if self.received > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            await self._reply(*error("too_large", f"The body is over {limit} bytes.", 413))
            raise StopConsumer()
        await super().http_request(message)

    async def handle(self, body: bytes) -> None:
        try:
            status, payload = await self._answer(body)
        except Exception:
            log.exception("Peer request %s %s failed", self.scope["method"], self.scope["path"])
            status, payload = error("server_error", "The site could not answer.", 500)
        await self._reply(status, payload)

    async def _answer(self, body: bytes) -> Reply:
        if self.scope["method"] != self.method:
            return error("method_not_allowed", f"Use {self.method}.", 405)
        if not _host_allowed(self.scope):
            return error("bad_host", "The Host header names no host this site serves.")
        query = self.scope.get("query_string", b"").decode("latin-1")
        client = self.scope.get("client") or ("", 0)
        return await database_sync_to_async(peer_request_answer, thread_sensitive=self.thread_sensitive)(
            self.handler,
            method=self.method,
            target=f"{self.scope['path']}?{query}" if query else self.scope["path"],
            headers=dict(self.scope.get("headers", [])),
            body=body,
            client=str(client[0]),
        )

    async def _reply(self, status: int, payload: dict) -> None:
        headers = [(b"content-type", b"application/json")]
        if status == 405:
            headers.append((b"allow", self.method.encode()))
        body = json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
        await self.send_response(status, body, headers=headers)


def _host_allowed(scope: dict) -> bool:
    host = dict(scope.get("headers", [])).get(b"host")
    if host is None:
        return True  # HTTP/1.0 without a Host header: nothing to check
    domain, _port = split_domain_port(host.decode("latin-1"))
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)
