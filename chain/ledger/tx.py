"""The signed transaction: wire form, signing bytes, hash, stateless checks."""

import json
from dataclasses import dataclass
from functools import cached_property
from json.encoder import c_make_encoder, encode_basestring_ascii

from nacl.signing import SigningKey

from . import errors
from .encoding import MAX_SAFE_INTEGER, TX_DOMAIN, canonical_json, sha256_hex
from .errors import LedgerError
from .fields import is_chain_id, is_kind_name, is_signature_hex, require_storable_tree
from .keys import address_of, is_address, sign, verify

WIRE_FIELDS = ("chain_id", "sender", "nonce", "kind", "payload", "signature")


@dataclass(frozen=True)
class Transaction:
    chain_id: str
    sender: str
    nonce: int
    kind: str
    payload: dict
    signature: str

    @classmethod
    def with_known_hash(cls, known_hash: str, *fields) -> "Transaction":
        """A transaction read back from this site's mempool, whose hash admission computed
        from these same fields: spares one canonical encoding per transaction in a block."""
        chain_id, sender, nonce, kind, payload, signature = fields
        # Filled in directly: a frozen dataclass's __init__ sets each field through
        # object.__setattr__, three times the cost, paid for every transaction of a block.
        tx = object.__new__(cls)
        tx.__dict__.update(
            chain_id=chain_id,
            sender=sender,
            nonce=nonce,
            kind=kind,
            payload=payload,
            signature=signature,
            hash=known_hash,  # what the cached_property would store
        )
        return tx

    def unsigned(self) -> dict:
        return {
            "chain_id": self.chain_id,
            "sender": self.sender,
            "nonce": self.nonce,
            "kind": self.kind,
            "payload": self.payload,
        }

    @cached_property
    def signing_bytes(self) -> bytes:
        """What the sender signs and what the hash covers: the domain tag, then canonical JSON.

        Every admitted transaction pays for this, so the common case, a flat
        payload and fields of their wire types, is spelled out here, byte for
        byte what ``canonical_json`` emits; anything else takes ``canonical_json``
        itself, with its refusals.
        """
        payload_json = _flat_json(self.payload)
        chain_id, sender, nonce, kind = self.chain_id, self.sender, self.nonce, self.kind
        if (
            payload_json is None
            or type(chain_id) is not str
            or type(sender) is not str
            or type(kind) is not str
            or type(nonce) is not int
            or not -MAX_SAFE_INTEGER <= nonce <= MAX_SAFE_INTEGER
        ):
            return TX_DOMAIN + canonical_json(self.unsigned())
        # Keys in code point order: chain_id, kind, nonce, payload, sender.
        text = (
            f'{{"chain_id":{_json_string(chain_id)},"kind":{_json_string(kind)},"nonce":{nonce},'
            f'"payload":{payload_json},"sender":{_json_string(sender)}}}'
        )
        return TX_DOMAIN + text.encode("ascii")

    @cached_property
    def hash(self) -> str:
        return sha256_hex(self.signing_bytes)

    def to_wire(self) -> dict:
        return {**self.unsigned(), "signature": self.signature}

    def signature_valid(self) -> bool:
        return verify(self.sender, self.signing_bytes, self.signature)


_json_string = encode_basestring_ascii
#: canonical_json's encoder settings (sorted keys, no whitespace, ASCII), for values already
#: checked. ``JSONEncoder.encode`` builds its C encoder on every call; this one is built once.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
_C_ENCODER = c_make_encoder and c_make_encoder(
    None, None, encode_basestring_ascii, None, ":", ",", True, False, False
)


def _encode_checked(value) -> str:
    return _ENCODER.encode(value) if _C_ENCODER is None else "".join(_C_ENCODER(value, 0))


def _flat_json(payload) -> str | None:
    """Canonical JSON of a dict whose values are all strings, safe integers, booleans or null.

    None for anything else (nesting, floats, non-string keys, a subclass of dict or
    str), which ``canonical_json`` then checks and encodes the long way.
    """
    if type(payload) is not dict:
        return None
    for key, value in payload.items():
        if type(key) is not str:
            return None
        kind = type(value)
        if kind is int:
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                return None
        elif kind is not str and kind is not bool and value is not None:
            return None
    return _encode_checked(payload)


def sign_transaction(key: SigningKey, *, chain_id: str, nonce: int, kind: str, payload: dict) -> Transaction:
    """The one signing helper: used by wallets, tests, benchmarks and the demo."""
    unsigned = Transaction(chain_id, address_of(key), nonce, kind, payload, "")
    return Transaction(chain_id, unsigned.sender, nonce, kind, payload, sign(key, unsigned.signing_bytes))


def parse_transaction(wire) -> Transaction:
    """Build a Transaction from decoded JSON, refusing anything not exactly of its form.

    Checks shape, the field rules of chain.ledger.fields, and that every string
    of the payload, keys included, can be stored; the signature, the chain id's
    value, the nonce's turn and the kind's payload rules are checked by
    ``admission`` and the kind.
    """
    if not isinstance(wire, dict):
        raise LedgerError(errors.MALFORMED, "A transaction must be a JSON object.")
    missing = [f for f in WIRE_FIELDS if f not in wire]
    if missing:
        raise LedgerError(errors.MALFORMED, "Missing field(s): %(fields)s.", {"fields": ", ".join(missing)})
    extra = sorted(set(wire) - set(WIRE_FIELDS))
    if extra:
        raise LedgerError(errors.MALFORMED, "Unknown field(s): %(fields)s.", {"fields": ", ".join(extra)})
    chain_id, sender, nonce = wire["chain_id"], wire["sender"], wire["nonce"]
    kind, payload, signature = wire["kind"], wire["payload"], wire["signature"]
    if not is_chain_id(chain_id):
        raise LedgerError(errors.BAD_FIELD, "chain_id must be a chain's id: letters, digits, '.', '_', '-'.")
    if not is_address(sender):
        raise LedgerError(errors.BAD_ADDRESS, "sender must be 64 lowercase hex characters.")
    if not is_int(nonce) or not 0 <= nonce <= MAX_SAFE_INTEGER:
        raise LedgerError(errors.BAD_FIELD, "nonce must be a non-negative integer.")
    if not is_kind_name(kind):
        raise LedgerError(errors.BAD_FIELD, "kind must be a kind's name: lowercase letters, digits and '_'.")
    if type(payload) is not dict:
        raise LedgerError(errors.MALFORMED, "payload must be a JSON object.")
    if not is_signature_hex(signature):
        raise LedgerError(errors.BAD_SIGNATURE, "signature must be 128 lowercase hex characters.")
    # Whatever a payload holds is stored (mempool, blocks) and shown: every string must store exactly.
    require_storable_tree(payload)
    return Transaction(chain_id, sender, nonce, kind, payload, signature)


def is_int(value) -> bool:
    """JSON integers only: bool is an int in Python, and a float is never an amount."""
    return type(value) is int


def require_amount(payload: dict, field: str, *, maximum: int = MAX_SAFE_INTEGER) -> int:
    """A strictly positive integer amount in the smallest unit, at most ``maximum``."""
    value = payload.get(field)
    if not is_int(value):
        raise LedgerError(errors.BAD_AMOUNT, "%(field)s must be a whole number of units.", {"field": field})
    if value <= 0:
        raise LedgerError(errors.BAD_AMOUNT, "%(field)s must be greater than zero.", {"field": field})
    if value > maximum:
        raise LedgerError(
            errors.BAD_AMOUNT, "%(field)s is larger than %(maximum)s.", {"field": field, "maximum": maximum}
        )
    return value


def require_fields(payload: dict, allowed: set[str], required: set[str]) -> None:
    extra = sorted(set(payload) - allowed)
    if extra:
        raise LedgerError(
            errors.BAD_FIELD, "Unknown payload field(s): %(fields)s.", {"fields": ", ".join(extra)}
        )
    missing = sorted(required - set(payload))
    if missing:
        raise LedgerError(
            errors.BAD_FIELD, "Missing payload field(s): %(fields)s.", {"fields": ", ".join(missing)}
        )
