"""The trading page of a call-auction zone: the call's indicative price while open, its result after."""

import pytest

from chain.models import ChainHead
from trading import selectors
from trading.ledger.rules import CALL_AUCTION_ZONES
from trading.models import CallClearing, Order, OrderStatus
from trading.services import order_place

pytestmark = pytest.mark.django_db


@pytest.fixture
def bangkok_call(chain):
    head = ChainHead.objects.get()
    head.params = {**head.params, CALL_AUCTION_ZONES: ["bangkok"]}
    head.save(update_fields=["params"])
    return selectors.slots_open(count=2)[1]


def place(users, who: str, side: str, kwh: int, price: int, slot: int) -> None:
    extra = {"source": "wind"} if side == "sell" else {"sources": "any"}
    order_place(
        wallet=users[who].wallet,
        side=side,
        energy_wh=kwh * 1000,
        price_per_kwh=price,
        zone="bangkok",
        delivery_slot=slot,
        **extra,
    )


def book_part(client_as, slot: int) -> str:
    return client_as("consumer").get(f"/market/trade/?slot={slot}&zone=bangkok&part=book").content.decode()


def test_crossing_orders_wait_and_the_page_shows_what_the_call_would_clear_at(
    client_as, users, produce, bangkok_call
):
    slot = bangkok_call
    place(users, "wind_korat", "sell", 10, 3_000_000, slot)
    place(users, "home_malee", "buy", 4, 5_000_000, slot)
    produce()
    assert Order.objects.filter(delivery_slot_ms=slot, status=OrderStatus.OPEN).count() == 2  # no trade yet
    body = book_part(client_as, slot)
    assert "Call auction" in body
    # The ask is left over in part (6 of its 10 kWh): supply waits at 3.0, so the call clears at 3.0.
    assert 'class="call-price">3.00' in body and "for 4.000 kWh" in body
    assert "they meet when the call clears" in body


def test_an_empty_call_says_nothing_would_trade(client_as, bangkok_call):
    assert "nothing would trade" in book_part(client_as, bangkok_call)


def test_a_cleared_call_shows_its_price_and_volume(client_as, bangkok_call):
    slot = bangkok_call
    CallClearing.objects.create(
        clearing_id=f"{slot}:bangkok",
        delivery_slot_ms=slot,
        zone="bangkok",
        height=1,
        price_per_kwh=3_600_000,
        volume_wh=12_000,
        fills=2,
        bids=2,
        asks=2,
        bid_wh=32_000,
        ask_wh=20_000,
    )
    body = book_part(client_as, slot)
    assert 'class="call-price">3.60' in body and "Traded: 12.000 kWh; fills: 2." in body
    assert "32.000 kWh of bids and 20.000 kWh of asks" in body


def test_a_continuous_zone_has_no_call_panel(client_as, chain):
    slot = selectors.slots_open(count=2)[1]
    assert "data-call" not in book_part(client_as, slot)


def test_the_book_api_carries_the_call(client, users, produce, bangkok_call):
    slot = bangkok_call
    place(users, "wind_korat", "sell", 10, 3_000_000, slot)
    place(users, "home_malee", "buy", 4, 5_000_000, slot)
    produce()
    call = client.get(f"/api/v1/market/book/?slot={slot}&zone=bangkok").json()["call"]
    assert call == {
        "gate_ms": slot - selectors.market_rules().gate_closure_ms,
        "cleared": None,
        "indicative_price": 3_000_000,
        "indicative_wh": 4_000,
    }
    assert client.get(f"/api/v1/market/book/?slot={slot}&zone=east").json()["call"] is None
    assert client.get(f"/api/v1/market/book/?slot={slot}").json()["call"] is None


def test_graphql_carries_the_call(users, produce, bangkok_call):
    from django.test import Client

    from tests.graphql.conftest import data

    slot = bangkok_call
    place(users, "wind_korat", "sell", 10, 3_000_000, slot)
    place(users, "home_malee", "buy", 4, 5_000_000, slot)
    produce()
    query = "query($s: BigInt!, $z: String!) { call(slotMs: $s, zone: $z) { indicativePrice indicativeWh cleared { pricePerKwh } } }"
    assert data(Client(), query, {"s": slot, "z": "bangkok"})["call"] == {
        "indicativePrice": "3000000",  # BigInt travels as a string
        "indicativeWh": "4000",
        "cleared": None,
    }
    CallClearing.objects.create(
        clearing_id=f"{slot}:bangkok", delivery_slot_ms=slot, zone="bangkok", height=1, price_per_kwh=3_000_000,
        volume_wh=4_000, fills=1, bids=1, asks=1, bid_wh=4_000, ask_wh=10_000,
    )  # fmt: skip
    call = data(Client(), query, {"s": slot, "z": "bangkok"})["call"]
    assert call == {"indicativePrice": None, "indicativeWh": None, "cleared": {"pricePerKwh": "3000000"}}
    assert data(Client(), query, {"s": slot, "z": "east"})["call"] is None


def test_a_full_call_is_refused_at_once_beside_the_slot(users, bangkok_call):
    from chain.ledger.errors import Refused
    from trading.ledger.rules import CALL_FULL
    from trading.models import CallOrders

    slot = bangkok_call
    CallOrders.objects.create(
        call_id=f"{slot}:bangkok",
        delivery_slot_ms=slot,
        zone="bangkok",
        placed=selectors.market_rules().max_call_orders,
    )
    with pytest.raises(Refused) as refused:
        place(users, "home_malee", "buy", 1, 4_000_000, slot)
    assert (refused.value.code, refused.value.field) == (CALL_FULL, "delivery_slot")
