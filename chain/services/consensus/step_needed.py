"""Whether a consensus step has anything to do: a few cheap reads instead of a whole step."""

import json

from django.db import connection

from chain import clock
from chain.caches import LatestKeyCache
from chain.ledger.block import begin_block_due_from
from chain.node import node_address
from chain.selectors import validator_set_at
from chain.store import DatabaseStore

#: What step_needed reads, in one statement: a task asks it twice, before and under the lock.
STEP_NEEDED_SQL = """
    SELECT h.height, h.block_hash, h.state_root, h.params::text,
           EXISTS (SELECT 1 FROM chain_consensusmessage m WHERE m.height = h.height + 1 AND NOT m.processed),
           s.height, s.started, s.timeouts::text,
           EXISTS (SELECT 1 FROM chain_mempooltx)
      FROM chain_chainhead h LEFT JOIN chain_consensusstate s ON s.id = 1
"""


def step_needed(*, start_any: bool = False) -> bool:
    """Whether a step has anything to do: one cheap read instead of a whole step.

    A step is needed when peer messages of the height wait, when a timeout is
    due, or, before the height started here, when there is work and this site
    proposes its first round. The other validators start the height when the
    proposal (or any message) arrives; beat's tick passes ``start_any`` so that
    they also start it without one, which arms the propose timeout that moves
    past a proposer that is down.
    """
    with connection.cursor() as cursor:
        cursor.execute(STEP_NEEDED_SQL)
        head_height, block_hash, state_root, params, waiting, height, started, timeouts, pooled = (
            cursor.fetchone()
        )
    if waiting:
        return True
    if height == head_height + 1:
        now = clock.now_ms()
        if any(due <= now for due, *_ in json.loads(timeouts)):
            return True
        if started:
            return False
    if not (pooled or begin_block_due_now(block_hash, state_root, json.loads(params))):
        return False
    return start_any or proposes_first(block_hash, state_root)


def proposes_first(block_hash: str, state_root: str) -> bool:
    """Whether this site proposes round 0 of the height after the head ``block_hash``."""
    return validator_set_at(block_hash, state_root).proposer(0) == node_address()


def _due_from_at_head(block_hash: str, state_root: str, params: dict) -> int | None:
    return begin_block_due_from(DatabaseStore(), params)


#: When begin-block work falls due after the head: read once per head, not at every
#: step and tick of a quiet chain (four hooks' index reads each time).
head_due_from_cache: LatestKeyCache[int | None] = LatestKeyCache(_due_from_at_head)


def begin_block_due_now(block_hash: str, state_root: str, params: dict) -> bool:
    """Whether begin-block work (order expiry, gate closure, settlement, governance) is due now
    after the head ``block_hash`` (whose state root and parameters follow it)."""
    due_from = head_due_from_cache.get(block_hash, state_root, params)
    return due_from is not None and due_from <= clock.now_ms()
