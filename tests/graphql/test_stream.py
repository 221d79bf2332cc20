"""GraphQL subscriptions on ws/graphql... at /graphql/, over the real Redis channel layer:
new blocks and trades after commit, filters, and the per-client bound on streams."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from chain.consumers import CLOSE_TOO_BIG, CLOSE_TOO_MANY
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from gridtokenx_site.graphql_endpoints import MAX_STREAM_FRAME
from gridtokenx_site.routing import websocket_urlpatterns
from tests.trading.harness import buy, sell
from trading import selectors as market
from trading.services import order_place

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections"),
]

ROUTES = URLRouter(websocket_urlpatterns)


async def open_stream() -> WebsocketCommunicator:
    """A graphql-transport-ws connection, initialised."""
    stream = WebsocketCommunicator(ROUTES, "/graphql/", subprotocols=["graphql-transport-ws"])
    connected, subprotocol = await stream.connect()
    assert connected and subprotocol == "graphql-transport-ws"
    await stream.send_json_to({"type": "connection_init"})
    assert (await stream.receive_json_from(timeout=5))["type"] == "connection_ack"
    return stream


async def subscribe(stream: WebsocketCommunicator, query: str, variables: dict | None = None) -> None:
    await stream.send_json_to(
        {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
    )


async def next_payload(stream: WebsocketCommunicator, timeout: float = 5) -> dict:
    message = await stream.receive_json_from(timeout=timeout)
    assert message["type"] == "next", message
    return message["payload"]


def transfer_block(users, produce):
    transaction_sign_submit(
        key=wallet_key_open(users["home_malee"].wallet),
        kind="transfer",
        payload={"to": users["solar_somchai"].wallet.address, "amount": 1},
    )
    return produce()


async def first_block_after(stream, users, produce) -> tuple[dict, object]:
    """Blocks until the stream tells of one (its group is joined as the subscription starts).

    receive_nothing waits without ending the connection, as a timed-out receive would.
    """
    for _ in range(5):
        block = await database_sync_to_async(transfer_block)(users, produce)
        if not await stream.receive_nothing(timeout=1):
            return (await next_payload(stream)), block
    raise AssertionError("no block reached the subscription")


async def test_a_subscription_gets_each_new_block(users, produce):
    stream = await open_stream()
    try:
        await subscribe(stream, "subscription { blocks { height hash txCount timestampMs } }")
        payload, block = await first_block_after(stream, users, produce)
        assert payload["data"]["blocks"] == {
            "height": str(block.height),
            "hash": block.hash,
            "txCount": 1,
            "timestampMs": str(block.timestamp_ms),
        }
        block = await database_sync_to_async(transfer_block)(users, produce)
        assert (await next_payload(stream))["data"]["blocks"]["height"] == str(block.height)
    finally:
        await stream.disconnect()


async def test_a_trade_subscription_gets_the_trades_of_its_zone_only(users, produce):
    slot = (await database_sync_to_async(market.slots_open)(count=2))[1]
    stream = await open_stream()
    try:
        await subscribe(
            stream,
            'subscription($slot: BigInt) { trades(slotMs: $slot, zone: "north") '
            "{ tradeId buyerZone sellerZone energyWh pricePerKwh paidTokens } }",
            {"slot": str(slot)},
        )
        place = database_sync_to_async(order_place)
        for attempt in range(3):
            # A trade in bangkok the filter drops, then one in north it passes.
            await place(wallet=users["solar_somchai"].wallet, **sell(slot, kwh=1))
            await place(wallet=users["home_malee"].wallet, **buy(slot, kwh=1))
            await place(wallet=users["hydro_nan"].wallet, **sell(slot, zone="north", kwh=2, source="hydro"))
            await place(wallet=users["wind_korat"].wallet, **buy(slot, zone="north", kwh=2))
            await database_sync_to_async(produce)()
            if not await stream.receive_nothing(timeout=1 + attempt):
                trade = (await next_payload(stream))["data"]["trades"]
                break
        else:
            raise AssertionError("no trade reached the subscription")
        assert (trade["buyerZone"], trade["sellerZone"], trade["energyWh"]) == ("north", "north", "2000")
        assert trade["paidTokens"] == str(2 * int(trade["pricePerKwh"]))
        assert await stream.receive_nothing(timeout=0.3)  # the bangkok trade never came
    finally:
        await stream.disconnect()


async def test_a_bad_filter_is_refused(chain):
    stream = await open_stream()
    try:
        await subscribe(stream, 'subscription { trades(zone: "atlantis") { tradeId } }')
        message = await stream.receive_json_from(timeout=5)
        assert message["type"] == "error" or message["payload"].get("errors"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "bad_query"
    finally:
        await stream.disconnect()


async def test_graphql_streams_count_against_the_client_s_streams(chain, settings):
    settings.GTX_STREAMS_PER_CLIENT = 1
    first = await open_stream()
    try:
        refused = WebsocketCommunicator(ROUTES, "/graphql/", subprotocols=["graphql-transport-ws"])
        connected, _ = await refused.connect()
        assert connected
        assert (await refused.receive_output(timeout=5))["code"] == CLOSE_TOO_MANY
        chain_stream = WebsocketCommunicator(ROUTES, "/ws/chain/")
        await chain_stream.connect()
        assert (await chain_stream.receive_json_from(timeout=5))["error"]["code"] == "too_many_streams"
        await chain_stream.disconnect()
    finally:
        await first.disconnect()
    again = await open_stream()  # the slot came back
    await again.disconnect()


async def test_queries_are_refused_on_the_stream(chain):
    stream = await open_stream()
    try:
        await subscribe(stream, "{ blocks { height } }")
        message = await stream.receive_json_from(timeout=5)
        assert message["type"] == "error"
        assert "not allowed" in message["payload"][0]["message"]
    finally:
        await stream.disconnect()


async def test_a_frame_too_long_closes_the_stream(chain):
    stream = await open_stream()
    await stream.send_to(text_data="x" * (MAX_STREAM_FRAME + 1))
    assert (await stream.receive_output(timeout=5))["code"] == CLOSE_TOO_BIG
    await stream.disconnect()
