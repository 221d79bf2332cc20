"""The market stream and wallet refreshes, over the real Redis channel layer, after commit."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from chain.consumers import ChainStreamConsumer
from gridtokenx_site.routing import websocket_urlpatterns
from trading import selectors
from trading.services import order_cancel, order_place

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections"),
]

ROUTES = URLRouter(websocket_urlpatterns)


def _place(users, who, side, zone, slot, kwh, price, **extra):
    return order_place(
        wallet=users[who].wallet,
        side=side,
        energy_wh=kwh * 1000,
        price_per_kwh=price,
        zone=zone,
        delivery_slot=slot,
        **extra,
    )


place = database_sync_to_async(_place)
cancel = database_sync_to_async(order_cancel)


async def connect(path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(ROUTES, path)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_the_stream_pushes_a_slot_and_zones_orders_trades_and_cancels(users, produce):
    slot = (await database_sync_to_async(selectors.slots_open)(count=2))[1]
    produce_ = database_sync_to_async(produce)
    stream = await connect(f"/ws/market/?slot={slot}&zone=bangkok")
    try:
        assert await stream.receive_json_from(timeout=5) == {
            "type": "subscribed",
            "slot": slot,
            "zone": "bangkok",
        }

        resting = await place(users, "solar_somchai", "sell", "bangkok", slot, 100, 3_500_000, source="solar")
        # Above the buy below: north reaches bangkok over a route, but this ask does not cross.
        north_ask = await place(users, "hydro_nan", "sell", "north", slot, 10, 4_500_000, source="hydro")
        # A bid elsewhere is nothing a Bangkok buyer can take: not sent.
        await place(users, "wind_korat", "buy", "northeast", slot, 1, 1_000_000, sources="any")
        await produce_()
        placed = await stream.receive_json_from(timeout=5)
        assert (placed["type"], placed["order_id"], placed["remaining_wh"]) == (
            "order_placed",
            resting.hash,
            100_000,
        )
        assert "parties" not in placed
        reachable = await stream.receive_json_from(timeout=5)  # a Bangkok buy may take it over a route
        assert (reachable["type"], reachable["order_id"], reachable["zone"]) == (
            "order_placed",
            north_ask.hash,
            "north",
        )

        arriving = await place(users, "home_malee", "buy", "bangkok", slot, 50, 4_000_000, sources="any")
        await produce_()
        trade = await stream.receive_json_from(timeout=5)
        assert (trade["type"], trade["sell_order_id"], trade["buy_order_id"]) == (
            "trade",
            resting.hash,
            arriving.hash,
        )
        assert (trade["energy_wh"], trade["price_per_kwh"], trade["height"]) == (50_000, 3_500_000, 2)
        filled = await stream.receive_json_from(timeout=5)
        assert (filled["type"], filled["status"], filled["remaining_wh"]) == ("order_placed", "filled", 0)

        await cancel(wallet=users["solar_somchai"].wallet, order_id=resting.hash)
        await produce_()
        cancelled = await stream.receive_json_from(timeout=5)
        assert (cancelled["type"], cancelled["order_id"], cancelled["remaining_wh"]) == (
            "order_cancelled",
            resting.hash,
            50_000,
        )
        assert await stream.receive_nothing(timeout=0.3)  # the northeast bid was never sent
    finally:
        await stream.disconnect()


async def test_a_bad_filter_is_an_error_and_the_stream_closes(chain):
    stream = await connect("/ws/market/?zone=mars")
    try:
        message = await stream.receive_json_from(timeout=5)
        assert message["type"] == "error" and message["error"]["code"] == "bad_query"
        assert (await stream.receive_output(timeout=5))["code"] == 4400
    finally:
        await stream.disconnect()


async def test_a_trade_refreshes_the_resting_sellers_wallet(users, produce):
    slot = (await database_sync_to_async(selectors.slots_open)(count=2))[1]
    await place(users, "solar_somchai", "sell", "bangkok", slot, 10, 3_000_000, source="solar")
    await database_sync_to_async(produce)()
    seller = WebsocketCommunicator(ChainStreamConsumer.as_asgi(), "/ws/chain/")
    seller.scope["user"] = users["solar_somchai"]
    assert (await seller.connect())[0]
    try:
        await place(users, "home_malee", "buy", "bangkok", slot, 10, 3_000_000, sources="any")
        await database_sync_to_async(produce)()
        assert (await seller.receive_json_from(timeout=5))["type"] == "block"
        wallet = await seller.receive_json_from(timeout=5)
        assert wallet == {"type": "wallet", "address": users["solar_somchai"].wallet.address, "height": 2}
    finally:
        await seller.disconnect()
