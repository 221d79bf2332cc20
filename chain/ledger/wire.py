"""The one strict JSON decoder for everything that crosses into the node.

REST bodies, the peer protocol, MQTT readings and WebSocket frames are decoded
here, never with a bare ``json.loads``: a document is refused whole (a
``LedgerError`` with code ``malformed_json``) when it is not UTF-8, nests deeper
than ``MAX_DEPTH``, repeats a key in an object, spells NaN or Infinity, or
holds text PostgreSQL cannot store (U+0000, or a lone UTF-16 surrogate, which
JSON's ``\\uXXXX`` escapes can spell). What passes can be stored as it is.
"""

import json
import re

from .errors import LedgerError, ledger_text

MALFORMED_JSON = "malformed_json"
#: Deepest nesting of objects and arrays any message of the protocol needs, with room.
MAX_DEPTH = 32

#: What no stored text may hold: NUL (PostgreSQL's text and jsonb refuse it) and
#: surrogate code points (not characters: UTF-8 cannot encode them).
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
#: The escapes that can spell those in JSON text; a document without them needs no walk.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def text_storable(value: str) -> bool:
    """True when ``value`` holds no NUL and no surrogate: PostgreSQL stores it exactly."""
    return UNSTORABLE_TEXT.search(value) is None


def _refuse(message: str) -> LedgerError:
    return LedgerError(MALFORMED_JSON, message)


def _object(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _refuse(ledger_text("An object names the same key twice."))
    return obj


def _constant(name: str):
    raise _refuse(ledger_text("%(name)s is not a JSON number.", name=name))


def json_decode(raw: bytes | str):
    """The decoded document, or LedgerError(``malformed_json``) saying why not."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(ledger_text("The body is not UTF-8 text.")) from None
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except RecursionError:
        raise _refuse(_too_deep(ledger_text("document"), MAX_DEPTH)) from None
    except ValueError as exc:  # JSONDecodeError, and int() of a number of over 4,300 digits
        raise _refuse(ledger_text("The body is not valid JSON: %(error)s.", error=exc)) from None
    walk_json_tree(
        value,
        max_depth=MAX_DEPTH,
        depth_code=MALFORMED_JSON,
        text_code=MALFORMED_JSON,
        strings=_SUSPECT_ESCAPE.search(raw) is not None,
    )
    return value


def walk_json_tree(
    value, *, max_depth: int, depth_code: str, text_code: str, strings: bool = True, what: str = "document"
) -> None:
    """Refuse a decoded JSON value nesting containers deeper than ``max_depth`` levels
    (LedgerError ``depth_code``) or, with ``strings``, holding a key or string PostgreSQL
    cannot store (LedgerError ``text_code``).

    The one walker for the decoder (whole documents) and the field rules (payloads,
    chain.ledger.fields.require_storable_tree). Iterative, so no nesting exhausts the stack.
    """
    if strings and type(value) is str and not text_storable(value):
        raise _unstorable(text_code)
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if type(node) is dict:
            if strings and any(not text_storable(key) for key in node):
                raise _unstorable(text_code)
            items = node.values()
        elif type(node) is list:
            items = node
        else:
            continue
        if depth > max_depth:
            raise LedgerError(depth_code, _too_deep(what, max_depth))
        for item in items:
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif strings and kind is str and not text_storable(item):
                raise _unstorable(text_code)


def _too_deep(what: str, depth: int) -> str:
    """``what`` (a word of the catalogue: "document", "payload") nests deeper than ``depth`` levels."""
    return ledger_text("The %(what)s nests deeper than %(depth)s levels.", what=what, depth=depth)


def _unstorable(code: str) -> LedgerError:
    return LedgerError(code, "Text may not hold U+0000 or a lone surrogate.")
