"""Canonical JSON, transaction hashes and signatures: the bytes every client must produce."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.ledger import errors
from chain.ledger.encoding import MAX_SAFE_INTEGER, TX_DOMAIN, canonical_json, merkle_root, sha256_hex
from chain.ledger.errors import LedgerError
from chain.ledger.keys import address_of, signing_key_from_seed
from chain.ledger.tx import Transaction, parse_transaction, sign_transaction

safe_ints = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
keys = st.binary(min_size=32, max_size=32).map(signing_key_from_seed)
#: Text PostgreSQL stores: a transaction holding U+0000 or a lone surrogate is refused (test_field_rules).
storable = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
payloads = st.dictionaries(
    st.text(storable, min_size=1, max_size=8), safe_ints | st.text(storable, max_size=30), max_size=4
)


@settings(max_examples=200)
@given(json_values)
def test_canonical_json_decodes_to_the_same_value_and_is_stable(value):
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded
    assert encoded.isascii()


def test_canonical_json_sorts_keys_by_code_point_and_has_no_whitespace():
    assert canonical_json({"b": 1, "a": [1, 2], "B": {"z": None, "é": True}}) == (
        b'{"B":{"z":null,"\\u00e9":true},"a":[1,2],"b":1}'
    )


def test_canonical_json_escapes_non_ascii_as_utf16_units():
    assert canonical_json("é€😀") == b'"\\u00e9\\u20ac\\ud83d\\ude00"'
    assert canonical_json('"\\\n\t\x01') == b'"\\"\\\\\\n\\t\\u0001"'


@pytest.mark.parametrize("value", [1.0, 0.5, math.nan, math.inf, {"amount": 1.5}, [1e3]])
def test_canonical_json_refuses_floats(value):
    with pytest.raises(LedgerError) as info:
        canonical_json(value)
    assert info.value.code == errors.MALFORMED


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2**64, {"a": [2**60]}])
def test_canonical_json_refuses_integers_outside_the_safe_range(value):
    with pytest.raises(LedgerError) as info:
        canonical_json(value)
    assert info.value.code == errors.MALFORMED


def test_canonical_json_accepts_the_safe_range_boundaries():
    assert canonical_json([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == b"[9007199254740991,-9007199254740991]"


def test_canonical_json_refuses_deep_nesting_and_non_string_keys():
    nested = 0
    for _ in range(9):
        nested = [nested]
    with pytest.raises(LedgerError):
        canonical_json(nested)
    canonical_json(nested[0])  # eight levels are fine
    with pytest.raises(LedgerError):
        canonical_json({1: "a"})


@settings(max_examples=50, deadline=None)
@given(keys, st.integers(0, MAX_SAFE_INTEGER), payloads)
def test_a_signed_transaction_survives_the_wire_with_its_hash_and_signature(key, nonce, payload):
    tx = sign_transaction(key, chain_id="test-chain", nonce=nonce, kind="transfer", payload=payload)
    received = parse_transaction(json.loads(json.dumps(tx.to_wire())))
    assert received == tx
    assert received.hash == tx.hash == sha256_hex(TX_DOMAIN + canonical_json(tx.unsigned()))
    assert received.signature_valid()
    assert received.sender == address_of(key)


@settings(max_examples=50, deadline=None)
@given(keys, payloads, st.sampled_from(["chain_id", "nonce", "kind", "payload", "sender"]))
def test_changing_any_signed_field_invalidates_the_signature(key, payload, field):
    tx = sign_transaction(key, chain_id="test-chain", nonce=3, kind="transfer", payload=payload)
    changed = {
        "chain_id": "other-chain",
        "nonce": 4,
        "kind": "stake_bond",
        "payload": {**payload, "extra": 1},
        "sender": "f" * 64 if tx.sender != "f" * 64 else "e" * 64,
    }[field]
    forged = Transaction(**{**tx.to_wire(), field: changed})
    assert forged.hash != tx.hash
    assert not forged.signature_valid()


def test_the_signature_covers_the_signing_bytes_not_the_hash():
    key = signing_key_from_seed(bytes(range(32)))
    tx = sign_transaction(key, chain_id="c", nonce=0, kind="transfer", payload={"amount": 1})
    key.verify_key.verify(tx.signing_bytes, bytes.fromhex(tx.signature))  # raises if not


def test_merkle_root_follows_rfc_6962():
    a, b, c = (sha256_hex(x) for x in (b"a", b"b", b"c"))
    leaf = {h: sha256_hex(b"\x00" + bytes.fromhex(h)) for h in (a, b, c)}

    def node(left: str, right: str) -> str:
        return sha256_hex(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right))

    assert merkle_root([]) == sha256_hex(b"")
    assert merkle_root([a]) == leaf[a]
    assert merkle_root([a, b]) == node(leaf[a], leaf[b])
    assert merkle_root([a, b, c]) == node(node(leaf[a], leaf[b]), leaf[c])
