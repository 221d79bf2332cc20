"""The matcher: an in-memory price-time order book of one delivery slot.

It knows orders only as ``Resting`` entries and returns fills; it reads and
writes no ledger records (trading.ledger.matching turns fills into records and
escrow moves). Rules, as in docs/PROTOCOL.md "Market":

- an arriving order meets the best opposite price first (lowest ask for a buy,
  highest bid for a sell), the earliest order first at one price, and trades at
  the resting order's price; partial fills on both sides;
- a resting order the arriving one may not trade with is passed over, never an
  error: the same owner (no self-trade), a source the buy does not accept, a
  different zone with no direct path or no free capacity left on the path in
  this slot; a fill between zones takes at most the path's free capacity;
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

    __slots__ = ("order_id", "owner", "zone", "price", "remaining", "source", "accepts")

    def __init__(
        self,
        order_id: str,
        owner: str,
        zone: str,
        price: int,
        remaining: int,
        source: str = "",
        accepts: frozenset | None = None,
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


def parse_accepts(accepts: str) -> frozenset | None:
    """An Order record's ``accepts`` ("any" or comma-joined sources) as the matcher wants it."""
    return None if accepts == "any" else frozenset(accepts.split(","))


class Book:
    """Open orders of one delivery slot and the free capacity of each path in it.

    ``paths`` maps an ordered zone pair, both ways round, to its path key;
    ``free_wh`` maps a path key to the Wh still free on it in this slot.
    """

    __slots__ = ("bids", "asks", "bid_keys", "ask_keys", "orders", "paths", "free_wh")

    def __init__(self, paths: dict[tuple[str, str], tuple], free_wh: dict[tuple, int]) -> None:
        self.bids: dict[int, deque] = {}
        self.asks: dict[int, deque] = {}
        self.bid_keys: list[int] = []
        self.ask_keys: list[int] = []
        self.orders: dict[str, Resting] = {}
        self.paths = paths
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

    def place(self, taker: Resting, is_buy: bool) -> list[tuple[Resting, int, tuple | None]]:
        """Match ``taker`` and rest what is left; returns fills (maker, Wh, path key or None).

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
        orders, paths, free_wh = self.orders, self.paths, self.free_wh
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
                if is_buy:
                    if accepts is not None and maker.source not in accepts:
                        j += 1
                        continue
                elif maker.accepts is not None and source not in maker.accepts:
                    j += 1
                    continue
                energy_wh = remaining if remaining < left else left
                path = None
                if maker.zone != zone:
                    path = paths.get((zone, maker.zone))
                    if path is None:
                        j += 1
                        continue
                    free = free_wh[path]
                    if free <= 0:
                        j += 1
                        continue
                    if energy_wh > free:
                        energy_wh = free
                    free_wh[path] = free - energy_wh
                remaining -= energy_wh
                left -= energy_wh
                maker.remaining = left
                fills.append((maker, energy_wh, path))
                if left:
                    j += 1  # the path ran out before the maker did
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
