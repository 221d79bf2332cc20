"""The grid stream: ws/grid/ (docs/PROTOCOL.md, "Grid stream").

After each block commits, a client gets one message per grid event of that
block, in block order, each with ``type``, ``height`` and the event's fields:

- ``grid_report``: an authority's figures (``time_ms``, ``regions`` with
  frequency_mhz, voltage_permille, load_kw, generation_kw, renewable_ppm,
  carbon_g_per_kwh; ``paths`` with path_id and flow_kw);
- ``grid_path_limit``: the grid operator limited a path (congested, capacity_mw,
  from_slot_ms, until_slot_ms, reason);
- ``grid_alarm``: the frequency left the band (``active`` true, with the region,
  its frequency and ``paused_until_slot_ms``) or came back (``active`` false);
- ``paths_changed``: a cross-zone trade used path capacity (no other fields).

The first message is ``subscribed``.
"""

from chain.consumers import ChainGroupConsumer
from chain.events import CHAIN_GROUP

GRID_EVENTS = frozenset({"grid_report", "grid_path_limit", "grid_alarm"})


class GridStreamConsumer(ChainGroupConsumer):
    async def connect(self):
        await self.channel_layer.group_add(CHAIN_GROUP, self.channel_name)
        await self.accept()
        await self.send_json({"type": "subscribed", "events": sorted(GRID_EVENTS | {"paths_changed"})})

    async def chain_block(self, message):
        crossed = False
        for event in message["events"]:
            kind = event["type"]
            if kind in GRID_EVENTS:
                await self.send_json({**event, "height": message["height"]})
            elif kind == "trade" and event.get("buyer_zone") != event.get("seller_zone"):
                crossed = True
        if crossed:
            await self.send_json({"type": "paths_changed", "height": message["height"]})
