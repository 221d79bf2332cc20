"""Field rules: one whole-string rule per type of field that crosses into the node.

Every kind of every app, the transaction parser, the key helpers and the forms
check their fields here, so an address is the same thing everywhere. Patterns
match the whole value (``fullmatch``: ``$`` would also match before a final
newline) and accept one canonical spelling only: lower-case hex of the exact
length, no surrounding or embedded whitespace. Text is free, but never holds
what PostgreSQL cannot store (U+0000, lone surrogates) or what would disguise
it when shown: control characters (C0, DEL, C1) and the bidirectional
embedding, override and isolate controls. Multi-line text (a proposal's
description) may hold tab, line feed and carriage return. docs/SECURITY.md
has the table.
"""

import re

from . import errors
from .encoding import MAX_SAFE_INTEGER
from .errors import LedgerError, ledger_text
from .wire import walk_json_tree

#: 32 bytes as 64 lower-case hex: addresses (ed25519 public keys), sha-256 hashes, ids.
HEX_64 = re.compile(r"[0-9a-f]{64}")
#: An ed25519 signature: 64 bytes as 128 lower-case hex.
HEX_128 = re.compile(r"[0-9a-f]{128}")
#: A chain id: a word of letters, digits, '.', '_' and '-', at most 64 (ChainHead.chain_id).
CHAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: A transaction kind's name: snake_case, at most 32 (ChainTx.kind).
KIND_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: Names the genesis gives things (zones and regions, paths' ends, sources, sides,
#: options, actions, parameters, meter kinds): a word of at most 32, the narrowest column.
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")

#: A payment reference as a Thai bank transfer or PromptPay bill payment carries it (Ref1):
#: 8 to 20 upper-case letters and digits, starting with a letter (treasury mints and burns).
PAYMENT_REFERENCE = re.compile(r"[A-Z][A-Z0-9]{7,19}")

#: A whole number as typed in a query or form: ASCII digits ('²'.isdigit() is true, int('²') raises).
DIGITS = re.compile(r"[0-9]+")

#: What one-line text may not hold: NUL, controls, bidi controls, surrogates.
_BIDI_AND_SURROGATES = "\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_LINE_FORBIDDEN = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_AND_SURROGATES}]")
#: The same, less tab, line feed and carriage return (a browser's textarea sends CRLF).
_MULTILINE_FORBIDDEN = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI_AND_SURROGATES}]")

#: Integers in signed messages and in records: what canonical JSON (and a JavaScript client) holds
#: exactly. Every integer column of the ledger is a bigint, which holds more.
INT_MIN, INT_MAX = -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER
#: Highest consensus round a message or header may name: rounds grow by one per timeout.
MAX_ROUND = 10_000
#: Deepest nesting canonical JSON encodes (chain.ledger.encoding).
MAX_PAYLOAD_DEPTH = 8


def is_hex64(value) -> bool:
    return type(value) is str and HEX_64.fullmatch(value) is not None


def is_signature_hex(value) -> bool:
    return type(value) is str and HEX_128.fullmatch(value) is not None


def is_chain_id(value) -> bool:
    return type(value) is str and CHAIN_ID.fullmatch(value) is not None


def is_kind_name(value) -> bool:
    return type(value) is str and KIND_NAME.fullmatch(value) is not None


def is_identifier(value) -> bool:
    return type(value) is str and IDENTIFIER.fullmatch(value) is not None


def is_payment_reference(value) -> bool:
    return type(value) is str and PAYMENT_REFERENCE.fullmatch(value) is not None


def is_digits(value, max_length: int = 18) -> bool:
    """ASCII digits only, at most ``max_length`` of them: ``int(value)`` cannot fail."""
    return type(value) is str and len(value) <= max_length and DIGITS.fullmatch(value) is not None


def whole_number(text: str | None, *, max_digits: int = 16) -> int | None:
    """``text`` as an int when it is 1 to ``max_digits`` ASCII digits; else None, never an error.

    Not ``str.isdigit()``: it also takes "²", which int() refuses (a 500), and "٣",
    which int() reads as 3; nor an unbounded int(), which refuses 4,300 digits and more.
    """
    return int(text) if is_digits(text, max_digits) and text else None


def is_int(value, low: int = INT_MIN, high: int = INT_MAX) -> bool:
    """A JSON integer in [low, high]: never a bool (an int in Python) nor a float."""
    return type(value) is int and low <= value <= high


def is_bool(value) -> bool:
    return type(value) is bool


def is_text(value, maximum: int, *, multiline: bool = False) -> bool:
    """Text of at most ``maximum`` characters that stores exactly and shows as what it is."""
    if type(value) is not str or len(value) > maximum:
        return False
    forbidden = _MULTILINE_FORBIDDEN if multiline else _LINE_FORBIDDEN
    return forbidden.search(value) is None


def require_hex64(value, field: str, code: str = errors.BAD_ADDRESS) -> str:
    if not is_hex64(value):
        raise LedgerError(code, "%(field)s must be 64 lowercase hex characters.", {"field": field})
    return value


def require_identifier(value, field: str, code: str = errors.BAD_FIELD) -> str:
    """A name from the genesis, checked for shape before it is looked up (a list is unhashable)."""
    if not is_identifier(value):
        raise LedgerError(
            code, "%(field)s must be a name of letters, digits, '.', '_' or '-'.", {"field": field}
        )
    return value


def require_text(value, field: str, maximum: int, *, required: bool = False, multiline: bool = False) -> str:
    """Free text (memo, title, reason...): see the module docstring for what it may hold."""
    if not is_text(value, maximum, multiline=multiline) or (required and not value.strip()):
        if required and multiline:
            template = ledger_text(
                "%(field)s must be non-empty text of at most %(maximum)s characters, "
                "tab and line breaks aside, without control characters, U+0000 or lone surrogates."
            )
        elif required:
            template = ledger_text(
                "%(field)s must be non-empty text of at most %(maximum)s characters, "
                "without control characters, U+0000 or lone surrogates."
            )
        elif multiline:
            template = ledger_text(
                "%(field)s must be text of at most %(maximum)s characters, "
                "tab and line breaks aside, without control characters, U+0000 or lone surrogates."
            )
        else:
            template = ledger_text(
                "%(field)s must be text of at most %(maximum)s characters, "
                "without control characters, U+0000 or lone surrogates."
            )
        raise LedgerError(errors.BAD_FIELD, template, {"field": field, "maximum": maximum})
    return value


def require_bool(value, field: str) -> bool:
    if type(value) is not bool:
        raise LedgerError(errors.BAD_FIELD, "%(field)s must be true or false.", {"field": field})
    return value


def require_storable_tree(value) -> None:
    """Every string of a decoded JSON value, object keys included, stores exactly; not too deep."""
    walk_json_tree(
        value,
        max_depth=MAX_PAYLOAD_DEPTH,
        depth_code=errors.MALFORMED,
        text_code=errors.BAD_FIELD,
        what=ledger_text("payload"),
    )
