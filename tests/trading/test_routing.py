"""Routes across the grid (trading.ledger.rules.routes_of, Book.open_route) against brute force.

Random grids of 6 to 9 zones with random paths, fees (ties included) and free
capacity: the protocol's depth-first route list and its choice of route must be
the reference's (every ordering of intermediate zones, sorted), and the buy's
fee reserve must be the dearest route into its zone.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trading.routing_reference import reference_open_route, reference_routes
from trading.ledger.book import Book
from trading.ledger.rules import DEFAULT_MAX_ROUTE_HOPS, MarketRules, Path, routes_of

ZONE_IDS = ("a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8", "i9")


@st.composite
def grids(draw):
    zones = ZONE_IDS[: draw(st.integers(6, 9))]
    pairs = [(x, y) for i, x in enumerate(zones) for y in zones[i + 1 :]]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=14, unique=True))
    # Few fee values, so that equal-cost routes are common and the tie-breaks matter.
    paths = {key: Path(*key, 1_000, draw(st.sampled_from((0, 100_000, 150_000, 250_000)))) for key in chosen}
    return zones, paths, draw(st.integers(1, 5))


def params_of(zones, paths, max_hops) -> dict:
    return {
        "slot_minutes": 15,
        "gate_closure_minutes": 5,
        "min_price_per_kwh": 1,
        "max_price_per_kwh": 10**8,
        "max_order_kwh": 1000,
        "grid_operator": "op",
        "regions": [{"id": z, "carbon_g_per_kwh": 500} for z in reversed(zones)],
        # Listed in a shuffled, reversed order: the routes must not depend on it.
        "transmission": [
            {"from": b, "to": a, "capacity_mw": 1, "wheeling_fee_per_kwh": p.wheeling_fee_per_kwh}
            for (a, b), p in reversed(sorted(paths.items()))
        ],
        "max_route_hops": max_hops,
    }


@settings(max_examples=200, deadline=None)
@given(grids())
def test_routes_are_every_simple_path_cheapest_then_fewest_hops_then_zone_ids(grid):
    zones, paths, max_hops = grid
    routes = routes_of(paths, zones, max_hops)
    for seller in zones:
        for buyer in zones:
            if seller == buyer:
                continue
            expected = reference_routes(paths, zones, seller, buyer, max_hops)
            got = [
                (r.fee_per_kwh, len(r.path_keys), r.zones, r.path_keys)
                for r in routes.get((seller, buyer), ())
            ]
            assert got == expected


@settings(max_examples=100, deadline=None)
@given(grids())
def test_a_buys_fee_reserve_covers_the_dearest_route_into_its_zone(grid):
    zones, paths, max_hops = grid
    rules = MarketRules.of(params_of(zones, paths, max_hops))
    for buyer in zones:
        fees = [
            route[0]
            for seller in zones
            if seller != buyer
            for route in reference_routes(rules.paths, zones, seller, buyer, max_hops)
        ]
        assert rules.max_fee_per_kwh[buyer] == max(fees, default=0)


@settings(max_examples=200, deadline=None)
@given(grids(), st.data())
def test_the_book_takes_the_first_route_with_room_on_every_path(grid, data):
    zones, paths, max_hops = grid
    rules = MarketRules.of(params_of(zones, paths, max_hops))
    free = {key: data.draw(st.sampled_from((0, 0, 1, 500, 1_000))) for key in rules.paths}
    book = Book(rules.routes, dict(free))
    seller, buyer = data.draw(st.permutations(zones))[:2]
    route, room = book.open_route(seller, buyer)
    keys, expected_room = reference_open_route(rules, free, seller, buyer, max_hops)
    assert (route.path_keys if route else None, room) == (keys, expected_room)


def test_the_thai_grid_routes_north_to_bangkok_through_central_first():
    import tomllib

    from tests.conftest import GENESIS_PATH

    with open(GENESIS_PATH, "rb") as f:
        raw = tomllib.load(f)
    paths = {}
    for p in raw["transmission"]:
        key = tuple(sorted((p["from"], p["to"])))
        paths[key] = Path(*key, 1, p["wheeling_fee_per_kwh"])
    routes = routes_of(paths, [r["id"] for r in raw["regions"]], DEFAULT_MAX_ROUTE_HOPS)
    assert [(r.zones, r.fee_per_kwh) for r in routes[("north", "bangkok")]] == [
        (("north", "central", "bangkok"), 250_000),
        (("north", "central", "east", "bangkok"), 390_000),
        (("north", "northeast", "central", "bangkok"), 430_000),
        (("north", "northeast", "central", "east", "bangkok"), 570_000),
    ]
