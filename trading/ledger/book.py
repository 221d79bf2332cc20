"""The matcher: an in-memory price-time order book of one delivery slot.

It knows orders only as ``Resting`` entries and returns fills; it reads and
writes no ledger records (trading.ledger.matching turns fills into records and
escrow moves). Rules, as in docs/PROTOCOL.md "Market":

- an arriving order meets the best opposite price first (lowest ask for a buy,
  highest bid for a sell), the earliest order first at one price, and trades at
  the resting order's price; partial fills on both sides;
- a resting order the arriving one may not trade with is passed over, never an
  error: the same owner (no self-trade), an order of a private deal that names
  another account than the other's owner (either side may name one: the pair
  trades only if each names the other's owner or no one), a source the buy
  does not accept, a different zone with no route on which every path has free
  capacity left in this slot;
- a fill between zones takes one route, the first of the rules' routes from
  the seller's zone to the buyer's (cheapest first, see trading.ledger.rules)
  on which every path has free capacity, and at most the least free capacity
  along it; each path of the route uses that many Wh. When that route runs
  out before the resting order does, the arriving order moves on to the next
  resting order (one fill per pair of orders: the trade id joins both ids);
- whatever is left of the arriving order rests behind the orders already at
  its price.

Structures: per side a dict from price key to a FIFO deque of entries, and the
price keys in a sorted list with the best price last (bids keyed by price,
asks by minus price), so taking the best level is ``list[-1]`` and removing it
``list.pop()``. A dict by order id serves cancels, which only mark the entry
(``remaining = 0``); the matcher drops such entries when it meets them.
"""

from bisect import insort
from collections import deque


class Resting:
    """One order as the matcher sees it; ``remaining`` is the matcher's own count."""

    __slots__ = ("order_id", "owner", "zone", "price", "remaining", "source", "accepts", "counterparty")

    def __init__(
        self,
        order_id: str,
        owner: str,
        zone: str,
        price: int,
        remaining: int,
        source: str = "",
        accepts: frozenset | None = None,
        counterparty: str = "",
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.zone = zone
        self.price = price
        self.remaining = remaining
        #: Sell: its energy source. Buy: "".
        self.source = source
        #: Buy: the sources it takes, or None for any. Sell: None.
        self.accepts = accepts
        #: The only owner it trades with, or "" for anyone.
        self.counterparty = counterparty


def parse_accepts(accepts: str) -> frozenset | None:
    """An Order record's ``accepts`` ("any" or comma-joined sources) as the matcher wants it."""
    return None if accepts == "any" else frozenset(accepts.split(","))


class Book:
    """Open orders of one delivery slot and the free capacity of each path in it.

    ``routes`` maps (seller zone, buyer zone) to its routes, cheapest first
    (``MarketRules.routes``); ``free_wh`` maps a path key to the Wh still free
    on it in this slot.
    """

    __slots__ = ("bids", "asks", "bid_keys", "ask_keys", "orders", "routes", "free_wh")

    def __init__(self, routes: dict[tuple[str, str], tuple], free_wh: dict[tuple, int]) -> None:
        self.bids: dict[int, deque] = {}
        self.asks: dict[int, deque] = {}
        self.bid_keys: list[int] = []
        self.ask_keys: list[int] = []
        self.orders: dict[str, Resting] = {}
        self.routes = routes
        self.free_wh = free_wh

    def rest(self, entry: Resting, is_buy: bool) -> None:
        """Queue ``entry`` behind the orders at its price (callers add in time order)."""
        if is_buy:
            levels, keys, key = self.bids, self.bid_keys, entry.price
        else:
            levels, keys, key = self.asks, self.ask_keys, -entry.price
        queue = levels.get(key)
        if queue is None:
            queue = levels[key] = deque()
            insort(keys, key)
        queue.append(entry)
        self.orders[entry.order_id] = entry

    def cancel(self, order_id: str) -> None:
        entry = self.orders.pop(order_id, None)
        if entry is not None:
            entry.remaining = 0

    def open_route(self, seller_zone: str, buyer_zone: str):
        """The first route from ``seller_zone`` to ``buyer_zone`` with room on every path, and that room."""
        free_wh = self.free_wh
        for route in self.routes.get((seller_zone, buyer_zone), ()):
            free = min(free_wh[key] for key in route.path_keys)
            if free > 0:
                return route, free
        return None, 0

    def place(self, taker: Resting, is_buy: bool) -> list[tuple[Resting, int, object]]:
        """Match ``taker`` and rest what is left; returns fills (maker, Wh, Route or None).

        The maker's price is the fill's price; the maker's ``remaining`` is
        already reduced, and so is the taker's.
        """
        fills = []
        remaining = taker.remaining
        if is_buy:
            levels, keys, limit = self.asks, self.ask_keys, -taker.price
        else:
            levels, keys, limit = self.bids, self.bid_keys, taker.price
        owner, zone, source, accepts = taker.owner, taker.zone, taker.source, taker.accepts
        counterparty = taker.counterparty
        orders, free_wh = self.orders, self.free_wh
        i = len(keys) - 1
        while i >= 0 and keys[i] >= limit:
            key = keys[i]
            queue = levels[key]
            j = 0
            while j < len(queue):
                maker = queue[j]
                left = maker.remaining
                if not left:  # cancelled since it was queued
                    del queue[j]
                    continue
                if maker.owner == owner:
                    j += 1
                    continue
                if (counterparty and maker.owner != counterparty) or (
                    maker.counterparty and maker.counterparty != owner
                ):
                    j += 1
                    continue
                if is_buy:
                    if accepts is not None and maker.source not in accepts:
                        j += 1
                        continue
                elif maker.accepts is not None and source not in maker.accepts:
                    j += 1
                    continue
                energy_wh = remaining if remaining < left else left
                route = None
                if maker.zone != zone:
                    route, free = (
                        self.open_route(maker.zone, zone) if is_buy else self.open_route(zone, maker.zone)
                    )
                    if route is None:
                        j += 1
                        continue
                    if energy_wh > free:
                        energy_wh = free
                    for path in route.path_keys:
                        free_wh[path] -= energy_wh
                remaining -= energy_wh
                left -= energy_wh
                maker.remaining = left
                fills.append((maker, energy_wh, route))
                if left:
                    j += 1  # the route ran out before the maker did
                else:
                    del queue[j]
                    del orders[maker.order_id]
                if not remaining:
                    break
            if not queue:
                del levels[key]
                del keys[i]
            if not remaining:
                break
            i -= 1
        taker.remaining = remaining
        if remaining:
            self.rest(taker, is_buy)
        return fills
