"""Adversarial suite, ledger side: hostile values in every field of every kind, in the core.

For each hostile transaction, either it is refused with a stable code (by the
strict decoder, the parser, or the kind's check, as admission would), or it runs
in a block whose every row the database would take (the write check), after
which every ledger invariant holds. And the decoders never fail any other way.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.ledger.encoding import canonical_json
from chain.ledger.errors import LedgerError
from chain.ledger.kinds import KINDS
from chain.ledger.tx import parse_transaction
from chain.ledger.wire import json_decode
from tests.chain.adversarial import (
    RAW_DOCUMENTS,
    STABLE_CODE,
    VALID,
    admit,
    chain_after_setup,
    check_hostile_case,
    hostile_transactions,
    wire_of,
)
from tests.trading.harness import T0

SUITE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
    check_hostile_case(case)


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
