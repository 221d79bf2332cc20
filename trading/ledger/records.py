"""The market's ledger records: orders, trades, and line usage per delivery slot.

All of them are part of the state root. Money in units (10^-6 token), energy in
Wh, prices and fees in units per kWh, times in Unix ms.
"""

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import ClassVar

OPEN = "open"
FILLED = "filled"
CANCELLED = "cancelled"
EXPIRED = "expired"
GATE_CLOSED = "gate_closed"


@dataclass(frozen=True, slots=True)
class Order:
    """An order; its id is the hash of the transaction that placed it.

    ``open_slot_ms`` and ``open_expires_ms`` repeat the delivery slot and the
    expiry while the order is open and are 0 once it is closed: they are the
    indexes the matcher and the block's expiry sweep read ranges of.
    """

    table: ClassVar[str] = "order"
    order_id: str
    owner: str
    side: str
    zone: str
    delivery_slot_ms: int
    price_per_kwh: int
    energy_wh: int
    remaining_wh: int
    #: Sell: its energy source. Buy: "".
    source: str
    #: Buy: "any" or accepted sources, sorted and comma-joined. Sell: "".
    accepts: str
    #: The only account it may trade with (a private deal), or "" for anyone.
    counterparty: str
    #: Buy: the wheeling fees its escrow covers (dearest route into its zone).
    max_fee_per_kwh: int
    #: Buy: tokens still locked (see trading.ledger.rules). A sell locks remaining_wh.
    escrow_tokens: int
    status: str
    placed_height: int
    #: Order of placement within its block: time priority is (placed_height, seq).
    seq: int
    placed_ms: int
    expires_ms: int
    closed_height: int
    open_slot_ms: int
    open_expires_ms: int

    @property
    def key(self) -> str:
        return self.order_id

    def accepts_source(self, source: str) -> bool:
        return self.accepts == "any" or source in self.accepts.split(",")


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill. The buyer paid ``paid_tokens`` to the seller (held until settlement) and
    ``wheeling_fee_tokens`` to the grid operator; ``carbon_g`` is the CO2 the traded Wh
    would avoid (renewable only), ``delivered_carbon_g`` what the delivered Wh did."""

    table: ClassVar[str] = "trade"
    trade_id: str
    height: int
    seq: int
    timestamp_ms: int
    delivery_slot_ms: int
    buy_order_id: str
    sell_order_id: str
    buyer: str
    seller: str
    taker_side: str
    buyer_zone: str
    seller_zone: str
    source: str
    energy_wh: int
    price_per_kwh: int
    paid_tokens: int
    wheeling_fee_tokens: int
    carbon_g: int
    #: Settlement (settlement.ledger.delivery): the slot while the trade waits for it, 0 after;
    #: then the Wh the seller's meters delivered to it, the units returned to the buyer
    #: for the rest, the CO2 the delivered renewable Wh avoided, and the block that settled it.
    unsettled_slot_ms: int = 0
    delivered_wh: int = 0
    refund_tokens: int = 0
    delivered_carbon_g: int = 0
    settled_height: int = 0
    #: The zones the energy crossed, seller's first, comma-separated: one zone for a trade
    #: within a zone, else every transmission path's ends in order (trading.ledger.book).
    route: str = ""

    @property
    def key(self) -> str:
        return self.trade_id

    @property
    def route_zones(self) -> list[str]:
        return self.route.split(",") if self.route else [self.seller_zone]


@dataclass(frozen=True, slots=True)
class LineUsage:
    """Energy scheduled over one transmission path in one delivery slot (both directions)."""

    table: ClassVar[str] = "line_usage"
    usage_id: str
    delivery_slot_ms: int
    zone_a: str
    zone_b: str
    used_wh: int
    capacity_wh: int

    @property
    def key(self) -> str:
        return self.usage_id

    @staticmethod
    def id_of(delivery_slot_ms: int, zone_a: str, zone_b: str) -> str:
        return f"{delivery_slot_ms}:{zone_a}:{zone_b}"


@dataclass(frozen=True, slots=True)
class CallClearing:
    """How one zone's call auction for one delivery slot cleared (trading.ledger.auction).

    ``price_per_kwh`` is 0 when no bid met an ask. ``bid_wh`` and ``ask_wh`` are what
    the call held when it cleared; ``volume_wh`` what traded, in ``fills`` trades.
    """

    table: ClassVar[str] = "call_clearing"
    clearing_id: str
    delivery_slot_ms: int
    zone: str
    height: int
    price_per_kwh: int
    volume_wh: int
    fills: int
    bids: int
    asks: int
    bid_wh: int
    ask_wh: int

    @property
    def key(self) -> str:
        return self.clearing_id

    @staticmethod
    def id_of(delivery_slot_ms: int, zone: str) -> str:
        return f"{delivery_slot_ms}:{zone}"


@dataclass(frozen=True, slots=True)
class CallOrders:
    """How many orders a zone's call for one slot has taken, cancelled ones included: its bound."""

    table: ClassVar[str] = "call_orders"
    call_id: str
    delivery_slot_ms: int
    zone: str
    placed: int

    @property
    def key(self) -> str:
        return self.call_id

    @staticmethod
    def id_of(delivery_slot_ms: int, zone: str) -> str:
        return f"{delivery_slot_ms}:{zone}"


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
#: Per record class: a getter of all fields at once, and each field's position.
_UPDATERS: dict[type, tuple[attrgetter, dict[str, int]]] = {}


def field_names(record_class: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(record_class)
    if names is None:
        names = _FIELD_NAMES[record_class] = tuple(f.name for f in fields(record_class))
    return names


def updated(record, **changes):
    """``dataclasses.replace`` without its per-call introspection: the matcher's hot path."""
    record_class = type(record)
    updater = _UPDATERS.get(record_class)
    if updater is None:
        names = field_names(record_class)
        updater = _UPDATERS[record_class] = (attrgetter(*names), {n: i for i, n in enumerate(names)})
    getter, position = updater
    values = list(getter(record))
    for name, value in changes.items():
        values[position[name]] = value
    return record_class(*values)
