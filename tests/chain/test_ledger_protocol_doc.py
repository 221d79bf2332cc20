"""docs/PROTOCOL.md cannot drift: its worked example and constants are recomputed here."""

import runpy

import pytest
from nacl.signing import SigningKey

from chain.ledger import encoding
from chain.ledger.encoding import canonical_json, sha256_hex
from localnet import BASE_DIR

DOC = (BASE_DIR / "docs" / "PROTOCOL.md").read_text()
EXAMPLE = runpy.run_path(str(BASE_DIR / "docs" / "protocol_example.py"))["example"]()


@pytest.mark.parametrize("name", sorted(EXAMPLE))
def test_the_document_shows_exactly_the_computed_example(name):
    assert f"\n{EXAMPLE[name]}\n" in DOC, (
        f"PROTOCOL.md lacks the current {name}; run docs/protocol_example.py"
    )


def test_the_example_verifies_with_an_independent_ed25519_key():
    key = SigningKey(bytes.fromhex(EXAMPLE["sender_seed_hex"]))
    signing_bytes = bytes.fromhex(EXAMPLE["signing_bytes_hex"])
    assert key.verify_key.encode().hex() == EXAMPLE["sender_public_key"]
    assert signing_bytes == b"GRIDTOKENX/TX/V1\n" + EXAMPLE["unsigned_json"].encode("ascii")
    assert sha256_hex(signing_bytes) == EXAMPLE["tx_hash"]
    key.verify_key.verify(signing_bytes, bytes.fromhex(EXAMPLE["signature"]))


@pytest.mark.parametrize("name", ["TX_DOMAIN", "BLOCK_DOMAIN", "VOTE_DOMAIN", "STATE_DOMAIN"])
def test_the_document_gives_each_domain_tag_in_hex(name):
    tag = getattr(encoding, name)
    assert f"| `{tag.decode().rstrip()}\\n` | `{tag.hex()}` |" in DOC


def test_the_canonical_json_example_is_what_the_encoder_emits():
    encoded = canonical_json({"b": 1, "a": [1, 2], "B": {"z": None, "é": True}}).decode()
    assert f"encodes as\n`{encoded}`" in DOC


def test_the_documented_safe_integer_bound_is_the_encoders():
    assert encoding.MAX_SAFE_INTEGER == 2**53 - 1 == 9007199254740991
    assert "9007199254740991" in DOC
