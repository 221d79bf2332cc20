"""Talking to peer sites over HTTP: consensus messages, gossiped transactions, blocks for syncing.

Every request is signed with this site's node key (chain.consensus.peer_auth).
Every call is bounded by a short timeout and never raises: a peer that is
down or cut off is simply not reached this time (consensus resends when it
stalls, and a site that was away syncs when it is back).
"""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import urlencode

import httpx
from django.core.cache import cache

from chain import clock
from chain.caches import PerProcess
from chain.consensus.peer_auth import request_headers
from chain.ledger.encoding import canonical_json
from chain.ledger.errors import LedgerError
from chain.ledger.keys import sign, verify
from chain.ledger.wire import json_decode

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(2.0, connect=0.5)
GOSSIP_DOMAIN = b"GRIDTOKENX/GOSSIP/V1\n"
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gtx-peer")
#: One sender thread: a site's messages leave in the order it saved them.
_sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gtx-peer-send")


def gossip_bytes(chain_id: str, tx_hashes: list[str]) -> bytes:
    return GOSSIP_DOMAIN + canonical_json({"chain_id": chain_id, "transactions": tx_hashes})


def gossip_envelope(key, chain_id: str, wires: list[dict], tx_hashes: list[str]) -> dict:
    """Transactions from this site's intake, signed by its node key as their origin."""
    origin = key.verify_key.encode().hex()
    return {
        "chain_id": chain_id,
        "origin": origin,
        "transactions": wires,
        "signature": sign(key, gossip_bytes(chain_id, tx_hashes)),
    }


def gossip_valid(envelope: dict, chain_id: str, tx_hashes: list[str]) -> bool:
    """Whether the origin signed these transactions' hashes (one ed25519 verify)."""
    origin, signature = envelope.get("origin"), envelope.get("signature")
    if type(origin) is not str or type(signature) is not str:
        return False
    return verify(origin, gossip_bytes(chain_id, tx_hashes), signature)


def _client_make() -> httpx.Client:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
    return httpx.Client(timeout=TIMEOUT, limits=limits)


#: This process's HTTP client: kept-alive connections to the peers, one TLS context. A new
#: client per call would build a TLS context each time (it was half of a site's CPU under
#: load) and open a new connection.
http_clients: PerProcess[httpx.Client] = PerProcess(_client_make)


class PeerIOForbidden(RuntimeError):
    """A peer request was made where none may be: under the consensus lock, say."""


#: Why peer requests are forbidden here, or None while they are allowed (peer_io_forbidden).
_peer_io_forbidden: ContextVar[str | None] = ContextVar("peer_io_forbidden", default=None)


@contextmanager
def peer_io_forbidden(reason: str):
    """No peer request inside the block: one would raise PeerIOForbidden naming ``reason``.

    The consensus step holds its lock in one: a peer that is slow to answer must
    not hold up every other step, block write and sync of this site.
    """
    token = _peer_io_forbidden.set(reason)
    try:
        yield
    finally:
        _peer_io_forbidden.reset(token)


def _signed_headers(method: str, target: str, content: bytes, chain_id: str) -> dict[str, str]:
    """This site's signature over one request (chain.consensus.peer_auth): peers serve no other.

    Every request is signed in its caller's thread first: that is where peer I/O is refused.
    """
    from chain.node import node_signing_key

    forbidden = _peer_io_forbidden.get()
    if forbidden is not None:
        raise PeerIOForbidden(f"No peer request {forbidden}: {method} {target}")

    return request_headers(
        node_signing_key(),
        method=method,
        target=target,
        body=content,
        chain_id=chain_id,
        now_ms=clock.now_ms(),
    )


def _own_chain_id() -> str:
    from chain.models import ChainHead

    return ChainHead.objects.only("chain_id").get().chain_id


def post_to_all(urls: list[str], path: str, body: dict) -> dict[str, int | None]:
    """POST ``body`` (which names its ``chain_id``) to every peer at once; their status codes
    (None when unreachable). Encoded and signed once for every peer: the signature covers
    the method, path, body and chain id, not the peer's address."""
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = {"content-type": "application/json", **_signed_headers("POST", path, content, body["chain_id"])}

    def post(url: str) -> int | None:
        try:
            code = http_clients.get().post(url + path, content=content, headers=headers).status_code
        except httpx.HTTPError as exc:
            log.debug("peer %s unreachable: %s", url, exc)
            return None
        peer_seen_writes.seen(url)
        return code

    return dict(zip(urls, _pool.map(post, urls), strict=True))


def post_to_all_later(urls: list[str], path: str, body: dict) -> None:
    """``post_to_all`` in the background: the caller (a consensus step) does not wait for peers."""
    _sender.submit(post_to_all, urls, path, body)


def post_json(url: str, path: str, body: dict) -> dict | None:
    """POST (``body`` names its ``chain_id``) to one peer and wait for its JSON answer; None
    when it is down or says no."""
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = {"content-type": "application/json", **_signed_headers("POST", path, content, body["chain_id"])}
    try:
        response = http_clients.get().post(url + path, content=content, headers=headers)
    except httpx.HTTPError:
        return None
    peer_seen_writes.seen(url)
    return _answer(response)


def get_json(url: str, path: str, params: dict | None = None) -> dict | None:
    """GET from one peer, signed as every request (a site may refuse unsigned reads)."""
    target = f"{path}?{urlencode(params)}" if params else path
    headers = _signed_headers("GET", target, b"", _own_chain_id())
    try:
        timeout = httpx.Timeout(10.0, connect=0.5)
        response = http_clients.get().get(url + target, headers=headers, timeout=timeout)
    except httpx.HTTPError:
        return None
    peer_seen_writes.seen(url)
    return _answer(response)


def _answer(response: httpx.Response) -> dict | None:
    """A peer's 200 answer as a JSON object (the strict decoder: a peer's reply crosses into
    this node too); None for any other status or a body that is not one."""
    if response.status_code != 200:
        return None
    try:
        answer = json_decode(response.content)
    except LedgerError:
        return None
    return answer if isinstance(answer, dict) else None


#: A peer that answered within this many seconds counts as up.
PEER_UP_S = 15


class PeerSeenWrites:
    """When this process last wrote each peer's "seen" time, keyed by peer url.

    An answer within the last second is already written: one cache write a second
    per peer is plenty for PEER_UP_S, and a busy site gets hundreds of answers a second.
    """

    def __init__(self) -> None:
        self._written_at: dict[str, float] = {}

    def seen(self, url: str) -> None:
        now = time.time()
        if now - self._written_at.get(url, 0.0) >= 1.0:
            self._written_at[url] = now
            cache.set(f"peer-seen:{url}", now, PEER_UP_S * 4)


peer_seen_writes = PeerSeenWrites()


def peers_up(urls: list[str]) -> int:
    """How many of ``urls`` answered us lately (any request this site made to them)."""
    seen = cache.get_many([f"peer-seen:{url}" for url in urls])
    now = time.time()
    return sum(1 for t in seen.values() if now - t <= PEER_UP_S)


#: The validators' head as a follower last heard it (a pushed block or a peer's status).
VALIDATORS_HEAD = "follow-validators-head"


def validators_head_heard(height: int, timestamp_ms: int) -> None:
    """Note a validator's head (height, block timestamp) when it is the highest heard yet."""
    known = cache.get(VALIDATORS_HEAD)
    if known is None or height >= known["height"]:
        now_ms = clock.now_ms()
        cache.set(VALIDATORS_HEAD, {"height": height, "timestamp_ms": timestamp_ms, "heard_ms": now_ms}, None)


def validators_head() -> dict | None:
    """{height, timestamp_ms, heard_ms} of the highest validator head heard, or None."""
    return cache.get(VALIDATORS_HEAD)
