"""State-root leaves: the fast path for flat records gives canonical_json's exact bytes, and a
remembered leaf value is the one canonical_json's bytes give."""

import hashlib
from dataclasses import dataclass, fields
from typing import ClassVar, get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.ledger.encoding import MAX_SAFE_INTEGER, STATE_DOMAIN, canonical_json
from chain.ledger.errors import MALFORMED, LedgerError
from chain.ledger.state import ACCUMULATOR_BYTES, TABLES, _LeafMemo, leaf_bytes, leaf_value

safe_ints = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
# Any text, including non-ASCII, quotes and control characters that JSON escapes.
values_by_type = {int: safe_ints, str: st.text(max_size=20), bool: st.booleans()}
# A Param's value: an int, text, or the lists and tables of them a genesis holds (transmission paths).
values_by_type[object] = st.recursive(
    st.one_of(safe_ints, st.text(max_size=10)),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


def canonical_leaf(record) -> bytes:
    return STATE_DOMAIN + canonical_json(
        [record.table, record.key, [getattr(record, f.name) for f in fields(record)]]
    )


@st.composite
def records(draw):
    """Any registered table's record with arbitrary values of its fields' types."""
    record_class = TABLES[draw(st.sampled_from(sorted(TABLES)))]
    hints = get_type_hints(record_class)
    return record_class(*(draw(values_by_type[hints[f.name]]) for f in fields(record_class)))


@given(records())
def test_a_flat_records_leaf_is_canonical_json_byte_for_byte(record):
    assert leaf_bytes(record.table, record) == canonical_leaf(record)


@dataclass(frozen=True, slots=True)
class Odd:
    table: ClassVar[str] = "odd"
    name: str
    amount: object

    @property
    def key(self) -> str:
        return self.name


@pytest.mark.parametrize(
    "amount", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 1.5, [1, [2]], {"b": 1, "a": None}]
)
def test_other_values_take_canonical_json_with_its_refusals(amount):
    record = Odd("x", amount)
    try:
        expected = canonical_leaf(record)
    except LedgerError as exc:
        assert exc.code == MALFORMED
        with pytest.raises(LedgerError) as refused:
            leaf_bytes("odd", record)
        assert (refused.value.code, refused.value.message) == (exc.code, exc.message)
    else:
        assert leaf_bytes("odd", record) == expected


def canonical_leaf_value(record) -> int:
    return int.from_bytes(hashlib.shake_256(canonical_leaf(record)).digest(ACCUMULATOR_BYTES), "big")


@given(records())
def test_a_leaf_value_remembered_is_the_leaf_value(record):
    expected = canonical_leaf_value(record)
    assert leaf_value(record.table, record) == expected  # computed (or remembered from an earlier example)
    assert leaf_value(record.table, record) == expected  # remembered


@pytest.mark.parametrize("first, second", [(1, True), (True, 1), (0, False)])
def test_values_equal_in_python_but_encoded_apart_are_remembered_apart(first, second):
    one, other = Odd("same", first), Odd("same", second)
    assert one == other and hash(one) == hash(other)  # 1 == True: the records compare equal
    assert leaf_value("odd", one) == canonical_leaf_value(one)
    assert leaf_value("odd", other) == canonical_leaf_value(other)
    assert leaf_value("odd", one) != leaf_value("odd", other)


def test_the_memo_keeps_two_generations_at_most():
    memo = _LeafMemo(2)
    for n in range(5):
        memo.put(("t", n), n)
    assert [memo.get(("t", n)) for n in range(5)] == [None, None, 2, 3, 4]
    assert len(memo._newer) <= 2 and len(memo._older) <= 2
