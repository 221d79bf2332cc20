"""Signed peer requests: which registered node sent a request, checked before its body is read.

A site signs every request it sends a peer with its node key, over
PEER_REQUEST_DOMAIN + canonical_json({body_sha256, chain_id, method, target,
timestamp_ms}) (``target`` is the path with its query string), and sends the
signature in three headers (docs/CONSENSUS.md, "Peer authentication"). The
receiver checks, in this order and with one ed25519 verify at most: the headers'
exact form and the timestamp within MAX_SKEW_MS of its clock (``request_claim``,
before any query), then that the key is a registered node's (a validator record of the
chain, active or not: an inactive one runs a follower) and the signature
(``claim_sender``). Plain Python, no I/O: the caller passes the registered keys, its
chain id and its clock.
"""

import hashlib
import re
from dataclasses import dataclass

from chain.ledger.encoding import canonical_json
from chain.ledger.keys import sign, verify

PEER_REQUEST_DOMAIN = b"GRIDTOKENX/PEER-REQUEST/V1\n"
HEADER_PEER = "x-gtx-peer"
HEADER_TIMESTAMP = "x-gtx-timestamp"
HEADER_SIGNATURE = "x-gtx-signature"
#: How far a request's timestamp may be from the receiver's clock. A replay inside
#: the window repeats an idempotent request (messages are stored once, lookups read).
MAX_SKEW_MS = 30_000

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_TIMESTAMP = re.compile(r"[1-9][0-9]{0,15}")

PEER_AUTH_REQUIRED = "peer_auth_required"
UNKNOWN_PEER = "unknown_peer"
STALE_REQUEST = "stale_request"
BAD_PEER_SIGNATURE = "bad_peer_signature"


class PeerAuthError(Exception):
    def __init__(self, code: str, message: str, status: int = 401):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def request_bytes(*, method: str, target: str, body: bytes, chain_id: str, timestamp_ms: int) -> bytes:
    return PEER_REQUEST_DOMAIN + canonical_json(
        {
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "chain_id": chain_id,
            "method": method,
            "target": target,
            "timestamp_ms": timestamp_ms,
        }
    )


def request_headers(key, *, method: str, target: str, body: bytes, chain_id: str, now_ms: int) -> dict:
    """The headers that say this site (``key``, its node key) sent the request."""
    message = request_bytes(method=method, target=target, body=body, chain_id=chain_id, timestamp_ms=now_ms)
    return {
        HEADER_PEER: key.verify_key.encode().hex(),
        HEADER_TIMESTAMP: str(now_ms),
        HEADER_SIGNATURE: sign(key, message),
    }


def signed(headers: dict[bytes, bytes]) -> bool:
    """Whether the request claims a sender at all (an unsigned GET may be served anyway)."""
    return HEADER_PEER.encode() in headers or HEADER_SIGNATURE.encode() in headers


@dataclass(frozen=True)
class PeerClaim:
    """Who a request says signed it, when, and the signature: of the right form, not yet checked."""

    peer: str
    timestamp_ms: int
    signature: str


def request_claim(headers: dict[bytes, bytes], *, now_ms: int) -> PeerClaim:
    """The request's claim, when its headers have their exact form and its timestamp is
    within MAX_SKEW_MS of ``now_ms``; else PeerAuthError. No I/O, no signature work."""
    peer, timestamp, signature = (
        headers.get(name.encode(), b"").decode("latin-1")
        for name in (HEADER_PEER, HEADER_TIMESTAMP, HEADER_SIGNATURE)
    )
    if not (_HEX64.fullmatch(peer) and _TIMESTAMP.fullmatch(timestamp) and _HEX128.fullmatch(signature)):
        raise PeerAuthError(
            PEER_AUTH_REQUIRED,
            f"Sign the request: {HEADER_PEER} (node key, hex), {HEADER_TIMESTAMP} (ms), "
            f"{HEADER_SIGNATURE} (hex), as docs/CONSENSUS.md says.",
        )
    if abs(now_ms - int(timestamp)) > MAX_SKEW_MS:
        raise PeerAuthError(STALE_REQUEST, f"The timestamp is over {MAX_SKEW_MS} ms from this site's clock.")
    return PeerClaim(peer, int(timestamp), signature)


def claim_sender(
    claim: PeerClaim,
    *,
    method: str,
    target: str,
    body: bytes,
    chain_id: str,
    registered: frozenset[str] | set[str],
) -> str:
    """The registered node that signed the request, or PeerAuthError: a key that is not a
    registered node's is refused before the one ed25519 verify."""
    if claim.peer not in registered:
        raise PeerAuthError(
            UNKNOWN_PEER,
            "The request's key is not a registered node's (a validator or a follower of this chain).",
            403,
        )
    message = request_bytes(
        method=method, target=target, body=body, chain_id=chain_id, timestamp_ms=claim.timestamp_ms
    )
    if not verify(claim.peer, message, claim.signature):
        raise PeerAuthError(BAD_PEER_SIGNATURE, "The request's signature does not match.")
    return claim.peer
