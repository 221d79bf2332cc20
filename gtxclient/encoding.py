"""Canonical JSON and the domain tags, written from docs/PROTOCOL.md §2 and §3.

Independent of the site's code on purpose: it is what a client written from the
document computes. tests/protocol/test_client.py holds its bytes to the ledger's.
"""

import re

TX_DOMAIN = b"GRIDTOKENX/TX/V1\n"
VOTE_DOMAIN = b"GRIDTOKENX/VOTE/V1\n"
#: ±(2^53 − 1): JavaScript clients keep every integer of a signed message exact.
MAX_SAFE_INTEGER = 2**53 - 1
#: A value sits at most this many levels below the top-level value.
MAX_DEPTH = 8

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Printable ASCII other than " and \: written as itself (the common case: hex, names, numbers).
_PLAIN = re.compile(r"[ !#-\[\]-~]*")


class EncodingError(ValueError):
    """The value has no canonical form: a float, an integer out of range, a non-string key, too deep."""


def canonical_json(value) -> bytes:
    """The canonical JSON of ``value`` as ASCII bytes (§2)."""
    parts: list[str] = []
    _encode(value, 0, parts)
    return "".join(parts).encode("ascii")


def _encode(value, depth: int, out: list[str]) -> None:
    if depth > MAX_DEPTH:
        raise EncodingError(f"A value nests deeper than {MAX_DEPTH} levels.")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif type(value) is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise EncodingError(f"Integer {value} is outside ±(2^53 − 1).")
        out.append(str(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, depth + 1, out)
        out.append("]")
    elif isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise EncodingError("Object keys are strings.")
        out.append("{")
        for index, key in enumerate(sorted(value)):  # Python orders str by code point
            if index:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _encode(value[key], depth + 1, out)
        out.append("}")
    else:
        raise EncodingError(f"{type(value).__name__} has no canonical form; use integers.")


def _string(text: str) -> str:
    if _PLAIN.fullmatch(text):
        return f'"{text}"'
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif 0x20 <= code <= 0x7E:
            out.append(char)
        elif code > 0xFFFF:  # a UTF-16 surrogate pair
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:  # below U+0020, DEL (U+007F) and everything above it
            out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)
