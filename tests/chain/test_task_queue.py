"""Work queued by task name reaches the tasks chain/tasks.py registers, on the queues they always had."""

import threading
import uuid
from unittest import mock

from celery import current_app
from celery.app.base import Celery
from django.conf import settings

from chain import task_queue
from chain import tasks as chain_tasks  # noqa: F401 - registers the chain's tasks, as a worker's start does
from treasury import tasks as treasury_tasks  # noqa: F401 - and the treasury's, which beat fires in development


def test_every_name_the_queue_sends_is_a_chain_task_and_every_chain_task_has_a_name_there():
    registered = {name for name in current_app.tasks if name.startswith("chain.")}

    assert set(task_queue.TASK_NAMES) == registered


def test_beat_fires_registered_tasks_only():
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= set(current_app.tasks)


def test_the_chains_tasks_go_to_the_consensus_worker_and_the_vacuum_and_fetches_to_the_other_one():
    """The routes apply to a task sent by name as to one sent by its function. A fetch of a
    proposal's bodies waits on peers: the consensus worker steps on meanwhile."""
    general = settings.CELERY_TASK_DEFAULT_QUEUE
    consensus = general + settings.GTX_CONSENSUS_QUEUE_SUFFIX
    queues = {name: current_app.amqp.router.route({}, name)["queue"].name for name in task_queue.TASK_NAMES}

    assert queues == {
        name: general
        if name
        in (
            task_queue.VACUUM_CHURNING,
            task_queue.PROPOSAL_BODIES_FETCH,
            task_queue.FOLLOWERS_PUSH,
            task_queue.MEMPOOL_FORWARD_AGAIN,
            task_queue.SCALING_COORDINATE,
            task_queue.INTAKE_SHARD_ADMIT,
        )
        else consensus
        for name in task_queue.TASK_NAMES
    }


def test_a_send_from_a_new_thread_queues_the_task_and_makes_no_result_backend():
    """Django runs each view in a thread of its own. Celery's AsyncResult would make that
    thread's result backend (a Redis client, and the redis package's metadata read again),
    which no chain task's sender reads."""
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-send-{uuid.uuid4().hex[:8]}"  # this test's own
    failures = []

    def send():
        try:
            task_queue.task_send(task_queue.CONSENSUS_STEP, queue=queue)
        except Exception as exc:
            failures.append(exc)

    made = AssertionError("a result backend was made")
    with (
        current_app.connection_for_write() as conn,
        mock.patch.object(Celery, "_get_backend", side_effect=made),
    ):
        sender = threading.Thread(target=send)
        sender.start()
        sender.join()
        client = conn.default_channel.client
        try:
            assert (failures, client.llen(queue)) == ([], 1)
        finally:
            client.delete(queue)
