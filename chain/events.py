"""Live events, sent to browsers and stream clients after a block commits.

Group ``chain`` gets every block. A block's event carries the accounts it
touched (when few) so wallet pages refresh only when their account changed.

A block's events of FEED_EVENT_TYPES are also kept with the block (chain.models.LedgerEvent),
for a person's activity feed; the others (grid reports, meter readings: many a second) are
sent live only. ``wallet.<address>`` groups reach one person's open pages: their
transaction was dropped, so no block will say so.

Events leave from one event loop per process, in a daemon thread: the commit
that sends one does not wait for Redis (``async_to_sync`` would also start a
loop, and the layer a Redis connection, for every block).
"""

import asyncio
import logging
import threading

from channels.layers import get_channel_layer

from chain.caches import PerProcess

log = logging.getLogger(__name__)

CHAIN_GROUP = "chain"
PARTIES_INLINE_MAX = 500

#: Events naming the accounts they concern: fills, order closes (cancel, expiry, gate
#: closure), settlement, tokens in and out.
PARTY_EVENT_TYPES = frozenset(
    {
        "trade",
        "order_cancelled",
        "trade_settled",
        "token_minted",
        "token_burnt",
        "cashout_requested",
        "cashout_released",
        # standing agreements (trading.ledger.agreements): both parties see each step
        "agreement_offered",
        "agreement_accepted",
        "agreement_ended",
        "agreement_withdrawn",
        "agreement_declined",
        "agreement_completed",
        # a producer's certificate of its unsold export (a buyer's comes with trade_settled)
        "certificate_issued",
    }
)
#: Events every feed shows: a proposal decided or carried out concerns every account.
PUBLIC_EVENT_TYPES = frozenset({"governance_tallied", "governance_executed"})
FEED_EVENT_TYPES = PARTY_EVENT_TYPES | PUBLIC_EVENT_TYPES
#: The party a stored public event names (no address is one): a feed reads the rows naming
#: its account or this one with one index scan.
EVERYONE = "*"


def feed_events(ledger_events: list[dict]) -> list[tuple[int, dict]]:
    """The events of a block the feed keeps, each with its place among all the block's events."""
    return [
        (position, event)
        for position, event in enumerate(ledger_events)
        if event.get("type") in PUBLIC_EVENT_TYPES
        or (event.get("type") in PARTY_EVENT_TYPES and event.get("parties"))
    ]


def wallet_group(address: str) -> str:
    """The Channels group of one account's open pages (an address is 64 hex characters)."""
    return f"wallet.{address}"


class _Sender:
    """An event loop in a daemon thread that sends queued events in order."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        threading.Thread(
            target=self.loop.run_until_complete, args=(self._run(),), name="gtx-events", daemon=True
        ).start()

    def put(self, group: str, message: dict) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message))

    async def _run(self) -> None:
        layer = get_channel_layer()
        while True:
            group, message = await self.queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:  # a dead Redis must not undo a committed block
                log.exception("Could not send %s to %s", message.get("type"), group)


#: This process's sender: an event loop and a thread of its own per process (Celery forks its workers).
event_senders: PerProcess[_Sender] = PerProcess(_Sender)


def block_committed(block, parties: list[str], ledger_events: list[dict]) -> None:
    message = {
        "type": "chain.block",
        "height": block.height,
        "hash": block.hash,
        "tx_count": block.tx_count,
        "timestamp_ms": block.timestamp_ms,
        "parties": parties if len(parties) <= PARTIES_INLINE_MAX else None,
        "events": ledger_events[:PARTIES_INLINE_MAX],
    }
    event_senders.get().put(CHAIN_GROUP, message)


def transactions_dropped(senders: list[str]) -> None:
    """Tell the senders' open pages that a transaction of theirs left the mempool unwritten."""
    sender = event_senders.get()
    for address in sorted(set(senders)):
        sender.put(wallet_group(address), {"type": "wallet.dropped", "address": address})
