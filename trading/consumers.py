"""The market stream: ws/market/?slot=<Unix ms>&zone=<region id> (both optional).

After each block commits, a client gets one message per market event of that
block that matches its filter, in block order (docs/PROTOCOL.md, "Market stream"):

- ``order_placed``: an order that entered the block; ``remaining_wh`` is what
  rests on the book after its own trades (0 and status "filled" if none rests);
- ``trade``: a fill, with both orders, both parties, price, energy and fees;
- ``order_cancelled``: cancelled, expired or gate-closed (``status`` says which);
  ``remaining_wh`` is what left the book.

Each message has ``type``, ``height`` and the event's fields. A trade matches a
zone if either side is in it; an order its own zone, and a sell order also every
zone a route of transmission paths reaches from its zone (a buy there may take it).
The first message is ``subscribed`` with the filter.
"""

import re
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from chain.consumers import ChainGroupConsumer
from chain.events import CHAIN_GROUP
from chain.ledger.fields import is_digits
from trading.selectors import market_rules

MARKET_EVENTS = frozenset({"order_placed", "order_cancelled", "trade", "call_cleared"})
#: ASCII digits only: str.isdigit() also takes digits int() cannot read ("²").
SLOT_MS = re.compile(r"[0-9]{1,16}")


class MarketStreamConsumer(ChainGroupConsumer):
    async def connect(self):
        await self.accept()
        # latin-1 reads any bytes; percent-escapes decode as UTF-8 with replacement.
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        problem = await self._set_filter(query.get("slot", [""])[0], query.get("zone", [""])[0])
        if problem:
            await self.send_json({"type": "error", "error": {"code": "bad_query", "message": problem}})
            await self.close(code=4400)
            return
        await self.channel_layer.group_add(CHAIN_GROUP, self.channel_name)
        await self.send_json({"type": "subscribed", "slot": self.slot_ms, "zone": self.zone})

    async def chain_block(self, message):
        for event in message["events"]:
            if event["type"] in MARKET_EVENTS and self._wants(event):
                data = {k: v for k, v in event.items() if k != "parties"}
                await self.send_json({**data, "height": message["height"]})

    def _wants(self, event: dict) -> bool:
        if self.slot_ms is not None and event["delivery_slot_ms"] != self.slot_ms:
            return False
        if self.zone is None:
            return True
        if event["type"] == "trade":
            return self.zone in (event["buyer_zone"], event["seller_zone"])
        if event.get("side") == "sell":
            return event["zone"] in self.ask_zones
        return event["zone"] == self.zone

    @database_sync_to_async
    def _set_filter(self, slot: str, zone: str) -> str | None:
        rules = market_rules()
        self.slot_ms = self.zone = None
        self.ask_zones = frozenset()
        if slot:
            if not is_digits(slot, 16) or int(slot) % rules.slot_ms:
                return "slot must be a slot start in Unix ms (a multiple of the slot length)."
            self.slot_ms = int(slot)
        if zone:
            if zone not in rules.carbon_g_per_kwh:
                return f"zone must be one of: {', '.join(sorted(rules.carbon_g_per_kwh))}."
            self.zone = zone
            # The asks a buy in this zone may take: its own, and those a route brings in.
            self.ask_zones = frozenset({zone} | {seller for seller, buyer in rules.routes if buyer == zone})
        return None
