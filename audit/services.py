"""The audit app's write path: verification runs and the snapshots a replay recomputes.

Verifying the chain is read-only over the ledger: it reads blocks and
transactions and writes only its own ChainVerification and AccountSnapshot
rows. That is why a regulator, who can change nothing on the ledger, may start
one.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.ledger.verify import ChainReplay, StoredBlock, StoredTx, block_check
from audit.models import AccountSnapshot, ChainVerification, VerificationStatus
from chain import task_queue
from chain.ledger.genesis import GenesisError, load_genesis
from chain.models import Block, ChainHead, ChainTx

log = logging.getLogger(__name__)

#: Blocks read per query, and how often progress is saved (in blocks) within a batch.
BATCH_BLOCKS = 200
PROGRESS_EVERY = 20
VERIFICATION_RUNNING = "A verification is already queued or running; wait for it to finish."
#: A queued or running verification that saved no progress for this long was abandoned
#: (its worker died): a new start marks it so and goes ahead.
ABANDONED_AFTER = timedelta(minutes=10)
ABANDONED = "Abandoned: no progress for 10 minutes (the worker stopped)."


#: audit.tasks.verify_chain, which runs a queued verification.
VERIFY_CHAIN_TASK = "audit.verify_chain"


class VerificationRunning(Exception):
    """A verification is already queued or running: not a refused transaction, nothing to sign."""


def verification_start(*, user, replay: bool) -> ChainVerification:
    """Queue a verification of blocks 1..current height; the Celery task runs it after commit.

    One at a time: a second start while one is queued or running is refused.
    """
    with transaction.atomic():
        # Serialises starts: the head row is the one every site has.
        head = ChainHead.objects.select_for_update().get()
        active = ChainVerification.objects.filter(
            status__in=[VerificationStatus.QUEUED, VerificationStatus.RUNNING]
        )
        now = timezone.now()
        active.filter(progress_at__lt=now - ABANDONED_AFTER).update(
            status=VerificationStatus.ERROR, finished_at=now, problem=ABANDONED
        )
        if active.exists():
            raise VerificationRunning(VERIFICATION_RUNNING)
        verification = ChainVerification.objects.create(
            started_by=user, replay=replay, target_height=head.height, progress_at=now
        )
        # By name, as chain.task_queue sends the chain's: audit.tasks calls this module.
        transaction.on_commit(lambda: task_queue.task_send(VERIFY_CHAIN_TASK, args=(verification.pk,)))
    return verification


def _stored_blocks(chain_id: str, low: int, high: int) -> list[StoredBlock]:
    """Blocks low..high with their transactions: two queries, whatever the batch holds."""
    txs: dict[int, list[StoredTx]] = defaultdict(list)
    rows = ChainTx.objects.filter(block__gte=low, block__lte=high).order_by("block_id", "position")
    for row in rows.values_list(
        "block_id", "hash", "position", "sender", "nonce", "kind", "payload", "signature", "ok", "error_code"
    ):
        txs[row[0]].append(StoredTx(*row[1:]))
    return [
        StoredBlock(
            header=block.header(chain_id),
            hash=block.hash,
            result_state_root=block.result_state_root,
            commit_certificate=block.commit_certificate,
            transactions=txs.get(block.height, []),
        )
        for block in Block.objects.filter(height__range=(low, high)).order_by("height")
    ]


def _finish(verification: ChainVerification, status: str, **fields) -> None:
    fields.update(status=status, finished_at=timezone.now())
    ChainVerification.objects.filter(pk=verification.pk).update(**fields)


def verification_run(*, verification_id: int) -> ChainVerification | None:
    """Check blocks 1..target_height in order, saving progress per batch; stop at the first bad block.

    Claims the run with a conditional update (queued -> running), so a task
    delivered twice runs once. Returns the finished row, or None if not claimed.
    """
    claimed = ChainVerification.objects.filter(pk=verification_id, status=VerificationStatus.QUEUED).update(
        status=VerificationStatus.RUNNING, started_at=timezone.now(), progress_at=timezone.now()
    )
    if claimed != 1:
        return None
    verification = ChainVerification.objects.get(pk=verification_id)
    try:
        _run(verification)
    except Exception as exc:
        log.exception("verification %s stopped", verification_id)
        _finish(verification, VerificationStatus.ERROR, problem=f"The check stopped: {exc}")
    verification.refresh_from_db()
    return verification


def _run(verification: ChainVerification) -> None:
    head = ChainHead.objects.get()
    chain_id, target = head.chain_id, verification.target_height
    replay = None
    try:
        genesis = load_genesis(settings.GTX_GENESIS_PATH)
    except GenesisError as exc:
        genesis = None
        genesis_problem = str(exc)
    else:
        genesis_problem = (
            "" if genesis.hash == head.genesis_hash else "the genesis file differs from the chain's genesis"
        )
    if verification.replay:
        if genesis_problem:
            _finish(verification, VerificationStatus.ERROR, problem=f"Cannot replay: {genesis_problem}.")
            return
        replay = ChainReplay(genesis.records(), genesis.params)
        AccountSnapshot.objects.all().delete()
    # Block 1 links to the genesis hash: the file's when it matches, else the one the site recorded.
    previous_hash = genesis.hash if genesis is not None and not genesis_problem else head.genesis_hash
    counts = {"transactions_checked": 0, "signatures_checked": 0, "precommits_checked": 0}
    for low in range(1, target + 1, BATCH_BLOCKS):
        high = min(low + BATCH_BLOCKS - 1, target)
        snapshots = []
        expected_height = low
        for block in _stored_blocks(chain_id, low, high):
            height = block.header.height
            if height != expected_height:
                _fail(verification, expected_height, [f"block {expected_height} is missing."], counts)
                return
            check = block_check(block, expected_previous_hash=previous_hash)
            problems = list(check.problems)
            counts["transactions_checked"] += len(block.transactions)
            counts["signatures_checked"] += check.signatures_checked
            counts["precommits_checked"] += check.precommits_checked
            if not problems and replay is not None:
                replay_problems, changed = replay.block_replay(block)
                problems += replay_problems
                snapshots += [
                    AccountSnapshot(
                        address=a.address,
                        height=height,
                        timestamp_ms=block.header.timestamp_ms,
                        balance=a.balance,
                        staked=a.staked,
                        escrow_tokens=a.escrow_tokens,
                        energy_wh=a.energy_wh,
                        escrow_wh=a.escrow_wh,
                    )
                    for a in changed
                ]
            if problems:
                AccountSnapshot.objects.bulk_create([s for s in snapshots if s.height < height])
                _fail(verification, height, problems, counts)
                return
            previous_hash = block.hash
            expected_height += 1
            if height % PROGRESS_EVERY == 0:
                _progress(verification, height, counts)
        if expected_height != high + 1:
            _fail(verification, expected_height, [f"block {expected_height} is missing."], counts)
            return
        AccountSnapshot.objects.bulk_create(snapshots)
        _progress(verification, high, counts)
    _finish(verification, VerificationStatus.PASSED, checked_height=target, **counts)


def _progress(verification: ChainVerification, height: int, counts: dict) -> None:
    ChainVerification.objects.filter(pk=verification.pk).update(
        checked_height=height, progress_at=timezone.now(), **counts
    )


def _fail(verification: ChainVerification, height: int, problems: list[str], counts: dict) -> None:
    _finish(
        verification,
        VerificationStatus.FAILED,
        first_bad_height=height,
        checked_height=max(height - 1, 0),
        problem=f"Block {height}: " + " ".join(problems),
        **counts,
    )
