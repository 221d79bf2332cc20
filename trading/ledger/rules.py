"""Market rules from the genesis parameters: sources, delivery slots, grid paths, escrow.

Integers only. Money is in units (10^-6 token), energy in Wh, prices and
wheeling fees in units per kWh, so ``wh`` at ``price`` is worth wh*price/1000 units.

Rounding (docs/PROTOCOL.md, "Market"):

- a lock rounds up: a buy with R Wh left at limit L, in a zone whose dearest
  route (``Route``) costs F per kWh in wheeling fees, holds ceil(R*(L+F)/1000) units;
- a payment rounds down, path by path: a fill of w Wh at price p over a route
  of paths with fees f1..fn pays floor(w*p/1000) to the seller and
  floor(w*f1/1000) + ... + floor(w*fn/1000) to the grid operator; the
  remainders of those floors are never charged (they stay with the buyer);
- after each fill the buy holds exactly the lock of what is left; the rest of
  what the fill released (price improvement, a cheaper or no route, rounding)
  goes back to the buyer's balance.

A fill never pays more than it releases, because
ceil(R*K/1000) - ceil((R-w)*K/1000) >= floor(w*K/1000)
>= floor(w*p/1000) + floor(w*f1/1000) + ... + floor(w*fn/1000) for K = L+F >= p+f1+...+fn.

Routes: a fill between zones goes over a route, a chain of direct paths with no
zone twice and at most ``max_route_hops`` paths (genesis, default
``DEFAULT_MAX_ROUTE_HOPS``). Every route between every two zones is listed once
per genesis (``MarketRules.routes``, cached with the rules), cheapest first:
by the sum of its wheeling fees, then fewer paths, then its zone ids from the
seller's zone to the buyer's compared as a tuple of strings. The matcher takes
the first route on which every path has free capacity in the slot.
"""

from dataclasses import dataclass

from chain.ledger import errors
from chain.ledger.errors import LedgerError
from chain.ledger.fields import is_identifier, require_hex64
from chain.ledger.tx import is_int, require_amount, require_fields

BUY, SELL = "buy", "sell"
SOURCES = ("solar", "wind", "hydro", "biomass", "grid")
RENEWABLE_SOURCES = frozenset(SOURCES) - {"grid"}
ANY_SOURCE = "any"
WH_PER_KWH = 1000
MS_PER_MINUTE = 60_000
#: The most paths a route may have, unless genesis says otherwise (bounds the route search).
DEFAULT_MAX_ROUTE_HOPS = 4
#: How far ahead a delivery slot may be ordered, unless genesis says otherwise.
DEFAULT_HORIZON_MINUTES = 7 * 24 * 60

# Error codes of the market, importable by views and tests.
UNKNOWN_ZONE = "unknown_zone"
UNKNOWN_SOURCE = "unknown_source"
BAD_PRICE = "bad_price"
BAD_SLOT = "bad_slot"
SLOT_CLOSED = "slot_closed"
BAD_EXPIRY = "bad_expiry"
INSUFFICIENT_ENERGY = errors.INSUFFICIENT_ENERGY
ORDER_NOT_FOUND = "order_not_found"
ORDER_CLOSED = "order_closed"
SELF_COUNTERPARTY = "self_counterparty"
NOT_IN_CALL = "not_in_call"
CALL_FULL = "call_full"
#: The most orders one call takes unless genesis says otherwise (``max_call_orders``): its
#: clearing block writes about 2.5 records per order (bench.auction).
DEFAULT_MAX_CALL_ORDERS = 10_000

#: The parameter naming the zones whose slots clear by call auction (trading.ledger.auction).
CALL_AUCTION_ZONES = "call_auction_zones"


@dataclass(frozen=True, slots=True)
class Path:
    """A direct transmission path, usable in both directions; both share its capacity."""

    zone_a: str
    zone_b: str
    capacity_wh_per_slot: int
    wheeling_fee_per_kwh: int


@dataclass(frozen=True, slots=True)
class Route:
    """Paths from a seller's zone (``zones[0]``) to a buyer's (``zones[-1]``), no zone twice."""

    zones: tuple[str, ...]
    #: The keys in ``MarketRules.paths`` of the paths, in order along the route.
    path_keys: tuple[tuple[str, str], ...]
    #: The sum of the paths' wheeling fees per kWh.
    fee_per_kwh: int

    @property
    def order_key(self) -> tuple:
        """Cheapest first, then fewer paths, then the zone ids: a total order (zones differ)."""
        return (self.fee_per_kwh, len(self.path_keys), self.zones)


def routes_of(paths: dict[tuple[str, str], Path], zones, max_hops: int) -> dict[tuple[str, str], tuple]:
    """Every route of at most ``max_hops`` paths, per (seller zone, buyer zone), cheapest first.

    A depth-first walk from each zone over neighbours in sorted order; the
    result is sorted by ``Route.order_key``, so it does not depend on the walk.
    """
    neighbours: dict[str, list[tuple[str, tuple[str, str]]]] = {zone: [] for zone in zones}
    for key in sorted(paths):
        a, b = key
        neighbours[a].append((b, key))
        neighbours[b].append((a, key))
    routes: dict[tuple[str, str], list[Route]] = {}

    def walk(trail: list[str], keys: list[tuple[str, str]], fee: int) -> None:
        if keys:
            route = Route(tuple(trail), tuple(keys), fee)
            routes.setdefault((trail[0], trail[-1]), []).append(route)
        if len(keys) == max_hops:
            return
        for zone, key in neighbours[trail[-1]]:
            if zone not in trail:
                trail.append(zone)
                keys.append(key)
                walk(trail, keys, fee + paths[key].wheeling_fee_per_kwh)
                keys.pop()
                trail.pop()

    for zone in sorted(zones):
        walk([zone], [], 0)
    return {pair: tuple(sorted(found, key=lambda r: r.order_key)) for pair, found in routes.items()}


@dataclass(frozen=True)
class MarketRules:
    slot_ms: int
    gate_closure_ms: int
    horizon_ms: int
    min_price_per_kwh: int
    max_price_per_kwh: int
    max_order_wh: int
    grid_operator: str
    carbon_g_per_kwh: dict[str, int]
    paths: dict[tuple[str, str], Path]
    #: The dearest route's wheeling fees a buy in each zone could pay: what its escrow covers.
    max_fee_per_kwh: dict[str, int]
    #: (seller zone, buyer zone) to its routes, cheapest first (see ``routes_of``).
    routes: dict[tuple[str, str], tuple[Route, ...]]
    #: Zones whose slots clear once, at gate closure, at one price (trading.ledger.auction).
    call_auction_zones: frozenset = frozenset()
    max_call_orders: int = DEFAULT_MAX_CALL_ORDERS

    @classmethod
    def of(cls, params: dict) -> "MarketRules":
        slot_minutes = params["slot_minutes"]
        paths = {}
        for p in params["transmission"]:
            a, b = sorted((p["from"], p["to"]))
            # MW over a slot: MW * 10^6 Wh/h * slot_minutes / 60.
            capacity_wh = p["capacity_mw"] * 1_000_000 * slot_minutes // 60
            paths[(a, b)] = Path(a, b, capacity_wh, p["wheeling_fee_per_kwh"])
        zones = {r["id"]: r["carbon_g_per_kwh"] for r in params["regions"]}
        routes = routes_of(paths, zones, params.get("max_route_hops", DEFAULT_MAX_ROUTE_HOPS))
        max_fee = {
            zone: max(
                (found[-1].fee_per_kwh for (_, buyer), found in routes.items() if buyer == zone), default=0
            )
            for zone in zones
        }
        return cls(
            slot_ms=slot_minutes * MS_PER_MINUTE,
            gate_closure_ms=params["gate_closure_minutes"] * MS_PER_MINUTE,
            horizon_ms=params.get("max_slot_ahead_minutes", DEFAULT_HORIZON_MINUTES) * MS_PER_MINUTE,
            min_price_per_kwh=params["min_price_per_kwh"],
            max_price_per_kwh=params["max_price_per_kwh"],
            max_order_wh=params["max_order_kwh"] * WH_PER_KWH,
            grid_operator=params["grid_operator"],
            carbon_g_per_kwh=zones,
            paths=paths,
            max_fee_per_kwh=max_fee,
            routes=routes,
            call_auction_zones=frozenset(params.get(CALL_AUCTION_ZONES, ())),
            max_call_orders=params.get("max_call_orders", DEFAULT_MAX_CALL_ORDERS),
        )

    def path_between(self, zone_a: str, zone_b: str) -> Path | None:
        return self.paths.get((zone_a, zone_b) if zone_a < zone_b else (zone_b, zone_a))

    def first_open_slot_ms(self, now_ms: int) -> int:
        """The earliest delivery slot still open for orders at ``now_ms``."""
        return (now_ms + self.gate_closure_ms) // self.slot_ms * self.slot_ms + self.slot_ms


_last_rules: tuple[dict | None, MarketRules | None] = (None, None)


def rules_of(params: dict) -> MarketRules:
    """Rules of ``params``, remembered for the last params object (blocks reuse one)."""
    global _last_rules
    cached_params, rules = _last_rules
    if cached_params is not params:
        rules = MarketRules.of(params)
        _last_rules = (params, rules)
    return rules


def buy_lock_units(remaining_wh: int, price_per_kwh: int, max_fee_per_kwh: int) -> int:
    """Tokens a buy holds for what it may still pay: rounded up, see the module docstring."""
    return -(-remaining_wh * (price_per_kwh + max_fee_per_kwh) // WH_PER_KWH)


def value_units(energy_wh: int, per_kwh: int) -> int:
    """What ``energy_wh`` costs at ``per_kwh`` units per kWh, rounded down: payments."""
    return energy_wh * per_kwh // WH_PER_KWH


# --- payload checks (stateless) ------------------------------------------------

PLACE_FIELDS = {
    "side",
    "energy_wh",
    "price_per_kwh",
    "zone",
    "delivery_slot",
    "source",
    "sources",
    "expires_ms",
    "counterparty",
}
#: What an order may leave out: without ``expires_ms`` it stays until its gate closes,
#: without ``counterparty`` it trades with anyone.
PLACE_OPTIONAL = {"expires_ms", "counterparty"}


def check_place_payload(payload: dict, params: dict) -> None:
    rules = rules_of(params)
    side = payload.get("side")
    if side not in (BUY, SELL):
        raise LedgerError(errors.BAD_FIELD, "side must be 'buy' or 'sell'.")
    if side == SELL:
        require_fields(payload, PLACE_FIELDS - {"sources"}, PLACE_FIELDS - {"sources"} - PLACE_OPTIONAL)
    else:
        require_fields(payload, PLACE_FIELDS - {"source"}, PLACE_FIELDS - {"source"} - PLACE_OPTIONAL)
    energy_wh = payload["energy_wh"]
    if not is_int(energy_wh) or energy_wh <= 0:
        raise LedgerError(errors.BAD_AMOUNT, "energy_wh must be a whole number of Wh greater than zero.")
    if energy_wh > rules.max_order_wh:
        raise LedgerError(
            errors.BAD_AMOUNT,
            "energy_wh is more than the largest order, %(max_wh)s Wh.",
            {"max_wh": rules.max_order_wh},
        )
    price = payload["price_per_kwh"]
    if not is_int(price) or not rules.min_price_per_kwh <= price <= rules.max_price_per_kwh:
        raise LedgerError(
            BAD_PRICE,
            "price_per_kwh must be a whole number of units from %(min)s to %(max)s.",
            {"min": rules.min_price_per_kwh, "max": rules.max_price_per_kwh},
        )
    if not is_identifier(payload["zone"]) or payload["zone"] not in rules.carbon_g_per_kwh:
        raise LedgerError(
            UNKNOWN_ZONE,
            "zone must be one of: %(zones)s.",
            {"zones": ", ".join(sorted(rules.carbon_g_per_kwh))},
        )
    slot = payload["delivery_slot"]
    if not is_int(slot) or slot <= 0 or slot % rules.slot_ms:
        raise LedgerError(
            BAD_SLOT,
            "delivery_slot must be a slot start in Unix ms, a multiple of %(slot_ms)s.",
            {"slot_ms": rules.slot_ms},
        )
    if side == SELL:
        if payload["source"] not in SOURCES:
            raise LedgerError(
                UNKNOWN_SOURCE, "source must be one of: %(sources)s.", {"sources": ", ".join(SOURCES)}
            )
    else:
        accepted_sources(payload["sources"])
    if "expires_ms" in payload:
        require_amount(payload, "expires_ms")
    counterparty_of(payload)


def counterparty_of(payload: dict) -> str:
    """The one account an order may trade with, as the order record stores it: "" for anyone.

    Absent or null is anyone; otherwise an address (64 lower-case hex). That it is
    not the sender is checked in the block, which knows the sender (``self_counterparty``).
    """
    counterparty = payload.get("counterparty")
    if counterparty is None:
        return ""
    return require_hex64(counterparty, "counterparty (the only account the order may trade with)")


def restricts_sources(payload: dict) -> bool:
    """Whether a (checked) order is a buy that takes only some sources; one listing all takes any."""
    accepts = accepted_sources(payload["sources"]) if payload["side"] == BUY else ANY_SOURCE
    return accepts != ANY_SOURCE and set(accepts.split(",")) != set(SOURCES)


def accepted_sources(sources) -> str:
    """A buy's source preference as stored: 'any', or the sources sorted and comma-joined."""
    if sources == ANY_SOURCE:
        return ANY_SOURCE
    if (
        not isinstance(sources, list)
        or not sources
        or any(s not in SOURCES for s in sources)
        or len(set(sources)) != len(sources)
    ):
        raise LedgerError(
            UNKNOWN_SOURCE,
            "sources must be 'any' or a list of different sources from: %(sources)s.",
            {"sources": ", ".join(SOURCES)},
        )
    return ",".join(sorted(sources))


def check_cancel_payload(payload: dict, params: dict) -> None:
    require_fields(payload, {"order_id"}, {"order_id"})
    require_hex64(payload["order_id"], "order_id (an order's transaction hash)", errors.BAD_FIELD)


def place_token_debit(payload: dict, params: dict) -> int:
    """What a buy locks at placement, wheeling fee reserve included: admission checks it exactly."""
    if payload.get("side") != BUY:
        return 0
    max_fee = rules_of(params).max_fee_per_kwh[payload["zone"]]
    return buy_lock_units(payload["energy_wh"], payload["price_per_kwh"], max_fee)


def place_energy_debit(payload: dict, params: dict) -> int:
    """What a sell locks at placement: its Wh."""
    return payload["energy_wh"] if payload.get("side") == SELL else 0
