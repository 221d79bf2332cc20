"""The database behind the ledger core: load records by key, write a block's changes.

Each ledger table is a model whose ``ledger_record`` is the core's record class,
with the same field names. Writes are one upsert statement per table per block.
"""

from collections.abc import Iterable
from dataclasses import fields
from functools import cache

from django.apps import apps
from django.db import models


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


def record_from_row(table: str, row: tuple):
    return ledger_models()[table].ledger_record(*row)


class DatabaseStore:
    """Reads committed records; runs inside the block's database transaction."""

    def load(self, table: str, keys: Iterable[str]) -> dict[str, object]:
        model = ledger_models()[table]
        rows = model.objects.filter(pk__in=list(keys)).values_list(*_field_names(table))
        records = (record_from_row(table, row) for row in rows)
        return {record.key: record for record in records}

    def scan(self, table: str, field: str, low: int, high: int) -> dict[str, object]:
        model = ledger_models()[table]
        rows = model.objects.filter(**{f"{field}__range": (low, high)}).values_list(*_field_names(table))
        records = (record_from_row(table, row) for row in rows)
        return {record.key: record for record in records}


def write_records(dirty: dict[str, list]) -> None:
    """Upsert every changed record: one INSERT .. ON CONFLICT statement per table."""
    for table, records in dirty.items():
        if not records:
            continue
        model = ledger_models()[table]
        names = _field_names(table)
        pk = model._meta.pk.name
        model.objects.bulk_create(
            [model(**dict(zip(names, (getattr(r, n) for n in names)))) for r in records],
            update_conflicts=True,
            unique_fields=[pk],
            update_fields=[n for n in names if n != pk],
        )


def record_to_model(record) -> models.Model:
    model = ledger_models()[record.table]
    names = _field_names(record.table)
    return model(**{n: getattr(record, n) for n in names})
