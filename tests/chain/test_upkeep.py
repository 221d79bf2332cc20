"""Table upkeep: the tables that churn are vacuumed every other tick, off the consensus worker."""

import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from chain.models import MempoolTx
from chain.tasks import vacuum_churning
from gridtokenx_site.celery import app


def _pages(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s)", [table])
        return cursor.fetchone()[0]


def _wait_for_dead_rows_counted(table: str) -> None:
    """The server counts a backend's dead rows within about a second of its commit (bounded wait)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = %s", [table])
            if cursor.fetchone()[0] > 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"{table}'s dead rows were not counted")


@pytest.mark.django_db(transaction=True)  # VACUUM cannot run inside the test's transaction
def test_vacuum_gives_back_the_space_of_rows_gone_from_the_mempool():
    MempoolTx.objects.bulk_create(
        MempoolTx(
            hash=f"{i:064x}",
            sender="ab" * 32,
            nonce=i,
            kind="transfer",
            payload={"to": "cd" * 32, "amount": 1},
            signature="ef" * 64,
            token_debit=1,
            energy_debit_wh=0,
            received_at=timezone.now(),
        )
        for i in range(2000)
    )
    MempoolTx.objects.all().delete()
    assert _pages("chain_mempooltx") > 0, "deleted rows stay in place until vacuumed"
    _wait_for_dead_rows_counted("chain_mempooltx")

    vacuum_churning()

    assert _pages("chain_mempooltx") == 0


@pytest.mark.django_db(transaction=True)
def test_a_table_without_dead_rows_is_left_alone(django_assert_num_queries):
    with django_assert_num_queries(1):  # which tables have dead rows: none
        vacuum_churning()


def test_upkeep_runs_every_other_tick_beside_the_other_work_not_in_the_consensus_worker():
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "chain.vacuum_churning")
    assert entry["schedule"] == 2 * settings.GTX_TICK_S
    route = app.amqp.router.route({}, "chain.vacuum_churning")
    assert route["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE
    assert app.amqp.router.route({}, "chain.consensus_step")["queue"].name.endswith("-consensus")
