"""When a consensus step is worth running: the proposer starts a height for work, the others wait for it."""

import time

import pytest
from django.db import transaction

from chain import task_queue
from chain.consensus.machine import Message
from chain.ledger.genesis import demo_key
from chain.models import ConsensusMessage, ConsensusState
from chain.node import node_key_write, node_signing_key
from chain.services.consensus.step import consensus_step
from chain.services.consensus.step_needed import step_needed
from chain.services.consensus.stored import consensus_prune, height_messages
from tests.chain.consensus.test_proposals import admitted


@pytest.fixture
def another_node(settings, tmp_path):
    """Run this site under MEA's key: a validator that does not propose here (solo genesis: EGAT does)."""

    def switch():
        settings.GTX_NODE_KEY_FILE = str(tmp_path / "other_node_key")
        node_key_write(demo_key("MEA"))
        node_signing_key.cache_clear()

    yield switch
    node_signing_key.cache_clear()


def test_no_step_without_work_messages_or_timeouts(chain):
    assert not step_needed()
    assert not step_needed(start_any=True)


def test_work_wakes_the_proposer_and_beats_tick_wakes_anyone(chain, another_node):
    admitted("factory_rayong")
    assert step_needed()

    another_node()
    assert not step_needed(), "work alone: a non-proposer waits for the proposal"
    assert step_needed(start_any=True), "beat's tick starts the height (its propose timeout)"


def test_a_peer_message_of_the_height_wakes_anyone(chain, another_node):
    another_node()
    ConsensusMessage.objects.create(height=1, round=0, type="prevote", sender="ab" * 32, signature="cd" * 64)
    assert step_needed()

    ConsensusMessage.objects.update(processed=True)
    assert not step_needed()


def test_a_task_step_that_is_not_needed_changes_nothing(chain, another_node):
    admitted("factory_rayong")
    another_node()

    assert consensus_step(node_signing_key(), when_needed=True) is None
    assert not ConsensusState.objects.exists(), "no step ran"

    consensus_step(node_signing_key(), when_needed=True, start_any=True)
    assert ConsensusState.objects.get().height == 1, "beat's tick ran the step"


def test_beats_tick_prunes_the_messages_of_decided_heights_only(chain, produce):
    admitted("factory_rayong")
    produce()  # height 1 decided
    ConsensusMessage.objects.create(height=1, round=0, type="prevote", sender="ab" * 32, signature="cd" * 64)
    ConsensusMessage.objects.create(height=2, round=0, type="prevote", sender="ab" * 32, signature="cd" * 64)

    consensus_prune()

    assert list(ConsensusMessage.objects.values_list("height", flat=True)) == [2]


@pytest.fixture
def timer(monkeypatch):
    """The timeout timer's queued steps (due ms), with nothing armed to start with."""
    queued = []
    monkeypatch.setattr(task_queue, "timeout_timer", task_queue.TimeoutTimer())
    send = task_queue.task_send

    def send_or_record(name, *, args=(), **options):
        if name == task_queue.CONSENSUS_TIMEOUT:
            queued.append(args[0])
        else:
            send(name, args=args, **options)

    monkeypatch.setattr(task_queue, "task_send", send_or_record)
    return queued


def test_a_timeout_due_after_the_armed_timer_queues_no_step(timer):
    now = time.time_ns() // 1_000_000
    task_queue.consensus_step_at(now + 3000)  # a propose timeout
    task_queue.consensus_step_at(now + 1000)  # a prevote timeout, due sooner
    task_queue.consensus_step_at(now + 2000)  # due after the armed one: it arms this when it fires

    assert timer == [now + 3000, now + 1000]


def test_a_fired_timer_arms_the_next_pending_timeout_and_not_a_stale_one(chain, timer):
    from chain.tasks import consensus_timeout

    now = time.time_ns() // 1_000_000
    # The row of a decided height (0) keeps its timeouts until the next height starts here.
    ConsensusState.objects.create(
        id=1, height=0, timeouts=[[now - 5000, "prevote", 0, 0], [now + 4000, "precommit", 0, 1]]
    )
    task_queue.consensus_step_at(now + 100)
    consensus_timeout(now + 100)

    assert timer == [now + 100, now + 4000], "the past timeout is not armed again"


def test_a_step_reads_its_heights_messages_and_marks_the_fresh_ones_in_one_statement(chain):
    def stored(height: int, sender: str, processed: bool) -> Message:
        ConsensusMessage.objects.create(
            height=height, round=0, type="prevote", sender=sender, signature="cd" * 64, processed=processed
        )
        return Message("prevote", height, 0, sender, "", -1)

    first, fresh_a = stored(5, "a1" * 32, True), stored(5, "a2" * 32, False)
    second, fresh_b = stored(5, "a3" * 32, True), stored(5, "a4" * 32, False)
    stored(6, "a5" * 32, False)

    with transaction.atomic():
        assert height_messages(5) == ([first, second], [fresh_a, fresh_b])

    assert not ConsensusMessage.objects.filter(height=5, processed=False).exists()
    assert ConsensusMessage.objects.filter(height=6, processed=False).count() == 1
    assert height_messages(5) == ([first, fresh_a, second, fresh_b], [])  # in arrival order
