"""ws/grid/ over the real Redis channel layer: reports, limits and cross-zone trades, after commit."""

import random

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from grid.services import grid_report_tick, path_limit_set
from gridtokenx_site.routing import websocket_urlpatterns
from trading import selectors
from trading.services import order_place

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections"),
]

ROUTES = URLRouter(websocket_urlpatterns)


async def connect() -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(ROUTES, "/ws/grid/")
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "subscribed"
    return communicator


async def test_the_stream_pushes_each_committed_report(users, produce):
    stream = await connect()
    try:
        tx = await database_sync_to_async(grid_report_tick)(rng=random.Random(3))
        assert await stream.receive_nothing(timeout=0.3)  # admitted is not committed
        block = await database_sync_to_async(produce)()
        message = await stream.receive_json_from(timeout=5)
        assert message["type"] == "grid_report" and message["height"] == block.height
        assert message["time_ms"] == tx.payload["time_ms"]
        assert [r["region"] for r in message["regions"]] == [r["region"] for r in tx.payload["regions"]]
        assert len(message["paths"]) == 7
    finally:
        await stream.disconnect()


async def test_the_stream_tells_of_limits_and_of_trades_between_zones(users, produce):
    stream = await connect()
    try:
        slot = (await database_sync_to_async(selectors.slots_open)(count=2))[1]
        place = database_sync_to_async(order_place)
        await place(
            wallet=users["bkk_community_solar"].wallet,
            side="sell",
            energy_wh=10_000,
            price_per_kwh=3_000_000,
            zone="bangkok",
            delivery_slot=slot,
            source="solar",
        )
        await place(
            wallet=users["factory_rayong"].wallet,
            side="buy",
            energy_wh=5_000,
            price_per_kwh=4_000_000,
            zone="east",
            delivery_slot=slot,
            sources="any",
        )
        await database_sync_to_async(produce)()
        assert (await stream.receive_json_from(timeout=5))["type"] == "paths_changed"

        await database_sync_to_async(path_limit_set)(
            zone_a="east", zone_b="bangkok", from_slot=slot, congested=True, reason="test"
        )
        await database_sync_to_async(produce)()
        message = await stream.receive_json_from(timeout=5)
        assert message["type"] == "grid_path_limit"
        assert (message["path_id"], message["congested"], message["from_slot_ms"]) == (
            "bangkok:east",
            True,
            slot,
        )
    finally:
        await stream.disconnect()
