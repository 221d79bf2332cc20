"""Fast paths of the ledger core give exactly what the plain definitions give.

Signing bytes, proof of work, nonce bumps and block execution each have a
spelled-out hot path; these tests hold each one to the plain definition.
"""

import hashlib
import json
from dataclasses import asdict, fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.ledger import errors
from chain.ledger.block import INVALID_BLOCK, BlockHeader, execute_block, mine
from chain.ledger.encoding import BLOCK_DOMAIN, MAX_SAFE_INTEGER, TX_DOMAIN, canonical_json, merkle_root
from chain.ledger.errors import LedgerError
from chain.ledger.genesis import demo_key, load_genesis
from chain.ledger.keys import address_of
from chain.ledger.state import Account, MemoryStore, State
from chain.ledger.tx import Transaction, sign_transaction
from tests.conftest import GENESIS_PATH

GENESIS = load_genesis(GENESIS_PATH)
safe_ints = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
any_ints = safe_ints | st.integers(-(2**64), 2**64)
# Any text: non-ASCII, astral characters, quotes, backslashes and control characters.
texts = st.text(max_size=24)
scalars = st.none() | st.booleans() | any_ints | texts | st.floats(allow_nan=True)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=12,
)
flat_payloads = st.dictionaries(texts, st.none() | st.booleans() | safe_ints | texts, max_size=5)


def encoded_or_refusal(encode):
    try:
        return encode()
    except LedgerError as exc:
        return exc.code


def plain_signing_bytes(tx: Transaction) -> bytes:
    return TX_DOMAIN + canonical_json(tx.unsigned())


@settings(max_examples=300)
@given(texts, texts, any_ints | st.booleans(), texts, flat_payloads | json_values)
def test_signing_bytes_are_canonical_json_of_the_unsigned_transaction(chain_id, sender, nonce, kind, payload):
    tx = Transaction(chain_id, sender, nonce, kind, payload, "")
    assert encoded_or_refusal(lambda: tx.signing_bytes) == encoded_or_refusal(lambda: plain_signing_bytes(tx))


@settings(max_examples=300)
@given(texts, st.integers(0, MAX_SAFE_INTEGER), texts, flat_payloads)
def test_flat_signing_bytes_are_what_json_dumps_gives(chain_id, nonce, kind, payload):
    tx = Transaction(chain_id, "ab" * 32, nonce, kind, payload, "")
    dumped = json.dumps(
        tx.unsigned(), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    assert tx.signing_bytes == TX_DOMAIN + dumped.encode("ascii")


@pytest.mark.parametrize(
    "payload",
    [{"amount": 1.0}, {"amount": MAX_SAFE_INTEGER + 1}, {1: "a"}, {"nested": {"amount": 2**60}}],
)
def test_signing_bytes_refuse_what_canonical_json_refuses(payload):
    tx = Transaction("c", "ab" * 32, 0, "transfer", payload, "")
    with pytest.raises(LedgerError) as info:
        tx.signing_bytes  # noqa: B018
    assert info.value.code == errors.MALFORMED


def plain_mine(header: BlockHeader) -> BlockHeader:
    """Proof of work by its definition: re-encode the whole header for every nonce."""
    nonce = 0
    while True:
        candidate = replace(header, nonce=nonce)
        if candidate.meets_difficulty():
            return candidate
        nonce += 1


hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)
# Strings that look like the nonce field inside other fields must not fool the splice.
tricky = texts | st.sampled_from(['","nonce":0,"previous_hash":"', ',"nonce":0,"previous_hash":'])
headers = st.builds(
    BlockHeader,
    chain_id=tricky,
    height=st.integers(0, MAX_SAFE_INTEGER),
    timestamp_ms=st.integers(0, MAX_SAFE_INTEGER),
    previous_hash=hex64 | tricky,
    merkle_root=hex64 | tricky,
    state_root=hex64 | tricky,
    proposer=hex64,
    round=st.integers(0, 100),
    difficulty=st.integers(0, 9),
    nonce=st.integers(0, 1000),
    tx_count=st.integers(0, 10_000),
    energy=st.dictionaries(
        st.sampled_from(["traded_wh", "nonce", "previous_hash", "z"]), safe_ints, max_size=4
    ),
    validators_hash=hex64 | tricky,
)


@settings(max_examples=60, deadline=None)
@given(headers)
def test_mining_finds_the_same_nonce_and_hash_as_re_encoding_every_header(header):
    mined = mine(header)
    assert mined == plain_mine(header)
    assert mined.signing_bytes() == BLOCK_DOMAIN + canonical_json(asdict(mined))
    assert mined.meets_difficulty()


account_values = {int: st.integers(0, MAX_SAFE_INTEGER - 1), str: hex64}


@given(st.data())
def test_the_next_nonce_changes_the_nonce_and_nothing_else(data):
    account = Account(
        *(data.draw(account_values[type(f.default) if f.name != "address" else str]) for f in fields(Account))
    )
    assert account.with_next_nonce() == replace(account, nonce=account.nonce + 1)


SENDER = demo_key("wind_korat")
RECIPIENT = address_of(demo_key("home_malee"))


def genesis_state() -> State:
    store = MemoryStore.holding(GENESIS.records())
    return State(store, store.accumulator)


def signed(nonce: int, kind: str = "transfer", amount: int = 1) -> Transaction:
    payload = {"to": RECIPIENT, "amount": amount}
    return sign_transaction(SENDER, chain_id=GENESIS.chain_id, nonce=nonce, kind=kind, payload=payload)


def run(txs, *, strict=False):
    state = genesis_state()
    result = execute_block(
        state,
        txs,
        chain_id=GENESIS.chain_id,
        height=1,
        timestamp_ms=1_800_000_000_000,
        params=GENESIS.params,
        strict=strict,
        verify_signatures=True,
    )
    return state, result


def test_a_malformed_payload_in_turn_fails_with_a_receipt_and_consumes_its_nonce():
    state, result = run([signed(0), signed(1, amount=0), signed(2)])
    assert [(r.ok, r.code) for r in result.receipts] == [(True, ""), (False, errors.BAD_AMOUNT), (True, "")]
    assert state.account(address_of(SENDER)).nonce == 3


def test_a_malformed_payload_out_of_turn_is_dropped_for_its_nonce():
    state, result = run([signed(1, amount=0)])
    assert [exc.code for _, exc in result.dropped] == [errors.NONCE_GAP]
    assert not result.receipts and state.account(address_of(SENDER)).nonce == 0


def test_an_unknown_kind_is_dropped_after_the_nonce_check_and_invalidates_a_strict_block():
    _, result = run([signed(0, kind="mint"), signed(5, kind="mint"), signed(0)])
    assert [exc.code for _, exc in result.dropped] == [errors.UNKNOWN_KIND, errors.NONCE_GAP]
    assert [r.ok for r in result.receipts] == [True]
    with pytest.raises(LedgerError) as info:
        run([signed(0, kind="mint")], strict=True)
    assert info.value.code == INVALID_BLOCK


def split_merkle(nodes: list[bytes]) -> bytes:
    """RFC 6962 by its definition: split at the largest power of two below n."""
    if len(nodes) == 1:
        return nodes[0]
    split = 1 << ((len(nodes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + split_merkle(nodes[:split]) + split_merkle(nodes[split:])).digest()


@given(st.lists(hex64, min_size=1, max_size=70))
def test_the_merkle_root_is_the_rfc_6962_tree_of_any_size(leaf_hashes):
    leaves = [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in leaf_hashes]
    assert merkle_root(leaf_hashes) == split_merkle(leaves).hex()


def test_a_transaction_with_a_known_hash_equals_the_one_it_was_read_from():
    tx = signed(0)
    known = Transaction.with_known_hash(tx.hash, *(getattr(tx, f.name) for f in fields(Transaction)))
    assert known == tx and known.hash == tx.hash and known.signing_bytes == tx.signing_bytes
