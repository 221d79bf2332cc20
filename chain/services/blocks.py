"""Block production on this site, and the chain's set-up from genesis.

A block is applied in one database transaction: read the mempool, execute in
the ledger core, then write with one statement per table. Anything raised
before the commit leaves the previous state exactly as it was.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from chain import events
from chain.ledger.block import (
    BlockHeader,
    begin_block_due,
    block_merkle_root,
    execute_block,
    mine,
    params_after,
    required_difficulty,
    sign_precommit,
    validators_hash,
)
from chain.ledger.genesis import Genesis, demo_key
from chain.ledger.state import ACCUMULATOR_MOD, State, leaf_value, state_root
from chain.ledger.tx import Transaction
from chain.models import Block, ChainHead, DroppedTx, Validator
from chain.store import DatabaseStore, binary_cursor, write_records

log = logging.getLogger(__name__)

#: pg advisory lock id: one block producer at a time per database.
PRODUCER_LOCK = 0x67747862  # "gtxb"


class ChainAlreadyInitialised(Exception):
    pass


def chain_init(genesis: Genesis) -> ChainHead:
    """Write the genesis state. Running it again with the same genesis changes nothing."""
    with transaction.atomic():
        head = ChainHead.objects.select_for_update().first()
        if head is not None:
            if head.genesis_hash != genesis.hash:
                raise ChainAlreadyInitialised(
                    f"This database holds chain {head.chain_id} from another genesis "
                    f"({head.genesis_hash[:12]}…); use a fresh database."
                )
            return head
        records = genesis.records()
        by_table: dict[str, list] = {}
        for record in records:
            by_table.setdefault(record.table, []).append(record)
        write_records(by_table)
        accumulator = sum(leaf_value(r.table, r) for r in records) % ACCUMULATOR_MOD
        return ChainHead.objects.create(
            chain_id=genesis.chain_id,
            genesis_hash=genesis.hash,
            params=genesis.params,
            height=0,
            block_hash=genesis.hash,
            accumulator=accumulator.to_bytes(256, "big").hex(),
            state_root=state_root(accumulator),
            total_supply=sum(r.total_tokens for r in by_table.get("account", [])),
        )


def demo_users_create(genesis: Genesis, password: str) -> list[str]:
    """Demo logins for genesis accounts (keys from public demo seeds) and a staff admin."""
    from chain.services.wallets import wallet_create

    User = get_user_model()
    created = []
    for entry in genesis.accounts:
        user, new = User.objects.get_or_create(
            username=entry["username"], defaults={"first_name": entry["display_name"][:150]}
        )
        if new:
            user.set_password(password)
            user.save(update_fields=["password"])
            wallet_create(
                user=user, role=entry["role"], region=entry["region"], key=demo_key(entry["username"])
            )
            created.append(entry["username"])
    admin, new = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    if new:
        admin.set_password(password)
        admin.save(update_fields=["password"])
        created.append("admin")
    return created


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def block_produce(node_key) -> Block | None:
    """Make the next block from the mempool, if there is anything to include.

    Takes a transaction-scoped advisory lock, so concurrent calls (beat ticks
    overlapping a slow block) simply return None.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [PRODUCER_LOCK])
            if not cursor.fetchone()[0]:
                return None
        head = ChainHead.objects.select_for_update().get()
        params = head.params
        pending = _mempool_take(head.chain_id, params["max_block_txs"])
        height = head.height + 1
        last_ms = int(head.last_block_at.timestamp() * 1000) if head.last_block_at else 0
        timestamp_ms = max(_now_ms(), last_ms + 1)
        store = DatabaseStore()
        if not pending.txs and not begin_block_due(store, timestamp_ms, params):
            return None
        state = State(store, int(head.accumulator, 16))
        result = execute_block(
            state,
            pending.txs,
            chain_id=head.chain_id,
            height=height,
            timestamp_ms=timestamp_ms,
            params=params,
            strict=False,
            verify_signatures=False,
        )
        if pending.ids:
            with binary_cursor() as cursor:
                cursor.execute("DELETE FROM chain_mempooltx WHERE id = ANY(%b)", [pending.ids])
        if result.dropped:
            DroppedTx.objects.bulk_create(
                [
                    DroppedTx(
                        hash=tx.hash,
                        sender=tx.sender,
                        nonce=tx.nonce,
                        kind=tx.kind,
                        error_code=exc.code,
                        error_message=exc.message,
                    )
                    for tx, exc in result.dropped
                ],
                ignore_conflicts=True,
            )
        if not result.included and not state.dirty_records():
            return None
        active = list(
            Validator.objects.filter(active=True, jailed=False).values_list("public_key", flat=True)
        )
        header = mine(
            BlockHeader(
                chain_id=head.chain_id,
                height=height,
                timestamp_ms=timestamp_ms,
                previous_hash=head.block_hash,
                merkle_root=block_merkle_root(result.included),
                state_root=head.state_root,
                proposer=node_key.verify_key.encode().hex(),
                round=0,
                difficulty=required_difficulty(result.energy, params),
                nonce=0,
                tx_count=len(result.included),
                energy=result.energy,
                validators_hash=validators_hash(active),
            )
        )
        block = Block.objects.create(
            height=height,
            hash=header.hash,
            previous_hash=header.previous_hash,
            timestamp_ms=timestamp_ms,
            merkle_root=header.merkle_root,
            state_root=header.state_root,
            proposer=header.proposer,
            round=header.round,
            difficulty=header.difficulty,
            nonce=header.nonce,
            tx_count=header.tx_count,
            energy=header.energy,
            validators_hash=header.validators_hash,
            commit_certificate=[sign_precommit(node_key, header)],
            result_state_root=state.root,
        )
        tx_party_lists = [tx_parties(tx) for tx in result.included]
        _chain_txs_copy(height, result, tx_party_lists, pending.stored)
        write_records(state.dirty_records())
        head.height = height
        head.block_hash = header.hash
        head.last_block_at = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
        head.accumulator = state.accumulator.to_bytes(256, "big").hex()
        head.state_root = state.root
        head.params = params_after(params, state)
        head.save(
            update_fields=["height", "block_hash", "last_block_at", "accumulator", "state_root", "params"]
        )
        # Events name accounts a transaction touched without naming them in its
        # payload (the resting side of a trade, the grid operator's fee).
        parties = sorted(
            {party for tx_party_list in tx_party_lists for party in tx_party_list}
            | {party for event in result.events for party in event.get("parties", ())}
        )
        transaction.on_commit(lambda: events.block_committed(block, parties, result.events))
    return block


@dataclass(frozen=True, slots=True)
class _Mempool:
    """What a block takes from the mempool, in admission order."""

    ids: list[int]
    txs: list[Transaction]
    #: hash -> (payload, received_at) as PostgreSQL wrote them: COPY reads them back unchanged.
    stored: dict[str, tuple[str, str]]


def _mempool_take(chain_id: str, limit: int) -> _Mempool:
    """The oldest ``limit`` mempool transactions, without ORM objects.

    Admission verified each signature and computed each hash from these same
    fields, so the transactions carry their hash. The payloads are decoded
    with one ``json.loads`` for the block, not one call per transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, hash, sender, nonce, kind, payload::text, signature, received_at::text "
            "FROM chain_mempooltx ORDER BY id LIMIT %s",
            [limit],
        )
        rows = cursor.fetchall()
    payloads = json.loads("[" + ",".join([row[5] for row in rows]) + "]")
    return _Mempool(
        [row[0] for row in rows],
        [
            Transaction.with_known_hash(hash_, chain_id, sender, nonce, kind, payload, signature)
            for (_, hash_, sender, nonce, kind, _, signature, _), payload in zip(rows, payloads, strict=True)
        ],
        {row[1]: (row[5], row[7]) for row in rows},
    )


def _chain_txs_copy(
    height: int, result, parties: list[list[str]], stored: dict[str, tuple[str, str]]
) -> None:
    """Every included transaction with its receipt, in one COPY.

    The rows are written as COPY text here: psycopg's ``write_row`` looks up a
    dumper for every value, which costs three times as much per transaction.
    """
    lines = []
    rows = zip(result.included, result.receipts, parties, strict=True)
    for position, (tx, receipt, tx_party_list) in enumerate(rows):
        payload_json, received_at = stored[tx.hash]
        lines.append(
            copy_text_line(
                (
                    tx.hash,
                    height,
                    position,
                    tx.sender,
                    tx.nonce,
                    tx.kind,
                    payload_json,
                    tx.signature,
                    receipt.ok,
                    receipt.code,
                    receipt.message,
                    tx_party_list,
                    received_at,
                )
            )
        )
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY chain_chaintx (hash, block_id, position, sender, nonce, kind, payload, signature, ok, "
            "error_code, error_message, parties, received_at) FROM STDIN"
        ) as copy:
            copy.write("".join(lines))


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab, newline and carriage return escaped."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _array_element(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def copy_text_line(row: tuple) -> str:
    """One row of COPY text: str, int, bool or a list of str per column, none of them NULL."""
    fields = []
    for value in row:
        if isinstance(value, str):
            fields.append(_copy_text(value))
        elif isinstance(value, bool):
            fields.append("t" if value else "f")
        elif isinstance(value, int):
            fields.append(str(value))
        else:  # a text[] array literal, each element quoted
            fields.append(_copy_text("{" + ",".join([_array_element(v) for v in value]) + "}"))
    return "\t".join(fields) + "\n"


def tx_parties(tx: Transaction) -> list[str]:
    """Accounts a transaction concerns: its sender and any address in its payload."""
    parties = {tx.sender}
    for key in ("to", "counterparty", "owner"):
        value = tx.payload.get(key)
        if isinstance(value, str) and len(value) == 64:
            parties.add(value)
    return sorted(parties)
