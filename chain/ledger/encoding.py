"""Canonical bytes and hashes. docs/PROTOCOL.md specifies these byte for byte.

One encoder for everything that is hashed or signed: canonical JSON (keys sorted
by code point, no whitespace, ASCII only with \\uXXXX escapes, integers only).
Each hashed or signed message starts with a domain tag so a signature over one
kind of message can never be replayed as another.
"""

import hashlib
import json

from .errors import MALFORMED, LedgerError

TX_DOMAIN = b"GRIDTOKENX/TX/V1\n"
BLOCK_DOMAIN = b"GRIDTOKENX/BLOCK/V1\n"
VOTE_DOMAIN = b"GRIDTOKENX/VOTE/V1\n"
STATE_DOMAIN = b"GRIDTOKENX/STATE/V1\n"

#: Largest integer in any signed message: JavaScript clients keep it exact.
MAX_SAFE_INTEGER = 2**53 - 1


def _check_value(value, depth: int = 0) -> None:
    if depth > 8:
        raise LedgerError(MALFORMED, "Value nests deeper than 8 levels.")
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise LedgerError(MALFORMED, "Integer %(value)s is outside ±(2^53 - 1).", {"value": value})
        return
    if isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerError(MALFORMED, "Object keys must be strings.")
            _check_value(item, depth + 1)
        return
    raise LedgerError(
        MALFORMED, "%(type)s values are not allowed; use integers.", {"type": type(value).__name__}
    )


def canonical_json(value) -> bytes:
    """The one canonical encoding. Refuses floats and out-of-range integers."""
    _check_value(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def merkle_root(leaf_hashes: list[str]) -> str:
    """RFC 6962 Merkle tree hash over transaction hashes (hex in, hex out).

    Leaves are sha256(0x00 || tx_hash), nodes sha256(0x01 || left || right), the
    split at the largest power of two below n. The empty tree is sha256("").
    """
    if not leaf_hashes:
        return sha256_hex(b"")
    nodes = [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in leaf_hashes]
    return _merkle(nodes).hex()


def _merkle(nodes: list[bytes]) -> bytes:
    """Level by level, pairing neighbours and carrying an odd last node up unchanged.

    That is the same tree as splitting at the largest power of two below n: the
    left part is a full tree whose levels pair the same way, and its right
    neighbour's levels carry up what is left over. Without recursion and list
    slicing, a block of thousands of transactions hashes in one pass per level.
    """
    while len(nodes) > 1:
        paired = [
            hashlib.sha256(b"\x01" + nodes[i] + nodes[i + 1]).digest() for i in range(0, len(nodes) - 1, 2)
        ]
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
    return nodes[0]
