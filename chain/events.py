"""Live events, sent to browsers and stream clients after a block commits.

Group ``chain`` gets every block. A block's event carries the accounts it
touched (when few) so wallet pages refresh only when their account changed.

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
                log.exception("Could not broadcast block %s", message.get("height"))


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
