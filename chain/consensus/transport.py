"""Talking to peer sites over HTTP: consensus messages, gossiped transactions, blocks for syncing.

Every request is signed with this site's node key (chain.consensus.peer_auth).
Every call is bounded by a short timeout and never raises: a peer that is
down or cut off is simply not reached this time (consensus resends when it
stalls, and a site that was away syncs when it is back).
"""

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
from django.core.cache import cache

from chain import clock
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


def gossip_origin_active(envelope: dict, validators: frozenset[str] | set[str]) -> bool:
    """Whether the envelope names an active validator as its origin: checked before any signature."""
    origin = envelope.get("origin")
    return type(origin) is str and origin in validators


def gossip_valid(envelope: dict, chain_id: str, tx_hashes: list[str]) -> bool:
    """Whether the origin signed these transactions' hashes (one ed25519 verify)."""
    origin, signature = envelope.get("origin"), envelope.get("signature")
    if type(origin) is not str or type(signature) is not str:
        return False
    return verify(origin, gossip_bytes(chain_id, tx_hashes), signature)


_clients: dict[int, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client() -> httpx.Client:
    """This process's HTTP client: kept-alive connections to the peers, one TLS context.

    A new client per call would build a TLS context each time (it was half of a
    site's CPU under load) and open a new connection. Keyed by process id:
    Celery's worker processes are forked and must not share a parent's sockets.
    """
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        with _clients_lock:
            client = _clients.get(pid)
            if client is None:
                limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
                client = _clients[pid] = httpx.Client(timeout=TIMEOUT, limits=limits)
    return client


def _signed_headers(method: str, target: str, content: bytes, chain_id: str) -> dict[str, str]:
    """This site's signature over one request (chain.consensus.peer_auth): peers serve no other."""
    from chain.node import node_signing_key

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
            code = _client().post(url + path, content=content, headers=headers).status_code
        except httpx.HTTPError as exc:
            log.debug("peer %s unreachable: %s", url, exc)
            return None
        _seen(url)
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
        response = _client().post(url + path, content=content, headers=headers)
    except httpx.HTTPError:
        return None
    _seen(url)
    return _answer(response)


def get_json(url: str, path: str, params: dict | None = None) -> dict | None:
    """GET from one peer, signed as every request (a site may refuse unsigned reads)."""
    target = f"{path}?{urlencode(params)}" if params else path
    headers = _signed_headers("GET", target, b"", _own_chain_id())
    try:
        response = _client().get(url + target, headers=headers, timeout=httpx.Timeout(10.0, connect=0.5))
    except httpx.HTTPError:
        return None
    _seen(url)
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


#: This process's last write of each peer's "seen" time: one write a second is plenty for PEER_UP_S.
_seen_written: dict[str, float] = {}


def _seen(url: str) -> None:
    now = time.time()
    if now - _seen_written.get(url, 0.0) >= 1.0:
        _seen_written[url] = now
        cache.set(f"peer-seen:{url}", now, PEER_UP_S * 4)


def peers_up(urls: list[str]) -> int:
    """How many of ``urls`` answered us lately (any request this site made to them)."""
    seen = cache.get_many([f"peer-seen:{url}" for url in urls])
    now = time.time()
    return sum(1 for t in seen.values() if now - t <= PEER_UP_S)
