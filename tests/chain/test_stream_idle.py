"""A WebSocket that sits idle keeps receiving blocks (no drop when Redis reads time out)."""

import asyncio

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from chain.events import CHAIN_GROUP
from gridtokenx_site.asgi import application

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True)]


async def test_an_idle_stream_still_gets_the_next_block():
    communicator = WebsocketCommunicator(
        application, "/ws/chain/", headers=[(b"origin", b"http://127.0.0.1")]
    )
    connected, _ = await communicator.connect()
    assert connected
    try:
        await asyncio.sleep(7)  # longer than the layer's 5 s blocking read
        await get_channel_layer().group_send(
            CHAIN_GROUP,
            {
                "type": "chain.block",
                "height": 9,
                "hash": "ab" * 32,
                "tx_count": 0,
                "timestamp_ms": 1,
                "parties": [],
                "events": [],
            },
        )
        message = await communicator.receive_json_from(timeout=5)
        assert message["type"] == "block" and message["height"] == 9
    finally:
        await communicator.disconnect()
