"""Every ledger record type stores exactly what the core holds, at the core's own limits.

The core's integers reach ±(2^53 - 1) and its text is any storable Unicode; each
ledger table's columns must take those unchanged, and what does not fit must be
refused (by the write check, and by the database), never cut to fit.
"""

from dataclasses import fields

import psycopg
import pytest
from django.db import connection, transaction

from chain.ledger.fields import INT_MAX, INT_MIN
from chain.store import (
    DatabaseStore,
    _column_rule,
    _table_constraints,
    ledger_models,
    records_unwritable,
    write_records,
)

pytestmark = pytest.mark.django_db

THAI = "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ😀é"


def text_of(length: int, salt: str) -> str:
    """``length`` characters, non-ASCII (Thai, an emoji beyond the BMP), starting with ``salt``."""
    return (salt + THAI * (length // len(THAI) + 1))[:length]


def record_at_limits(model, *, high: bool, salt: str):
    """A record of ``model``'s core class whose every value is as long or as large (or as
    small: ``high`` false) as its column allows; a field a check constraint bounds is 1 then."""
    checks, _ = _table_constraints(model)
    constrained = {check[1] for check in checks} | {check[4] for check in checks if check[4]}
    values = {}
    for f in fields(model.ledger_record):
        kind, limit = _column_rule(model, f.name)
        if kind == "text":
            values[f.name] = text_of(limit or 5000, salt)
        elif kind == "int":
            values[f.name] = limit[1] if high else (1 if f.name in constrained else limit[0])
        elif kind == "bool":
            values[f.name] = high
        else:
            values[f.name] = {"ก": [INT_MAX if high else INT_MIN, '😀\\"\n', None, True, {"x": []}]}
    return model.ledger_record(**values)


@pytest.mark.parametrize("table", sorted(ledger_models()))
def test_a_record_at_the_cores_limits_reads_back_identical(chain, table):
    model = ledger_models()[table]
    records = [record_at_limits(model, high=True, salt="a"), record_at_limits(model, high=False, salt="b")]
    assert records_unwritable({table: records}) == []

    write_records({table: records})

    loaded = DatabaseStore().load(table, [r.key for r in records])
    assert loaded == {r.key: r for r in records}


def test_every_integer_column_of_the_ledger_holds_the_cores_range():
    for table, model in ledger_models().items():
        for f in fields(model.ledger_record):
            kind, limit = _column_rule(model, f.name)
            if kind == "int":
                assert limit == (INT_MIN, INT_MAX), f"{table}.{f.name}"


@pytest.mark.parametrize(
    "change",
    [
        lambda a: a + "\n",  # the address of issue 14: one character too long
        lambda a: a + "x" * 10,
    ],
)
def test_a_value_too_long_for_its_column_is_refused_never_cut(chain, change):
    """Issue 14: a cast to the column's 64-character type cut ``<victim>\\n`` to ``<victim>`` and
    overwrote its row; now the write is refused whole and the core refuses it first."""
    from chain.ledger.state import Account

    victim_address = "ab" * 32
    write_records({"account": [Account(address=victim_address, balance=10_000)]})
    record = Account(address=change(victim_address), balance=1)

    assert records_unwritable({"account": [record]})
    with pytest.raises(psycopg.DataError), transaction.atomic():
        write_records({"account": [record]})
    assert DatabaseStore().load("account", [victim_address])[victim_address].balance == 10_000


@pytest.mark.parametrize(
    "record_changes, problem",
    [
        ({"balance": INT_MAX + 1}, "integers"),
        ({"balance": True}, "integers"),
        ({"balance": 1.0}, "integers"),
        ({"address": "a\x00" + "b" * 62}, "U+0000"),
        ({"address": "\ud800" + "b" * 63}, "U+0000"),
    ],
)
def test_the_write_check_names_what_a_column_would_refuse(record_changes, problem):
    from chain.ledger.state import Account

    record = Account(**{"address": "cd" * 32, **record_changes})
    problems = records_unwritable({"account": [record]})
    assert problems and problem in problems[0]


def test_the_write_check_refuses_what_a_check_constraint_would():
    from chain.ledger.state import Account

    assert records_unwritable({"account": [Account("ef" * 32, balance=-1)]}) == [
        "chain_account: constraint account_amounts_non_negative (balance)"
    ]


def test_the_write_check_refuses_two_records_with_one_key():
    from chain.ledger.state import Account

    assert records_unwritable({"account": [Account("ef" * 32), Account("ef" * 32, balance=1)]})


def test_the_upsert_casts_no_text_to_a_bounded_type():
    from chain.store import _upsert_sql

    for table in ledger_models():
        sql, _ = _upsert_sql(table)
        assert "varchar" not in sql and "character varying" not in sql, table
    assert connection.vendor == "postgresql"
