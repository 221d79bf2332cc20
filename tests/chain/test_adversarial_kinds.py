"""Adversarial suite, ledger side: hostile values in every field of every kind, in the core.

For each hostile transaction, either it is refused with a stable code (by the
strict decoder, the parser, or the kind's check, as admission would), or it runs
in a block whose every row the database would take (the write check), after
which every ledger invariant holds. And the decoders never fail any other way.
"""

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.ledger.block import execute_block
from chain.ledger.encoding import canonical_json
from chain.ledger.errors import LedgerError
from chain.ledger.genesis import demo_key
from chain.ledger.kinds import KINDS, get_kind
from chain.ledger.state import State
from chain.ledger.tx import Transaction, parse_transaction, sign_transaction
from chain.ledger.wire import json_decode
from chain.services.blocks import _execution_unwritable
from chain.store import records_unwritable
from tests.chain.adversarial import (
    GENESIS,
    RAW_DOCUMENTS,
    SETUP,
    VALID,
    hostile_transactions,
    nonce_after_setup,
)
from tests.trading.harness import T0, MemoryChain, check_invariants

STABLE_CODE = re.compile(r"[a-z][a-z_]{2,39}")
SUITE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def totals(chain: MemoryChain) -> tuple[int, int]:
    accounts = chain.store.tables["account"].values()
    return sum(a.total_tokens for a in accounts), sum(a.energy_wh + a.escrow_wh for a in accounts)


def wire_of(who: str, kind: str, payload: dict) -> dict:
    """The signed wire form; a payload no client could sign (a float, a huge integer) is sent
    with a made-up signature, as an attacker would."""
    nonce = nonce_after_setup(who, kind)
    try:
        tx = sign_transaction(
            demo_key(who), chain_id=GENESIS.chain_id, nonce=nonce, kind=kind, payload=payload
        )
    except LedgerError:
        signer = sign_transaction(
            demo_key(who), chain_id=GENESIS.chain_id, nonce=nonce, kind=kind, payload={}
        )
        return {**signer.to_wire(), "payload": payload, "signature": "00" * 64}
    return tx.to_wire()


def chain_after_setup(kind: str) -> tuple[MemoryChain, int, int]:
    """A fresh chain from genesis with ``kind``'s set-up run, and its token and Wh totals."""
    chain = MemoryChain(GENESIS, GENESIS.params)
    supply, energy = totals(chain)
    if kind in SETUP:
        result = chain.block(SETUP[kind], timestamp_ms=T0 - 1_000)
        assert all(receipt.ok for receipt in result.receipts), result.receipts
        supply += result.energy.get("minted_units", 0) - result.energy.get("burned_units", 0)
    return chain, supply, energy


def admit(raw: bytes) -> Transaction:
    """What admission checks before it touches the database, in its order."""
    tx = parse_transaction(json_decode(raw))
    if tx.chain_id != GENESIS.chain_id:
        raise LedgerError("wrong_chain_id", "")
    kind = get_kind(tx.kind)
    kind.check_payload(tx.payload, GENESIS.params)
    if not tx.signature_valid():
        raise LedgerError("bad_signature", "")
    kind.token_debit(tx.payload, GENESIS.params), kind.energy_debit(tx.payload, GENESIS.params)
    return tx


def test_every_kind_has_a_valid_payload_that_runs():
    """The suite covers every registered kind, and each valid payload succeeds after its set-up:
    hostile variants reach the kinds' state transitions, not only their payload checks."""
    assert set(VALID) == set(KINDS)
    for kind, (who, payload) in VALID.items():
        tx = admit(json.dumps(wire_of(who, kind, payload)).encode())
        chain, _, _ = chain_after_setup(kind)
        result = chain.block([tx], timestamp_ms=T0)
        assert [(r.ok, r.code) for r in result.receipts] == [(True, "")], kind


@SUITE
@given(hostile_transactions())
def test_a_hostile_transaction_is_refused_with_a_stable_code_or_its_block_writes(case):
    who, kind, payload = case
    raw = json.dumps(wire_of(who, kind, payload)).encode()  # json.dumps spells inf, NaN, \ud800...
    try:
        tx = admit(raw)
    except LedgerError as exc:
        assert STABLE_CODE.fullmatch(exc.code), exc.code
        return
    chain, supply, energy = chain_after_setup(kind)
    state = State(chain.store, chain.store.accumulator)
    result = execute_block(
        state,
        [tx],
        chain_id=GENESIS.chain_id,
        height=chain.height + 1,
        timestamp_ms=T0,
        params=GENESIS.params,
        strict=False,
        verify_signatures=True,
    )
    dirty = state.dirty_records()
    assert _execution_unwritable(result, dirty, checked_payloads=frozenset()) == []
    assert records_unwritable(dirty) == []
    chain.store.write(state)  # the state root hashes every changed record
    assert chain.store.root
    supply += result.energy.get("minted_units", 0) - result.energy.get("burned_units", 0)
    check_invariants(chain, supply, energy + result.energy.get("minted_wh", 0))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(
    json_values
    | st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(["chain_id", "sender", "nonce", "kind", "payload", "signature"], json_values),
    )
)
def test_parse_transaction_fails_only_with_a_ledger_error(value):
    try:
        parse_transaction(value)
    except LedgerError as exc:
        assert STABLE_CODE.fullmatch(exc.code)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_json_fails_only_with_a_ledger_error(value):
    try:
        encoded = canonical_json(value)
    except LedgerError:
        return
    assert encoded.isascii()


@settings(max_examples=300, deadline=None)
@given(RAW_DOCUMENTS | json_values.map(lambda v: json.dumps(v).encode()))
def test_json_decode_fails_only_with_a_ledger_error(raw):
    try:
        json_decode(raw)
    except LedgerError as exc:
        assert exc.code == "malformed_json"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"chain_id":"a","chain_id":"b","sender":"","nonce":0,"kind":"","payload":{},"signature":""}',
        b'{"payload":{"to":"x","to":"y"}}',
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_duplicate_keys_and_deep_nesting_are_refused_before_parsing(raw):
    with pytest.raises(LedgerError) as info:
        admit(raw)
    assert info.value.code == "malformed_json"
