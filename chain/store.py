"""The database behind the ledger core: load records by key, write a block's changes.

Each ledger table is a model whose ``ledger_record`` is the core's record class,
with the same field names. Writes are one upsert statement per table per block.
"""

import json
import operator
from collections.abc import Iterable
from dataclasses import fields
from functools import cache
from operator import attrgetter

import psycopg
from django.apps import apps
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.models import F, Q

from chain.ledger.encoding import canonical_json
from chain.ledger.errors import LedgerError, ledger_text
from chain.ledger.fields import INT_MAX, INT_MIN
from chain.ledger.tx import Transaction
from chain.ledger.wire import UNSTORABLE_TEXT, json_decode


@cache
def ledger_models() -> dict[str, type[models.Model]]:
    return {
        model.ledger_record.table: model
        for model in apps.get_models()
        if getattr(model, "ledger_record", None) is not None
    }


@cache
def _field_names(table: str) -> tuple[str, ...]:
    return tuple(f.name for f in fields(ledger_models()[table].ledger_record))


class DatabaseStore:
    """Reads committed records; runs inside the block's database transaction.

    Keys travel as one array parameter and rows come back as plain tuples: a
    block reads thousands of records, and the ORM would spell a placeholder for
    each key and build a query for each read.
    """

    def load(self, table: str, keys: Iterable[str]) -> dict[str, object]:
        select, pk, _ = _select_sql(table)
        return self._records(table, f"{select} WHERE {pk} = ANY(%b)", [list(keys)])

    def load_all(self, table: str) -> dict[str, object]:
        select, _, _ = _select_sql(table)
        return self._records(table, select, [])

    def scan(self, table: str, field: str, low: int, high: int) -> dict[str, object]:
        select, _, model = _select_sql(table)
        column = model._meta.get_field(field).column
        # Identifiers come from model metadata; the bounds are parameters.
        return self._records(table, f'{select} WHERE "{column}" BETWEEN %b AND %b', [low, high])

    def lowest(self, table: str, field: str, low: int) -> int | None:
        model = ledger_models()[table]
        column = model._meta.get_field(field).column
        # Identifiers come from model metadata; the bound is a parameter.
        sql = f'SELECT MIN("{column}") FROM "{model._meta.db_table}" WHERE "{column}" >= %s'  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [low])
            return cursor.fetchone()[0]

    def _records(self, table: str, sql: str, params: list) -> dict[str, object]:
        record_class = ledger_models()[table].ledger_record
        json_columns = [i for i, (_, _, is_json) in enumerate(_upsert_sql(table)[1]) if is_json]
        with binary_cursor() as cursor:
            rows = cursor.execute(sql, params).fetchall()
        records = []
        for row in rows:
            if json_columns:  # Django has PostgreSQL hand jsonb over as text, for JSONField to decode
                row = list(row)
                for i in json_columns:
                    row[i] = json.loads(row[i])
            records.append(record_class(*row))
        return {record.key: record for record in records}


@cache
def _select_sql(table: str) -> tuple[str, str, type[models.Model]]:
    """SELECT of a table's record fields in field order, its quoted primary key, and its model."""
    model = ledger_models()[table]
    names = ", ".join(f'"{column}"' for column, _, _ in _upsert_sql(table)[1])
    return f'SELECT {names} FROM "{model._meta.db_table}"', f'"{model._meta.pk.column}"', model  # noqa: S608


def binary_cursor() -> psycopg.Cursor:
    """A cursor on Django's connection (same transaction) that binds parameters on the server.

    Django's default client-side binding quotes every array element into the SQL
    text; with ``%b`` placeholders here, an array of thousands travels in binary.
    """
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


@cache
def _row_for_update_sql(model: type[models.Model]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in model._meta.concrete_fields)
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    return f"SELECT {columns} FROM {table} WHERE {pk} = %s FOR UPDATE"  # noqa: S608 - the model's own names


def row_for_update(model: type[models.Model], pk) -> models.Model | None:
    """``model.objects.select_for_update().filter(pk=pk).first()`` as one plain statement.

    For the rows every consensus step locks (the head, the consensus state): the ORM took
    longer to build each query than PostgreSQL to answer it (about 5 % of a quiet height's
    CPU at every site for the two). The fields' own converters read the values (a JSONField's
    text), and the instance is the ORM's own (``Model.from_db``), so ``save`` updates it.
    """
    with connection.cursor() as cursor:
        cursor.execute(_row_for_update_sql(model), [pk])
        values = cursor.fetchone()
    if values is None:
        return None
    fields_ = model._meta.concrete_fields
    converted = []
    for field, value in zip(fields_, values, strict=True):
        for converter in field.get_db_converters(connection):
            value = converter(value, field, connection)
        converted.append(value)
    return model.from_db(connection.alias, [field.attname for field in fields_], converted)


def transaction_rows(chain_id: str, sql: str, params: list) -> list[Transaction]:
    """Mempool or block rows (hash, sender, nonce, kind, payload text, signature) as transactions,
    without ORM objects.

    Admission (or the block) verified each signature and computed each hash from
    these same fields, so the transactions carry their hash. The payloads are decoded
    with one ``json.loads`` for the block, not one call per transaction.
    """
    with binary_cursor() as cursor:
        rows = cursor.execute(sql, params).fetchall()
    payloads = json.loads("[" + ",".join([row[4] for row in rows]) + "]")
    return [
        Transaction.with_known_hash(hash_, chain_id, sender, nonce, kind, payload, signature)
        for (hash_, sender, nonce, kind, _, signature), payload in zip(rows, payloads, strict=True)
    ]


def write_records(dirty: dict[str, list]) -> None:
    """Upsert every changed record: one INSERT .. SELECT FROM unnest(..) ON CONFLICT per table.

    Each column travels as one array parameter, so a block touching thousands of
    records costs a handful of parameters, not a placeholder per value.
    """
    with binary_cursor() as cursor:
        for table, records in dirty.items():
            if records:
                sql, columns = _upsert_sql(table)
                names = _field_names(table)
                params = [[getattr(r, n) for r in records] for n in names]
                params = [
                    [json.dumps(v) for v in values] if is_json else values
                    for values, (_, _, is_json) in zip(params, columns, strict=True)
                ]
                cursor.execute(sql, params)


@cache
def _upsert_sql(table: str) -> tuple[str, list[tuple[str, str, bool]]]:
    """The upsert of ``table`` and its columns (name, array element type, is JSON).

    Text travels as ``text[]`` and is assigned to its varchar(n) column, never cast
    to it: an explicit cast to varchar(n) silently cuts the value to n characters
    (so ``<address>\\n`` became ``<address>``, another account's row), while an
    assignment refuses what does not fit. ``records_unwritable`` keeps a block from
    ever getting that far.
    """
    model = ledger_models()[table]
    columns = []
    for name in _field_names(table):
        field = model._meta.get_field(name)
        is_json = field.get_internal_type() == "JSONField"
        is_text = isinstance(field, models.CharField | models.TextField)
        element = "text" if is_json or is_text else field.db_type(connection)
        columns.append((field.column, element, is_json))
    pk = model._meta.pk.column
    names = ", ".join(f'"{c}"' for c, _, _ in columns)
    arrays = ", ".join(f"%b::{t}[]" for _, t, _ in columns)
    selected = ", ".join(f'"{c}"::jsonb' if j else f'"{c}"' for c, _, j in columns)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c, _, _ in columns if c != pk)
    # Identifiers come from model metadata; every value is a parameter.
    insert = f'INSERT INTO "{model._meta.db_table}" ({names}) SELECT {selected} '  # noqa: S608
    upsert = f'FROM unnest({arrays}) AS u({names}) ON CONFLICT ("{pk}") DO UPDATE SET {updates}'
    return insert + upsert, columns


# --- the write check: what a block writes, the database takes ---------------------------

#: The range of each integer column type, narrowed to the core's integers (canonical JSON's).
_INT_RANGES = {
    "SmallIntegerField": (-(2**15), 2**15 - 1),
    "PositiveSmallIntegerField": (0, 2**15 - 1),
    "IntegerField": (-(2**31), 2**31 - 1),
    "PositiveIntegerField": (0, 2**31 - 1),
    "BigIntegerField": (INT_MIN, INT_MAX),
    "PositiveBigIntegerField": (0, INT_MAX),
}


@cache
def _column_rule(model: type[models.Model], name: str) -> tuple[str, object]:
    """What column ``name`` of ``model`` takes: ("text", max length or None), ("int", (low, high)),
    ("bool", None), ("json", None) or ("text[]", element max length)."""
    field = model._meta.get_field(name)
    if isinstance(field, ArrayField):
        return "text[]", field.base_field.max_length
    internal = field.get_internal_type()
    if internal == "JSONField":
        return "json", None
    if internal == "BooleanField":
        return "bool", None
    if internal in _INT_RANGES:
        low, high = _INT_RANGES[internal]
        return "int", (max(low, INT_MIN), min(high, INT_MAX))
    if isinstance(field, models.CharField | models.TextField):
        return "text", field.max_length
    raise TypeError(f"{model.__name__}.{name}: no write rule for {internal}")


def _storable(text: str) -> bool:
    """``text_storable``, with ASCII (hex, names: most of a block) checked by two scans in C."""
    if text.isascii():
        return "\x00" not in text
    return UNSTORABLE_TEXT.search(text) is None


def column_problem(model: type[models.Model], name: str, values: list) -> str | None:
    """Why column ``name`` of ``model`` would refuse (or alter) one of ``values``, or None.

    Whole columns at a time, in C where it can be (``map``, ``min``, ``join``): a
    block checks thousands of records before every vote.
    """
    if not values:
        return None
    kind, limit = _column_rule(model, name)
    where = f"{model._meta.db_table}.{name}"
    types = set(map(type, values))
    if kind == "int":
        low, high = limit
        if types != {int} or min(values) < low or max(values) > high:
            return ledger_text(
                "%(column)s takes integers from %(low)s to %(high)s", column=where, low=low, high=high
            )
    elif kind == "bool":
        if types != {bool}:
            return ledger_text("%(column)s takes true or false", column=where)
    elif kind == "text":
        if types != {str}:
            return ledger_text("%(column)s takes text", column=where)
        if limit is not None and max(map(len, values)) > limit:
            return ledger_text("%(column)s takes at most %(limit)s characters", column=where, limit=limit)
        if not _storable("".join(values)):
            return ledger_text("%(column)s cannot store U+0000 or a lone surrogate", column=where)
    elif kind == "text[]":
        if types != {list} or not all(type(v) is str for item in values for v in item):
            return ledger_text("%(column)s takes lists of text", column=where)
        items = [v for item in values for v in item]
        if items and limit is not None and max(map(len, items)) > limit:
            return ledger_text(
                "%(column)s takes items of at most %(limit)s characters", column=where, limit=limit
            )
        if not _storable("".join(items)):
            return ledger_text("%(column)s cannot store U+0000 or a lone surrogate", column=where)
    else:
        for value in values:
            try:
                json_decode(canonical_json(value))  # integers, depth, and text jsonb stores
            except LedgerError:
                return ledger_text(
                    "%(column)s cannot store %(value)s as jsonb", column=where, value=repr(str(value)[:60])
                )
    return None


_COMPARISONS = {
    "exact": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


@cache
def _table_constraints(model: type[models.Model]) -> tuple[list, list]:
    """The model's check constraints as (name, field, comparison, constant or F's field) terms,
    and its unique field sets: what the database would refuse besides column types.

    Only conjunctions of comparisons are spelled out (all the ledger has); anything else
    is refused here, when the check first runs, rather than left unchecked.
    """
    checks, uniques = [], []
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.CheckConstraint):
            condition = constraint.condition
            if condition.connector != Q.AND or condition.negated:
                raise TypeError(f"{constraint.name}: the write check reads AND-ed comparisons only")
            for term in condition.children:
                if isinstance(term, Q):
                    raise TypeError(f"{constraint.name}: the write check reads flat conditions only")
                lookup, value = term
                name, _, comparison = lookup.partition("__")
                other = value.name if isinstance(value, F) else None
                checks.append((constraint.name, name, _COMPARISONS[comparison or "exact"], value, other))
        elif isinstance(constraint, models.UniqueConstraint):
            uniques.append((constraint.name, tuple(constraint.fields)))
    for field in model._meta.concrete_fields:
        if field.unique and not field.primary_key:
            uniques.append((field.name, (field.name,)))
    return checks, uniques


#: A comparison with a constant, over a whole column: its extreme decides.
_EXTREME = {operator.gt: min, operator.ge: min, operator.lt: max, operator.le: max}


def _constraint_problems(model: type[models.Model], columns: dict[str, list]) -> list[str]:
    """Check and unique constraints over the records' ``columns`` (field name -> values)."""
    checks, uniques = _table_constraints(model)
    problems = []
    for name, field, compare, value, other in checks:
        column = columns[field]
        if other:
            holds = all(map(compare, column, columns[other]))
        elif compare in _EXTREME:
            holds = compare(_EXTREME[compare](column), value)
        else:
            holds = all(compare(v, value) for v in column)
        if not holds:
            problems.append(
                ledger_text(
                    "%(table)s: constraint %(name)s (%(field)s)",
                    table=model._meta.db_table,
                    name=name,
                    field=field,
                )
            )
    for name, unique_fields in uniques:
        values = list(zip(*(columns[f] for f in unique_fields), strict=True))
        if len(set(values)) != len(values):
            problems.append(
                ledger_text("%(table)s: two records share %(name)s", table=model._meta.db_table, name=name)
            )
    return problems


def records_unwritable(dirty: dict[str, list]) -> list[str]:
    """Why ``write_records(dirty)`` would fail or store something else than the records; [] if not.

    Each table's records are of its record class, one per key (an upsert cannot
    touch a row twice), every value fits its column exactly, and the table's check
    constraints hold; unique constraints are checked among the block's records
    (their keys carry the height, or a counter, so no earlier row can share them).
    """
    problems = []
    models_by_table = ledger_models()
    for table, records in dirty.items():
        model = models_by_table.get(table)
        if model is None:
            problems.append(ledger_text("no table %(table)s", table=repr(table)))
            continue
        if any(type(r) is not model.ledger_record for r in records):
            problems.append(ledger_text("%(table)s: a record of another type", table=table))
            continue
        if len({r.key for r in records}) != len(records):
            problems.append(ledger_text("%(table)s: two records with one key", table=table))
        if not records:
            continue
        columns = {name: list(map(attrgetter(name), records)) for name in _field_names(table)}
        column_problems = [p for name, rows in columns.items() if (p := column_problem(model, name, rows))]
        # Comparisons need the values to be of their types first.
        problems += column_problems or _constraint_problems(model, columns)
    return problems


#: Tables whose rows come and go many times a second: the mempool and the hold, and the
#: consensus messages and proposals of decided heights (pruned at each tick).
CHURNING_TABLES = ("chain_mempooltx", "chain_heldtx", "chain_consensusmessage", "chain_proposedblock")


def churning_tables_vacuum() -> None:
    """VACUUM the tables that churn and have dead rows, as autovacuum would if it kept up
    (or ran at all): outside any transaction.

    The mempool takes and loses every transaction: with its dead rows left in
    place, it grew to 16 MB in 15 s at 1,500 tx/s, and counting the rows that
    wait (which admission does for every batch) took 7 ms instead of 0.3.
    """
    with connection.cursor() as cursor:
        # Only those with dead rows: an idle site has none, and vacuums nothing.
        cursor.execute(
            "SELECT t FROM unnest(%s::text[]) AS t WHERE pg_stat_get_dead_tuples(t::regclass) > 0",
            [list(CHURNING_TABLES)],
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"VACUUM (SKIP_LOCKED) {table}")
