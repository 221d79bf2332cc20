"""The chain's WebSocket stream, for browsers and API clients (docs/PROTOCOL.md).

Every client gets ``block`` messages. A logged-in user also gets ``wallet``
when a block touched their account, so the wallet page refreshes at once.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from chain.events import CHAIN_GROUP
from chain.models import ChainTx


class ChainGroupConsumer(AsyncJsonWebsocketConsumer):
    """A stream fed by the ``chain.block`` broadcast of every committed block (chain.events).

    Clients may ping to keep an idle connection open through proxies.
    """

    async def disconnect(self, code):
        await self.channel_layer.group_discard(CHAIN_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})


class ChainStreamConsumer(ChainGroupConsumer):
    async def connect(self):
        self.address = await self._user_address()
        await self.channel_layer.group_add(CHAIN_GROUP, self.channel_name)
        await self.accept()

    async def chain_block(self, message):
        await self.send_json(
            {
                "type": "block",
                "height": message["height"],
                "hash": message["hash"],
                "tx_count": message["tx_count"],
                "timestamp_ms": message["timestamp_ms"],
                "events": message["events"],
            }
        )
        if self.address and await self._touched(message):
            await self.send_json({"type": "wallet", "address": self.address, "height": message["height"]})

    async def _touched(self, message) -> bool:
        if message["parties"] is not None:
            return self.address in message["parties"]
        return await database_sync_to_async(
            ChainTx.objects.filter(block_id=message["height"], parties__contains=[self.address]).exists
        )()

    @database_sync_to_async
    def _user_address(self) -> str | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None
        wallet = getattr(user, "wallet", None)
        return wallet.address if wallet else None
