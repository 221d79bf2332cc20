"""Market pages against anonymous / producer / consumer / other user / regulator / staff."""

import json

import pytest
from django.conf import settings
from django.utils import translation

from chain.models import MempoolTx
from trading import selectors
from trading.models import Order, OrderStatus
from trading.services import order_place

from .conftest import ROLES

pytestmark = pytest.mark.django_db

TOKEN = 1_000_000
PARTS = ("book", "trades", "chart", "wallet", "mine", "fills")


def second_slot() -> int:
    """A slot whose gate is at least 15 minutes away, so no test races it."""
    return selectors.slots_open(count=2)[1]


@pytest.fixture
def resting_sell(users, produce):
    """wind_korat's sell of 10 kWh of wind at 3.5 in Bangkok, committed and open."""
    tx = order_place(
        wallet=users["wind_korat"].wallet,
        side="sell",
        energy_wh=10_000,
        price_per_kwh=3_500_000,
        zone="bangkok",
        delivery_slot=second_slot(),
        source="wind",
    )
    produce()
    return Order.objects.get(order_id=tx.hash)


@pytest.mark.parametrize("role", ROLES)
def test_market_overview_is_public(client_as, resting_sell, role):
    response = client_as(role).get("/market/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Upcoming delivery slots" in body
    assert f'href="/market/trade/?slot={resting_sell.delivery_slot_ms}&amp;zone=' in body
    assert client_as(role).get("/market/?part=overview").status_code == 200


def test_overview_shows_the_open_volume_of_a_slot(client_as, resting_sell):
    body = client_as("anonymous").get("/market/").content.decode()
    row = body.split(f'data-slot="{resting_sell.delivery_slot_ms}"', 1)[1].split("</tr>", 1)[0]
    assert "10.000" in row


def test_trading_page_requires_login(client_as, chain):
    response = client_as("anonymous").get("/market/trade/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("role", "sides"),
    [("producer", {"sell", "buy"}), ("other", {"sell", "buy"}), ("consumer", {"buy"})],
)
def test_traders_get_a_ticket_with_the_sides_of_their_role(client_as, chain, role, sides):
    body = client_as(role).get("/market/trade/").content.decode()
    assert 'id="order-ticket"' in body
    shown = {side for side in ("sell", "buy") if f'name="order-side" value="{side}"' in body}
    assert shown == sides


@pytest.mark.parametrize("role", ["regulator", "staff"])
def test_regulator_and_staff_see_the_market_read_only(client_as, resting_sell, role):
    response = client_as(role).get(f"/market/trade/?slot={resting_sell.delivery_slot_ms}&zone=bangkok")
    assert response.status_code == 200
    body = response.content.decode()
    assert "read-only" in body
    assert 'id="order-ticket"' not in body
    assert "cancel-order" not in body
    assert 'id="market-mine"' not in body and 'id="market-wallet"' not in body
    assert "3.50" in body.split('id="market-book"', 1)[1]


@pytest.mark.parametrize("role", ["producer", "consumer", "regulator", "staff"])
@pytest.mark.parametrize("part", PARTS)
def test_each_part_renders_alone_for_htmx(client_as, resting_sell, role, part):
    response = client_as(role).get(
        f"/market/trade/?slot={resting_sell.delivery_slot_ms}&zone=bangkok&part={part}",
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b"<html" not in response.content


def test_the_book_shows_the_resting_sell_as_an_ask(client_as, resting_sell):
    url = f"/market/trade/?slot={resting_sell.delivery_slot_ms}&zone=bangkok&part=book"
    body = client_as("consumer").get(url).content.decode()
    ask = body.split('class="book-row ask"', 1)[1].split("</div>", 1)[0]
    assert "3.50" in ask and "10.000" in ask
    assert "No buy orders" in body
    depth = json.loads(body.split('id="book-depth" type="application/json">')[1].split("</script>")[0])
    assert depth == {"bids": [], "asks": [[resting_sell.price_per_kwh, resting_sell.remaining_wh]]}


def test_the_book_shows_asks_of_other_zones_with_their_route_and_delivered_price(client_as, resting_sell):
    url = f"/market/trade/?slot={resting_sell.delivery_slot_ms}&zone=north&part=book"
    body = client_as("consumer").get(url).content.decode()
    assert 'class="book-row ask"' not in body  # the book itself is north's
    row = (
        body.split('class="striped compact reachable-asks"', 1)[1].split("<tbody>", 1)[1].split("</tr>", 1)[0]
    )
    # bangkok-central (0.10) then central-north (0.15): the cheapest route with room.
    assert "bangkok → central → north" in row
    assert [cell.split(">", 1)[1] for cell in row.split("</td>")[1:4]] == ["3.50", "0.25", "3.75"]
    # Asks of the chosen zone itself are in the book, not in the routed table.
    same = client_as("consumer").get(url.replace("zone=north", "zone=bangkok")).content.decode()
    assert "reachable-asks" not in same


def test_the_owner_sees_a_cancel_button_others_do_not(client_as, resting_sell):
    url = f"/market/trade/?slot={resting_sell.delivery_slot_ms}&zone=bangkok&part=mine"
    assert (
        f"/market/orders/{resting_sell.order_id}/cancel/" in client_as("producer").get(url).content.decode()
    )
    assert resting_sell.order_id not in client_as("other").get(url).content.decode()


@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("regulator", 403), ("staff", 403)])
@pytest.mark.parametrize("path", ["/market/trade/order/", "/market/trade/check/?field=price"])
def test_only_traders_may_post_orders(client_as, chain, ledger_snapshot, role, status, path):
    before = ledger_snapshot()
    data = {
        "order-side": "buy",
        "order-delivery_slot": second_slot(),
        "order-zone": "bangkok",
        "order-energy_kwh": "1",
        "order-price": "3",
    }
    response = client_as(role).post(path, data)
    assert response.status_code == status
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    ("role", "status"), [("anonymous", 302), ("other", 403), ("regulator", 403), ("staff", 403)]
)
def test_only_the_owner_may_cancel(client_as, resting_sell, ledger_snapshot, role, status):
    before = ledger_snapshot()
    response = client_as(role).post(f"/market/orders/{resting_sell.order_id}/cancel/")
    assert response.status_code == status
    assert ledger_snapshot() == before


def test_get_on_a_post_endpoint_is_refused(client_as, resting_sell):
    client = client_as("producer")
    assert client.get("/market/trade/order/").status_code == 405
    assert client.get(f"/market/orders/{resting_sell.order_id}/cancel/").status_code == 405


def test_the_owner_cancels_and_the_order_leaves_the_book_at_the_next_block(client_as, resting_sell, produce):
    client = client_as("producer")
    response = client.post(f"/market/orders/{resting_sell.order_id}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "my-orders-changed"
    assert "cancelling" in response.content.decode()
    assert MempoolTx.objects.filter(kind="order_cancel", payload__order_id=resting_sell.order_id).exists()
    produce()
    resting_sell.refresh_from_db()
    assert resting_sell.status == OrderStatus.CANCELLED


def test_cancel_of_a_closed_order_says_why_and_changes_nothing(
    client_as, resting_sell, produce, ledger_snapshot
):
    client = client_as("producer")
    client.post(f"/market/orders/{resting_sell.order_id}/cancel/")
    produce()
    before = ledger_snapshot()
    response = client.post(f"/market/orders/{resting_sell.order_id}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "The order is already cancelled." in response.content.decode()
    assert ledger_snapshot() == before


def test_the_ledgers_refusal_reads_in_thai_for_a_thai_reader(client_as, resting_sell, produce):
    client = client_as("producer")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "th"
    client.post(f"/market/orders/{resting_sell.order_id}/cancel/")
    produce()
    response = client.post(f"/market/orders/{resting_sell.order_id}/cancel/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    with translation.override("th"):
        thai = translation.gettext("The order is already %(status)s.") % {"status": "cancelled"}
    assert thai in body and "The order is already" not in body


def test_cancel_of_an_unknown_order_is_404(client_as, chain, ledger_snapshot):
    before = ledger_snapshot()
    assert client_as("producer").post(f"/market/orders/{'ab' * 32}/cancel/").status_code == 404
    assert ledger_snapshot() == before


def test_a_slot_in_the_query_that_is_no_slot_falls_back_to_the_first_open_one(client_as, chain):
    response = client_as("consumer").get("/market/trade/?slot=123&zone=atlantis")
    assert response.status_code == 200
    first = selectors.slots_open(count=1)[0]
    body = response.content.decode()
    assert f'name="order-delivery_slot" value="{first}"' in body
    assert '<a href="/market/">Market</a> · Bangkok Metropolitan' in body
