"""``chain.store.row_for_update``: the rows every consensus step locks, read in one plain statement,
are the ORM's own instances with the same values, and stay locked for the step."""

from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection, transaction

from chain.models import ConsensusState
from chain.store import row_for_update


def _other_connection() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    )


@pytest.mark.django_db
def test_the_row_read_plainly_is_the_orms_row_and_saves_as_an_update():
    progress = datetime(2026, 12, 5, 4, 0, 1, 234000, tzinfo=UTC)
    ConsensusState.objects.update_or_create(
        id=1,
        defaults={
            "height": 42,
            "round": 3,
            "step": "precommit",
            "locked_value": "ab" * 32,
            "locked_round": 2,
            "started": True,
            "timeouts": [[1_733_371_200_000, "prevote", 42, 3]],
            "progress_at": progress,
        },
    )
    orm = ConsensusState.objects.get(id=1)
    with transaction.atomic():
        row = row_for_update(ConsensusState, 1)
        fields_ = [f.attname for f in ConsensusState._meta.concrete_fields]
        assert {f: getattr(row, f) for f in fields_} == {f: getattr(orm, f) for f in fields_}
        assert row.timeouts == [[1_733_371_200_000, "prevote", 42, 3]]  # the JSON, read as JSON
        assert row.progress_at == progress
        row.round = 4
        row.save()
    assert ConsensusState.objects.count() == 1
    assert ConsensusState.objects.get(id=1).round == 4
    assert row_for_update(ConsensusState, 2) is None


@pytest.mark.django_db(transaction=True)
def test_the_row_stays_locked_until_the_step_commits():
    ConsensusState.objects.update_or_create(id=1, defaults={"height": 7})
    other = _other_connection()
    try:
        with transaction.atomic():
            assert row_for_update(ConsensusState, 1).height == 7
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("SELECT id FROM chain_consensusstate WHERE id = 1 FOR UPDATE NOWAIT")
        other.execute("SELECT id FROM chain_consensusstate WHERE id = 1 FOR UPDATE NOWAIT")
    finally:
        other.close()
