"""The matcher alone (trading.ledger.book) against the rules and the reference matcher."""

from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.trading.test_ledger_properties import PARAMS, SOURCES, ZONES, ReferenceMarket
from trading.ledger.book import Book, Resting, parse_accepts
from trading.ledger.rules import rules_of, value_units

RULES = rules_of(PARAMS)
SLOT = 1_800_000_900_000
OWNERS = ("a", "b", "c")


def new_book(rules=RULES) -> Book:
    return Book(rules.routes, {key: path.capacity_wh_per_slot for key, path in rules.paths.items()})


def ask(order_id, price, wh, owner="s", zone="bangkok", source="solar") -> tuple[Resting, bool]:
    return Resting(order_id, owner, zone, price, wh, source), False


def bid(order_id, price, wh, owner="b", zone="bangkok", accepts=None) -> tuple[Resting, bool]:
    return Resting(order_id, owner, zone, price, wh, "", accepts), True


def place(book: Book, order: tuple[Resting, bool]) -> list[tuple[str, int, int]]:
    return [(maker.order_id, wh, maker.price) for maker, wh, _ in book.place(*order)]


def test_the_best_price_trades_first_at_the_resting_price():
    book = new_book()
    place(book, ask("dear", 4_000_000, 10_000))
    place(book, ask("cheap", 3_000_000, 10_000))
    assert place(book, bid("buy", 5_000_000, 15_000)) == [
        ("cheap", 10_000, 3_000_000),
        ("dear", 5_000, 4_000_000),
    ]
    assert book.orders["dear"].remaining == 5_000
    assert "cheap" not in book.orders and "buy" not in book.orders


def test_at_one_price_the_earlier_order_trades_first():
    book = new_book()
    place(book, bid("first", 3_000_000, 10_000))
    place(book, bid("second", 3_000_000, 10_000))
    assert place(book, ask("sell", 2_000_000, 12_000)) == [
        ("first", 10_000, 3_000_000),
        ("second", 2_000, 3_000_000),
    ]


def test_an_order_that_does_not_cross_rests():
    book = new_book()
    place(book, ask("ask", 4_000_000, 10_000))
    assert place(book, bid("bid", 3_999_999, 10_000)) == []
    assert set(book.orders) == {"ask", "bid"}


def test_an_account_never_trades_with_itself_and_the_next_order_fills():
    book = new_book()
    place(book, ask("own", 3_000_000, 10_000, owner="b"))
    place(book, ask("other", 3_500_000, 10_000, owner="s"))
    assert place(book, bid("buy", 4_000_000, 10_000, owner="b")) == [("other", 10_000, 3_500_000)]
    assert book.orders["own"].remaining == 10_000


def test_a_private_deal_trades_only_with_the_account_it_names():
    book = new_book()
    place(book, ask("cheap", 3_000_000, 10_000, owner="s"))
    place(book, ask("named", 3_500_000, 10_000, owner="t"))
    # A buy naming "t" passes over the cheaper ask of "s".
    deal = Resting("deal", "b", "bangkok", 4_000_000, 5_000, "", None, "t")
    assert place(book, (deal, True)) == [("named", 5_000, 3_500_000)]
    # An ask naming "b" is passed over by anyone else's buy, and "b" takes it.
    place(book, (Resting("for-b", "u", "bangkok", 2_000_000, 10_000, "solar", None, "b"), False))
    assert place(book, bid("other", 4_000_000, 1_000, owner="c")) == [("cheap", 1_000, 3_000_000)]
    assert place(book, bid("b-buys", 2_000_000, 1_000, owner="b")) == [("for-b", 1_000, 2_000_000)]
    # A resting buy that names "t" is passed over by the ask of "s", and "t" fills it.
    book = new_book()
    place(book, (Resting("wants-t", "b", "bangkok", 3_000_000, 2_000, "", None, "t"), True))
    assert place(book, ask("from-s", 3_000_000, 1_000, owner="s")) == []
    assert place(book, ask("from-t", 2_500_000, 1_000, owner="t")) == [("wants-t", 1_000, 3_000_000)]


def test_a_buy_takes_only_the_sources_it_accepts():
    book = new_book()
    place(book, ask("grid", 3_000_000, 10_000, source="grid"))
    place(book, ask("wind", 3_500_000, 10_000, source="wind"))
    fills = place(book, bid("buy", 4_000_000, 20_000, accepts=frozenset({"solar", "wind"})))
    assert fills == [("wind", 10_000, 3_500_000)]
    assert book.orders["buy"].remaining == 10_000
    # A resting buy's preference holds against an arriving sell too.
    assert place(book, ask("grid2", 3_000_000, 10_000, source="grid")) == []


def test_a_full_path_passes_over_to_the_next_eligible_order():
    book = new_book()
    capacity = RULES.paths[("bangkok", "central")].capacity_wh_per_slot  # 1 MW for a minute
    place(book, ask("far", 3_000_000, 100_000, zone="central"))
    place(book, ask("near", 3_500_000, 100_000, zone="bangkok"))
    fills = book.place(*bid("buy", 4_000_000, capacity + 5_000))
    assert [(m.order_id, wh, route and route.path_keys[0]) for m, wh, route in fills] == [
        ("far", capacity, ("bangkok", "central")),
        ("near", 5_000, None),
    ]
    assert book.free_wh[("bangkok", "central")] == 0
    assert book.orders["far"].remaining == 100_000 - capacity
    # The next buy takes the far order over the dearer route that still has room.
    fills = book.place(*bid("buy2", 4_000_000, 1_000))
    assert [(m.order_id, wh, route.zones) for m, wh, route in fills] == [
        ("far", 1_000, ("central", "east", "bangkok"))
    ]
    assert book.free_wh[("central", "east")] == book.free_wh[("bangkok", "east")] == capacity - 1_000
    # Same-zone fills use no capacity.
    assert place(book, bid("buy3", 4_000_000, 1_000, zone="central")) == [("far", 1_000, 3_000_000)]


def test_zones_without_a_direct_path_trade_over_a_route_and_not_over_a_full_one():
    book = new_book()
    place(book, ask("south", 3_000_000, 10_000, zone="south"))
    fills = book.place(*bid("bangkok", 4_000_000, 4_000))
    assert [(m.order_id, wh, route.zones) for m, wh, route in fills] == [
        ("south", 4_000, ("south", "central", "bangkok"))
    ]
    # Every route from south crosses south-central: once it is full, no fill.
    book.free_wh[("central", "south")] = 0
    assert place(book, bid("bangkok2", 4_000_000, 4_000)) == []


def test_a_cancelled_order_never_trades():
    book = new_book()
    place(book, ask("gone", 3_000_000, 10_000))
    place(book, ask("kept", 3_500_000, 10_000))
    book.cancel("gone")
    book.cancel("unknown")  # an order this book never had: nothing to do
    assert place(book, bid("buy", 4_000_000, 20_000)) == [("kept", 10_000, 3_500_000)]
    assert set(book.orders) == {"buy"}


def test_parse_accepts_reads_the_order_record_form():
    assert parse_accepts("any") is None
    assert parse_accepts("solar,wind") == frozenset({"solar", "wind"})


flow = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "action": st.just("place"),
                "owner": st.sampled_from(OWNERS),
                "side": st.sampled_from(("buy", "sell")),
                "zone": st.sampled_from(ZONES),
                "energy_wh": st.integers(1, 40_000),
                "price": st.integers(30, 40).map(lambda p: p * 100_000),
                "source": st.sampled_from(SOURCES),
                "sources": st.one_of(
                    st.just("any"), st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3, unique=True)
                ),
                "counterparty": st.one_of(st.just(""), st.just(""), st.sampled_from(OWNERS)),
            }
        ),
        st.fixed_dictionaries({"action": st.just("cancel"), "pick": st.integers(0, 1_000)}),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow)
def test_the_book_gives_the_reference_matchers_fills(actions):
    """Same fills in the same order, same resting orders, same path usage."""
    book, reference = new_book(), ReferenceMarket(PARAMS)
    placed, got = [], []
    for n, a in enumerate(actions):
        if a["action"] == "cancel":
            if placed:
                order_id = placed[a["pick"] % len(placed)]
                book.cancel(order_id)
                reference.cancel(order_id)
            continue
        order_id, is_buy = f"{n:064x}", a["side"] == "buy"
        payload = {
            "side": a["side"],
            "zone": a["zone"],
            "delivery_slot": SLOT,
            "price_per_kwh": a["price"],
            "energy_wh": a["energy_wh"],
            "counterparty": a["counterparty"],
        }
        payload |= {"sources": a["sources"]} if is_buy else {"source": a["source"]}
        reference.place(SimpleNamespace(hash=order_id, sender=a["owner"], payload=payload))
        accepts = None if not is_buy or a["sources"] == "any" else frozenset(a["sources"])
        taker = Resting(
            order_id,
            a["owner"],
            a["zone"],
            a["price"],
            a["energy_wh"],
            payload.get("source", ""),
            accepts,
            a["counterparty"],
        )
        for maker, wh, route in book.place(taker, is_buy):
            buy_id, sell_id = (order_id, maker.order_id) if is_buy else (maker.order_id, order_id)
            keys = route.path_keys if route is not None else ()
            fee = sum(value_units(wh, RULES.paths[key].wheeling_fee_per_kwh) for key in keys)
            got.append((buy_id, sell_id, wh, maker.price, fee))
        placed.append(order_id)
    assert got == reference.trades
    assert {k: e.remaining for k, e in book.orders.items()} == {o["id"]: o["left"] for o in reference.open}
    for key, path in RULES.paths.items():
        used = reference.used.get((SLOT, *key), 0)
        assert book.free_wh[key] == path.capacity_wh_per_slot - used
