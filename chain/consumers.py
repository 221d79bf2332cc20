"""The chain's consumers: its WebSocket stream and the peer protocol's HTTP endpoints.

The stream (docs/PROTOCOL.md): every client gets ``block`` messages. A
logged-in user also gets ``wallet`` when a block touched their account or a
transaction of theirs was dropped, so their pages refresh at once. ``ChainGroupConsumer`` is the base of every
stream (the market's and the grid's too): it answers pings and refuses whatever
else a client sends; ``UnknownStreamConsumer`` answers a path with no stream.
"""

import json
import logging
from collections import Counter
from collections.abc import Callable

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http.request import split_domain_port, validate_host

from chain.client_address import address_behind_proxies
from chain.events import CHAIN_GROUP, wallet_group
from chain.ledger.errors import LedgerError
from chain.ledger.wire import json_decode
from chain.models import ChainTx
from chain.peer_api import Reply, error, peer_request_answer

log = logging.getLogger(__name__)


#: Clients send only ``{"type": "ping"}``; a frame longer than this (in characters or
#: bytes) is not one, and the stream closes with CLOSE_TOO_BIG.
MAX_CLIENT_FRAME = 4096
#: WebSocket close codes (docs/PROTOCOL.md, "Streams"), in the range an application may send
#: (daphne refuses 1009, the standard "message too big"): 4413 a frame over MAX_CLIENT_FRAME,
#: 4404 no stream at this path, as 4400 is a bad stream query. Like the HTTP statuses.
CLOSE_TOO_BIG = 4413
CLOSE_NOT_FOUND = 4404
#: More streams open from the client's address than GTX_STREAMS_PER_CLIENT allows.
CLOSE_TOO_MANY = 4429
TOO_MANY_STREAMS = "too_many_streams"
BAD_MESSAGE = "bad_message"
BINARY_FRAME = "binary_frame"


def _printable(path: str) -> str:
    """A client's path for a log line or a message: escaped (no line breaks, no NUL) and cut short."""
    return path.encode("unicode_escape").decode("ascii")[:200]


def stream_error(code: str, message: str) -> dict:
    """An error frame: the stream's equivalent of the REST API's error body."""
    return {"type": "error", "error": {"code": code, "message": message}}


class StreamSlots:
    """Streams open per client address in this daphne process, each site's one process.

    Every open stream holds a socket, a channel-layer channel and a place in the
    block broadcast: without a bound, one client opening thousands would take the
    file descriptors and the broadcast time every other browser needs.
    """

    def __init__(self):
        self.open: Counter[str] = Counter()

    def take(self, client: str, limit: int) -> bool:
        if self.open[client] >= limit:
            return False
        self.open[client] += 1
        return True

    def give_back(self, client: str) -> None:
        self.open[client] -= 1
        if self.open[client] <= 0:
            del self.open[client]


STREAM_SLOTS = StreamSlots()


def stream_client(scope: dict) -> str:
    """The address a stream is counted against: the connection's, or behind trusted proxies
    the one they saw (chain.client_address.client_ip's rule)."""
    remote = (scope.get("client") or ("",))[0] or ""
    forwarded = dict(scope.get("headers", [])).get(b"x-forwarded-for", b"").decode("latin-1")
    return address_behind_proxies(remote, forwarded)


class WithoutConnectionHop:
    """Dispatches each ASGI message straight to its handler.

    Channels' own dispatch first closes the sync thread's old database connections, with a
    hop to that thread and back for every message: each peer request, each block pushed to
    each open stream. Nothing here touches the database but through
    ``database_sync_to_async``, which closes them in the thread that used them, before and
    after; so the hop did nothing, and cost about a sixth of daphne's event-loop time.
    """

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class ChainGroupConsumer(WithoutConnectionHop, AsyncJsonWebsocketConsumer):
    """A stream fed by the ``chain.block`` broadcast of every committed block (chain.events).

    Clients may ping to keep an idle connection open through proxies. Anything
    else a client sends gets an error frame and the stream stays open; a frame
    over MAX_CLIENT_FRAME closes it with CLOSE_TOO_BIG (4413). A client address
    with GTX_STREAMS_PER_CLIENT streams open already gets an error frame and a
    close with CLOSE_TOO_MANY (4429). Never a server error (1011).
    """

    slot: str | None = None

    async def websocket_connect(self, message):
        client = stream_client(self.scope)
        if not STREAM_SLOTS.take(client, settings.GTX_STREAMS_PER_CLIENT):
            log.info("WebSocket %s: %s has too many streams open", _printable(self.scope["path"]), client)
            await self.accept()
            limit = settings.GTX_STREAMS_PER_CLIENT
            await self.send_json(
                stream_error(TOO_MANY_STREAMS, f"At most {limit} streams are open from one address.")
            )
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.slot = client
        await super().websocket_connect(message)

    async def websocket_disconnect(self, message):
        if self.slot is not None:
            STREAM_SLOTS.give_back(self.slot)
            self.slot = None
        await super().websocket_disconnect(message)

    async def disconnect(self, code):
        await self.channel_layer.group_discard(CHAIN_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        frame = text_data if text_data is not None else bytes_data or b""
        if len(frame) > MAX_CLIENT_FRAME:
            log.info("WebSocket %s: closed on a %d-long frame", _printable(self.scope["path"]), len(frame))
            await self.close(code=CLOSE_TOO_BIG)
            return
        if text_data is None:
            await self._refuse(BINARY_FRAME, 'Send text frames of JSON: {"type": "ping"}.')
            return
        try:
            content = json_decode(text_data)
        except LedgerError as exc:
            await self._refuse(exc.code, exc.message)
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self._refuse(BAD_MESSAGE, 'This stream takes {"type": "ping"} only.')

    async def _refuse(self, code: str, message: str) -> None:
        log.info("WebSocket %s: refused a frame: %s", _printable(self.scope["path"]), code)
        await self.send_json(stream_error(code, message))


class UnknownStreamConsumer(WithoutConnectionHop, AsyncWebsocketConsumer):
    """Any WebSocket path that names no stream: accepted only to say so, then closed with 4404.

    Refusing the handshake itself would read as a 403 to the client; a close code says
    what was wrong. It holds no channel-layer channel (nothing is ever sent to it).
    """

    channel_layer_alias = None

    async def connect(self):
        log.info("WebSocket %s: no stream at this path", _printable(self.scope["path"]))
        await self.accept()
        message = (
            f"No stream at {_printable(self.scope['path'])}; streams are ws/chain/, ws/market/, ws/grid/ "
            "and graphql/ (GraphQL subscriptions)."
        )
        await self.send(text_data=json.dumps(stream_error("not_found", message)))
        await self.close(code=CLOSE_NOT_FOUND)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Frames sent before the close arrives are ignored."""


class ChainStreamConsumer(ChainGroupConsumer):
    """Blocks for everyone; ``wallet`` for a logged-in user when a block touched their account
    or a transaction of theirs was dropped (their ``wallet.<address>`` group, chain.events)."""

    async def connect(self):
        self.address = await self._user_address()
        await self.channel_layer.group_add(CHAIN_GROUP, self.channel_name)
        if self.address:
            await self.channel_layer.group_add(wallet_group(self.address), self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await super().disconnect(code)
        if getattr(self, "address", None):
            await self.channel_layer.group_discard(wallet_group(self.address), self.channel_name)

    async def wallet_dropped(self, message):
        await self.send_json({"type": "wallet", "address": self.address, "height": None})

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


class PeerEndpoint(WithoutConnectionHop, AsyncHttpConsumer):
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
