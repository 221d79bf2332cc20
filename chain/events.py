"""Live events, sent to browsers and stream clients after a block commits.

Group ``chain`` gets every block. A block's event carries the accounts it
touched (when few) so wallet pages refresh only when their account changed.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

CHAIN_GROUP = "chain"
PARTIES_INLINE_MAX = 500


def block_committed(block, parties: list[str], ledger_events: list[dict]) -> None:
    layer = get_channel_layer()
    message = {
        "type": "chain.block",
        "height": block.height,
        "hash": block.hash,
        "tx_count": block.tx_count,
        "timestamp_ms": block.timestamp_ms,
        "parties": parties if len(parties) <= PARTIES_INLINE_MAX else None,
        "events": ledger_events[:PARTIES_INLINE_MAX],
    }
    try:
        async_to_sync(layer.group_send)(CHAIN_GROUP, message)
    except Exception:  # a dead Redis must not undo a committed block
        log.exception("Could not broadcast block %s", block.height)
