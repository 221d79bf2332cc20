"""Writing a decided block: its row, its transactions, the changed records, the mempool, the head."""

import json
from datetime import UTC, datetime

from django.db import transaction

from chain import events
from chain.ledger.tx import Transaction
from chain.models import Block, ChainHead
from chain.services.admission import IntakeHead, held_release, room_after_commit
from chain.services.blocks.chain_tx_copy import chain_txs_copy
from chain.services.blocks.check import BuiltBlock
from chain.services.mempool import held_senders, mempool_drop_stale, mempool_remove
from chain.store import binary_cursor, write_records


def block_write(head: ChainHead, built: BuiltBlock, certificate: list[dict]) -> Block:
    """Write a decided block and its state changes; the caller's transaction makes it atomic.

    Expects the consensus lock and ``head`` locked (select_for_update) and
    still at ``built.base_hash``. Events go out after commit.
    """
    header, result, state = built.header, built.result, built.state
    if head.block_hash != built.base_hash:
        raise RuntimeError("The head moved since the block was executed.")
    block = Block.objects.create(
        height=header.height,
        hash=header.hash,
        previous_hash=header.previous_hash,
        timestamp_ms=header.timestamp_ms,
        merkle_root=header.merkle_root,
        state_root=header.state_root,
        proposer=header.proposer,
        round=header.round,
        difficulty=header.difficulty,
        nonce=header.nonce,
        tx_count=header.tx_count,
        energy=header.energy,
        validators_hash=header.validators_hash,
        commit_certificate=certificate,
        result_state_root=state.root,
    )
    stored = mempool_remove(built.txs)
    tx_party_lists = [tx_parties(tx) for tx in result.included]
    chain_txs_copy(header.height, result, tx_party_lists, stored)
    write_records(built.dirty)
    feed_events_write(header.height, result.events)
    mempool_drop_stale(head.chain_id, built.txs, header.height)
    if waiting_successors := held_senders(sorted({tx.sender for tx in built.txs})):
        # Their predecessors are committed now: held successors may join the mempool.
        transaction.on_commit(lambda: held_release(waiting_successors), robust=True)
    head.height = header.height
    head.block_hash = header.hash
    head.last_block_at = datetime.fromtimestamp(header.timestamp_ms / 1000, tz=UTC)
    head.accumulator = state.accumulator.to_bytes(256, "big").hex()
    head.state_root = state.root
    head.params = built.next_params
    # Supply changes only by the mint (verified renewable export) and burn (slashing) rules.
    head.total_supply += header.energy.get("minted_units", 0) - header.energy.get("burned_units", 0)
    head.save(
        update_fields=[
            "height",
            "block_hash",
            "last_block_at",
            "accumulator",
            "state_root",
            "params",
            "total_supply",
        ]
    )
    # Events name accounts a transaction touched without naming them in its
    # payload (the resting side of a trade, the grid operator's fee).
    parties = sorted(
        {party for tx_party_list in tx_party_lists for party in tx_party_list}
        | {party for event in result.events for party in event.get("parties", ())}
    )
    transaction.on_commit(lambda: events.block_committed(block, parties, result.events))
    # The web processes' intake doors learn that the mempool has room again (chain.api.shed).
    intake = IntakeHead(head.chain_id, header.height, built.next_params)
    transaction.on_commit(lambda: room_after_commit(intake), robust=True)
    return block


def feed_events_write(height: int, ledger_events: list[dict]) -> None:
    """The block's events an activity feed shows (chain.events.feed_events), in one statement."""
    kept = events.feed_events(ledger_events)
    if not kept:
        return
    with binary_cursor() as cursor:
        cursor.execute(
            "INSERT INTO chain_ledgerevent (height, position, type, parties, data) "
            "SELECT %b, p, t, CASE WHEN t = ANY(%b) THEN ARRAY[%b] "
            "ELSE ARRAY(SELECT jsonb_array_elements_text(d::jsonb -> 'parties')) END, d::jsonb "
            "FROM unnest(%b::int[], %b::text[], %b::text[]) AS u(p, t, d)",
            [
                height,
                sorted(events.PUBLIC_EVENT_TYPES),
                events.EVERYONE,
                [position for position, _ in kept],
                [event["type"] for _, event in kept],
                [json.dumps(event, separators=(",", ":")) for _, event in kept],
            ],
        )


def tx_parties(tx: Transaction) -> list[str]:
    """Accounts a transaction concerns: its sender and any address in its payload."""
    parties = {tx.sender}
    for key in ("to", "counterparty", "owner"):
        value = tx.payload.get(key)
        if isinstance(value, str) and len(value) == 64:
            parties.add(value)
    return sorted(parties)
