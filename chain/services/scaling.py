"""Intake over shards (Celery queues) and the scaling coordinator that sizes them.

With ``GTX_SHARDING`` set (``region``, ``energy`` or ``load``: chain.sharding), the API's intake
checks room in daphne (cheap, before parsing), then hands the batch to the queue of its shard
and waits for the answer: parsing, the ledger's checks, signature verification and admission
run in whichever worker consumes that queue, on this host or another. Every batch a worker
takes is written down (``ShardWork``): when it was queued, how long it waited and ran.

The coordinator (beat, every ``GTX_SCALING_TICK_S``) reads the window's work per shard, the
queues' backlog, the site's CPU, memory and database operations, and moves the number of
active shards between 1 and 8 (chain.sharding.scaling_decision), writing every change with its
reason and figures (``ScalingDecision``).
"""

import time
from datetime import UTC, datetime, timedelta

import psutil
from celery import current_app
from celery.exceptions import TaskRevokedError
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum

from chain import sharding
from chain.ledger.errors import ledger_text
from chain.models import ScalingDecision, ScalingState, ShardWork
from chain.services.admission import INTAKE_BUSY, BatchRejected, transactions_submit
from chain.task_queue import INTAKE_SHARD_ADMIT

#: How long the API waits for a shard's worker before answering 503 (the batch may still land).
SHARD_ANSWER_TIMEOUT_S = 10
#: ShardWork older than this is deleted by the coordinator's tick.
WORK_KEPT = timedelta(minutes=10)


def active_shards() -> int:
    row = ScalingState.objects.filter(id=1).values_list("active_shards", flat=True).first()
    return row or sharding.MIN_SHARDS


def _queue_base() -> str:
    return settings.CELERY_TASK_DEFAULT_QUEUE


def submit_via_shard(
    wires: list, regions: list[str], *, door_passed: bool = False
) -> tuple[list[str], frozenset[str]]:
    """Admit ``wires`` in the worker of their shard, as ``transactions_submit(hold_gaps=True,
    door_passed=door_passed)`` would: the admitted hashes in order and those held, or BatchRejected."""
    active = active_shards()
    first = wires[0] if wires and isinstance(wires[0], dict) else {}
    shard = sharding.shard_for(first, strategy=settings.GTX_SHARDING, active=active, regions=regions)
    result = current_app.send_task(
        INTAKE_SHARD_ADMIT,
        args=(wires, shard, time.time_ns() // 1000, door_passed),
        queue=sharding.shard_queue(_queue_base(), shard),
        ignore_result=False,
        expires=SHARD_ANSWER_TIMEOUT_S,
    )
    try:
        answer = result.get(timeout=SHARD_ANSWER_TIMEOUT_S, propagate=True)
    except (CeleryTimeout, TaskRevokedError):
        # Unanswered in time, or expired in the queue (no worker took it within the timeout).
        message = ledger_text(
            "No worker of intake shard %(shard)s answered within %(seconds)s s; the batch was most "
            "likely not admitted: look its hashes up before sending it again.",
            shard=shard,
            seconds=SHARD_ANSWER_TIMEOUT_S,
        )
        raise BatchRejected([{"index": None, "code": INTAKE_BUSY, "message": message}]) from None
    finally:
        result.forget()
    if "problems" in answer:
        raise BatchRejected(answer["problems"], mempool_full=answer["mempool_full"])
    return answer["transactions"], frozenset(answer["held"])


def shard_batch_admit(wires: list, shard: int, queued_at_us: int, door_passed: bool = False) -> dict:
    """A shard worker's part: admit the batch, write down the work, answer in plain data."""
    started_us = time.time_ns() // 1000
    try:
        txs = transactions_submit(wires, hold_gaps=True, door_passed=door_passed)
        answer = {"transactions": [tx.hash for tx in txs], "held": sorted(txs.held)}
    except BatchRejected as exc:
        answer = {"problems": exc.problems, "mempool_full": exc.mempool_full}
    finished_us = time.time_ns() // 1000
    ShardWork.objects.create(
        shard=shard,
        finished_at=datetime.fromtimestamp(finished_us // 1_000_000, UTC)
        + timedelta(microseconds=finished_us % 1_000_000),
        transactions=len(wires),
        admitted="problems" not in answer,
        busy_us=finished_us - started_us,
        waited_us=max(0, started_us - queued_at_us),
    )
    return answer


def _backlogs(shards: int) -> list[int]:
    """Batches waiting in each shard's queue (the Redis broker keeps a queue as a list)."""
    with current_app.connection_for_write() as conn:
        client = conn.default_channel.client
        return [client.llen(sharding.shard_queue(_queue_base(), shard)) for shard in range(shards)]


def shard_loads(window_us: int, shards: int) -> list[sharding.ShardLoad]:
    since = datetime.now(UTC) - timedelta(microseconds=window_us)
    rows = {
        row["shard"]: row
        for row in ShardWork.objects.filter(finished_at__gte=since)
        .values("shard")
        .annotate(
            transactions=Sum("transactions"),
            busy=Sum("busy_us"),
            waited=Sum("waited_us"),
            batches=Count("id"),
        )
    }
    loads = []
    backlogs = _backlogs(shards)
    for shard in range(shards):
        row = rows.get(shard, {})
        loads.append(
            sharding.ShardLoad(
                shard=shard,
                transactions=row.get("transactions") or 0,
                busy_us=row.get("busy") or 0,
                waited_us=row.get("waited") or 0,
                batches=row.get("batches") or 0,
                backlog=backlogs[shard],
            )
        )
    return loads


def _site_memory_mb() -> int:
    """Resident memory of this site's processes: those under the ``manage.py start`` that
    started them (else this process and its children)."""
    me = psutil.Process()
    top = next((p for p in me.parents() if _is_site_start(p)), me)
    total = 0
    for process in [top, *top.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total // 2**20


def _is_site_start(process: psutil.Process) -> bool:
    try:
        command = process.cmdline()
    except psutil.Error:  # gone, or another user's
        return False
    return "start" in command and any("manage.py" in part for part in command)


def _db_ops_total() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


def coordinator_tick() -> ScalingDecision | None:
    """Measure, decide, write: the change of shard count with its reason, if there is one."""
    window_s = settings.GTX_SCALING_WINDOW_S
    window_us = window_s * 1_000_000
    state, _ = ScalingState.objects.get_or_create(id=1)
    loads = shard_loads(window_us, sharding.MAX_SHARDS)
    active_loads = loads[: state.active_shards]
    now = datetime.now(UTC)
    last_change = ScalingDecision.objects.values_list("decided_at", flat=True).first()
    if last_change is not None and (now - last_change).total_seconds() < window_s:
        # The window still holds work of the count before the change: measure the new one first.
        reason = ledger_text("measuring %(count)s shards since the last change", count=state.active_shards)
        decision = sharding.Decision(state.active_shards, state.active_shards, reason)
    else:
        decision = sharding.scaling_decision(state.active_shards, active_loads, window_us)
    ops = _db_ops_total()
    elapsed = (now - state.measured_at).total_seconds() if state.measured_at else 0
    transactions = sum(s.transactions for s in loads)
    batches = sum(s.batches for s in loads)
    figures = {
        "tx_per_s": round(transactions / window_s, 1),
        "latency_ms": round(sum(s.latency_us() * s.batches for s in loads) / batches / 1000, 1)
        if batches
        else 0,
        "cpu_percent": psutil.cpu_percent(interval=0.2),
        "memory_mb": _site_memory_mb(),
        "db_ops_per_s": round((ops - state.db_ops_total) / elapsed, 1) if elapsed > 0 else 0.0,
    }
    shard_figures = [
        {
            "shard": s.shard,
            "tx_per_s": round(s.transactions / window_s, 1),
            "capacity_tx_per_s": s.capacity_tx_per_s,
            "load": round(s.load_ppm(window_us) / sharding.PPM, 3),
            "latency_ms": round(s.latency_us() / 1000, 1),
            "backlog": s.backlog,
        }
        for s in loads
        if s.shard < state.active_shards or s.transactions or s.backlog
    ]
    state.measured_at, state.db_ops_total = now, ops
    state.measurement = {**figures, "window_s": window_s, "shards": shard_figures, "reason": decision.reason}
    changed = decision.shards_to != decision.shards_from
    written = None
    # The new count and the decision that made it are seen together (the status page read a
    # count of 2 with no decision yet).
    with transaction.atomic():
        if changed:
            state.active_shards = decision.shards_to
            written = ScalingDecision.objects.create(
                shards_from=decision.shards_from,
                shards_to=decision.shards_to,
                reason=decision.reason,
                shard_loads=shard_figures,
                **figures,
            )
        state.save()
    ShardWork.objects.filter(finished_at__lt=now - WORK_KEPT).delete()
    return written
