"""Work this site queues for its Celery workers, sent by task name.

Services and the peer protocol queue tasks through here and never import
``chain.tasks``: the tasks call the services, so an import the other way closes
a loop. Sending by name changes nothing on the wire: ``send_task`` applies the
same routes (``CELERY_TASK_ROUTES``: ``chain.*`` to the consensus worker's queue,
``<GTX_CELERY_QUEUE>-consensus``, run one at a time by its ``--pool solo`` worker,
but for the vacuum, the fetch of a proposal's bodies, the push to followers and the mempool's
second forward: they wait on other hosts or on the disk, never on a consensus step) and the same options as
the task's own ``apply_async``.
"""

from celery import current_app
from django.core.cache import cache

from chain import clock

#: The chain's task names (chain/tasks.py registers each; tests/chain/test_task_queue.py checks).
CONSENSUS_TICK = "chain.consensus_tick"
CONSENSUS_STEP = "chain.consensus_step"
CONSENSUS_TIMEOUT = "chain.consensus_timeout"
CONSENSUS_RESEND = "chain.consensus_resend"
SYNC = "chain.sync"
FOLLOW_TICK = "chain.follow_tick"
BLOCKS_FOLLOW = "chain.blocks_follow"
FOLLOWERS_PUSH = "chain.followers_push"
VACUUM_CHURNING = "chain.vacuum_churning"
MEMPOOL_FORWARD_AGAIN = "chain.mempool_forward_again"
PROPOSAL_BODIES_FETCH = "chain.proposal_bodies_fetch"
INTAKE_SHARD_ADMIT = "chain.intake_shard_admit"
SCALING_COORDINATE = "chain.scaling_coordinate"
TASK_NAMES = (
    CONSENSUS_TICK,
    CONSENSUS_STEP,
    CONSENSUS_TIMEOUT,
    CONSENSUS_RESEND,
    SYNC,
    FOLLOW_TICK,
    BLOCKS_FOLLOW,
    FOLLOWERS_PUSH,
    VACUUM_CHURNING,
    MEMPOOL_FORWARD_AGAIN,
    PROPOSAL_BODIES_FETCH,
    INTAKE_SHARD_ADMIT,
    SCALING_COORDINATE,
)

#: Set while a consensus step waits in the queue (consensus_step_soon).
STEP_QUEUED = "consensus-step-queued"
#: A proposal's missing bodies are asked for at most this often: every step sees them missing
#: until they arrive, and one fetch asks every peer.
BODIES_FETCH_EVERY_S = 2
#: A timeout's step still runs this late (a busy worker); after that the tick covers it.
TIMEOUT_STEP_EXPIRES_S = 5


class SentTask:
    """What a send gives back instead of Celery's AsyncResult, which nothing here reads.

    Making an AsyncResult makes the thread's result backend, once per thread: a Redis
    client, whose making reads the redis package's metadata through the email parser. That
    was 1.2 of a send's 1.6 ms of CPU in a new thread, and Django runs each view in a new
    thread (a client's batch that wakes the proposer, say).
    """

    __slots__ = ("id", "ignored")  # send_task sets ``ignored`` on whatever result it makes

    def __init__(self, task_id: str) -> None:
        self.id = task_id


def task_send(name: str, *, args: tuple = (), **options) -> None:
    """Queue the task ``name``; ``options`` as ``apply_async`` takes them (countdown, expires).

    Every chain task ignores its result, as ``CELERY_TASK_IGNORE_RESULT`` says, and says so
    itself: a process that never imported chain.tasks sends the very same message. No task
    sent here is a child of the one that sends it (nothing reads a task's children).
    """
    current_app.send_task(
        name, args=args, ignore_result=True, result_cls=SentTask, add_to_parent=False, **options
    )


def consensus_step_soon() -> None:
    """Queue a consensus step unless one is already waiting: one step sees every stored message."""
    if cache.add(STEP_QUEUED, 1, timeout=5):
        task_send(CONSENSUS_STEP)


def consensus_step_for_bodies() -> None:
    """Queue a step that judges a proposal whose bodies just arrived (no ``step_needed``
    would see it: its message was processed when the bodies were missing)."""
    task_send(CONSENSUS_STEP, args=(False,))


def consensus_step_queued() -> bool:
    """Whether a consensus step waits in the queue (beat's tick leaves the work to it)."""
    return cache.get(STEP_QUEUED) is not None


def consensus_step_started() -> None:
    """The queued step runs: messages stored from now on queue another."""
    cache.delete(STEP_QUEUED)


def sync_soon() -> None:
    """Queue a catch-up from the peers (one of them is ahead)."""
    task_send(SYNC)


def followers_push_soon(height: int) -> None:
    """Queue the push of a committed block to the registered followers (the general worker's
    queue: HTTP to followers never holds up a consensus step)."""
    task_send(FOLLOWERS_PUSH, args=(height,))


def blocks_follow_soon(bodies: list) -> None:
    """Queue the blocks a validator pushed to this follower (applied one at a time, as sync is)."""
    task_send(BLOCKS_FOLLOW, args=(bodies,))


def proposal_bodies_fetch_soon(block_hash: str, tx_hashes: list[str]) -> None:
    """Queue a fetch of a proposed block's missing bodies (then a step), unless one was queued lately."""
    if cache.add(f"proposal-bodies-fetch:{block_hash}", 1, timeout=BODIES_FETCH_EVERY_S):
        task_send(PROPOSAL_BODIES_FETCH, args=(block_hash, tx_hashes))


def consensus_resend_soon() -> None:
    """Queue the resend of a stalled height's messages."""
    task_send(CONSENSUS_RESEND)


class TimeoutTimer:
    """This process's armed timer: the due time (ms) of the timeout step it queued last,
    while that step has not run yet. One timer at a time: when it fires, it arms the next.
    """

    def __init__(self) -> None:
        self.armed_ms: int | None = None

    def arm(self, due_ms: int) -> None:
        """Queue a consensus step for when a timeout falls due (the worker holds it until then).

        Only when it is due before the timer already armed: that one fires first and
        arms the next. Most timeouts never fire (the height decides first), so a
        height queues about one timer instead of one for each timeout it sets. Beat's
        tick still finds any timeout whose step was lost (a worker restart, say).
        """
        now = clock.now_ms()  # the worker's clock: it holds the task until then
        armed = self.armed_ms
        if armed is not None and now <= armed + TIMEOUT_STEP_EXPIRES_S * 1000 and armed <= due_ms:
            return
        delay_s = max(0.0, (due_ms - now) / 1000)
        task_send(
            CONSENSUS_TIMEOUT, args=(due_ms,), countdown=delay_s, expires=delay_s + TIMEOUT_STEP_EXPIRES_S
        )
        self.armed_ms = due_ms

    def fired(self, due_ms: int | None) -> None:
        """The step queued for ``due_ms`` runs: the timer is free for the next timeout."""
        if self.armed_ms == due_ms:
            self.armed_ms = None


#: The one timer of this process (the consensus worker arms it; so may any process that steps).
timeout_timer = TimeoutTimer()


def consensus_step_at(due_ms: int) -> None:
    """A consensus step when ``due_ms`` falls due, through this process's timer."""
    timeout_timer.arm(due_ms)
