"""Private deals on the web: the ticket's "Only with" field, and the lists and book that show them."""

import pytest

from chain.ledger.errors import Refused
from chain.models import MempoolTx
from trading import forms as f
from trading import selectors
from trading.models import Order
from trading.services import order_place

from .test_order_form import order_data

pytestmark = pytest.mark.django_db


def second_slot() -> int:
    return selectors.slots_open(count=2)[1]


def test_a_username_is_signed_as_its_address(client_as, users):
    data = order_data(side="sell", source="wind", energy_kwh="10", price="3", counterparty="home_malee")
    response = client_as("producer").post("/market/trade/order/", data, HTTP_HX_REQUEST="true")
    assert "Signed and sent" in response.content.decode()
    payload = MempoolTx.objects.get(sender=users["wind_korat"].wallet.address).payload
    assert payload["counterparty"] == users["home_malee"].wallet.address


def test_an_address_is_taken_in_any_case_and_with_spaces_around(client_as, users):
    address = users["wind_korat"].wallet.address
    data = order_data(counterparty=f"  {address.upper()} ")
    response = client_as("consumer").post("/market/trade/order/", data, HTTP_HX_REQUEST="true")
    assert "Signed and sent" in response.content.decode()
    payload = MempoolTx.objects.get(sender=users["home_malee"].wallet.address).payload
    assert payload["counterparty"] == address


def test_an_empty_only_with_signs_an_order_open_to_anyone(client_as, users):
    client_as("consumer").post("/market/trade/order/", order_data(counterparty=""), HTTP_HX_REQUEST="true")
    assert "counterparty" not in MempoolTx.objects.get(sender=users["home_malee"].wallet.address).payload


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("nobody_here", f.COUNTERPARTY_UNKNOWN),
        (lambda users: users["wind_korat"].wallet.address[:63], f.COUNTERPARTY_UNKNOWN),
        ("ab" * 32, f.COUNTERPARTY_NO_ACCOUNT),
        ("home_malee", f.COUNTERPARTY_SELF),
        (lambda users: users["home_malee"].wallet.address, f.COUNTERPARTY_SELF),
    ],
    ids=["unknown user", "63 characters", "unknown address", "own username", "own address"],
)
def test_a_bad_only_with_is_refused_beside_the_field_and_changes_nothing(
    client_as, users, ledger_snapshot, typed, message
):
    typed = typed(users) if callable(typed) else typed
    before = ledger_snapshot()
    response = client_as("consumer").post(
        "/market/trade/order/", order_data(counterparty=typed), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    beside = body.split('id="err-order-counterparty"', 1)[1].split("</small>", 1)[0]
    assert message.replace("'", "&#x27;") in beside
    assert "Signed and sent" not in body
    assert ledger_snapshot() == before


def test_the_service_refuses_an_order_naming_its_own_account(users, chain, ledger_snapshot):
    wallet = users["home_malee"].wallet
    before = ledger_snapshot()
    with pytest.raises(Refused) as refused:
        order_place(
            wallet=wallet,
            side="buy",
            energy_wh=1_000,
            price_per_kwh=3_000_000,
            zone="bangkok",
            delivery_slot=second_slot(),
            sources="any",
            counterparty=wallet.address,
        )
    assert (refused.value.code, refused.value.field) == ("self_counterparty", "counterparty")
    assert ledger_snapshot() == before


def test_the_summary_names_the_user_as_typed_not_the_address(client_as, users):
    body = (
        client_as("consumer")
        .post("/market/trade/preview/", order_data(counterparty="wind_korat"))
        .content.decode()
    )
    deal = body.split('data-summary="counterparty">', 1)[1].split("</dd>", 1)[0]
    assert "wind_korat" in deal and users["wind_korat"].wallet.address[:12] not in body


@pytest.fixture
def private_sell(users, produce):
    """wind_korat's sell of 10 kWh at 3.5 in Bangkok, for home_malee only, committed and open."""
    tx = order_place(
        wallet=users["wind_korat"].wallet,
        side="sell",
        energy_wh=10_000,
        price_per_kwh=3_500_000,
        zone="bangkok",
        delivery_slot=second_slot(),
        source="wind",
        counterparty=users["home_malee"].wallet.address,
    )
    produce()
    return Order.objects.get(order_id=tx.hash)


def test_the_owners_list_marks_a_waiting_and_an_open_deal_with_its_counterparty(client_as, users, produce):
    malee = users["home_malee"].wallet.address
    url = f"/market/trade/?slot={second_slot()}&zone=bangkok&part=mine"
    order_place(
        wallet=users["wind_korat"].wallet,
        side="sell",
        energy_wh=1_000,
        price_per_kwh=3_000_000,
        zone="bangkok",
        delivery_slot=second_slot(),
        source="wind",
        counterparty=malee,
    )
    waiting = client_as("producer").get(url).content.decode()
    assert "waiting for block" in waiting and f'data-counterparty="{malee}"' in waiting
    assert f'for <span class="mono">{malee[:8]}…</span>' in waiting
    produce()
    open_ = client_as("producer").get(url).content.decode()
    assert "waiting for block" not in open_ and f'data-counterparty="{malee}"' in open_


def test_the_book_lists_a_deal_apart_from_the_levels_anyone_may_take(client_as, private_sell):
    url = f"/market/trade/?slot={private_sell.delivery_slot_ms}&zone=bangkok&part=book"
    body = client_as("other").get(url).content.decode()
    assert 'class="book-row ask"' not in body and "No sell orders" in body
    deal = body.split('class="striped compact book-deals"', 1)[1].split("</table>", 1)[0]
    assert "3.50" in deal and "10.000" in deal and private_sell.counterparty[:8] in deal
    # The named account reads it as meant for itself.
    assert "for you</small>" in client_as("consumer").get(url).content.decode()


def test_the_rest_order_and_book_carry_the_counterparty(client, private_sell):
    order = client.get(f"/api/v1/market/orders/{private_sell.order_id}/").json()
    assert order["counterparty"] == private_sell.counterparty
    book = client.get(f"/api/v1/market/book/?slot={private_sell.delivery_slot_ms}&zone=bangkok").json()
    assert book["asks"] == [] and book["bids"] == []
    assert book["deals"] == [
        {
            "order_id": private_sell.order_id,
            "side": "sell",
            "price_per_kwh": 3_500_000,
            "remaining_wh": 10_000,
            "owner": private_sell.owner,
            "counterparty": private_sell.counterparty,
        }
    ]


def test_only_the_named_buyer_fills_a_deal_placed_on_the_web(client_as, users, private_sell, produce):
    for role in ("other", "consumer"):
        wallet = users["solar_somchai" if role == "other" else "home_malee"].wallet
        order_place(
            wallet=wallet,
            side="buy",
            energy_wh=4_000,
            price_per_kwh=4_000_000,
            zone="bangkok",
            delivery_slot=private_sell.delivery_slot_ms,
            sources="any",
        )
        produce()
    private_sell.refresh_from_db()
    assert private_sell.remaining_wh == 6_000
    [trade] = selectors.trades_recent(slot_ms=private_sell.delivery_slot_ms)
    assert trade.buyer == users["home_malee"].wallet.address


def test_the_named_account_sees_the_deal_offered_to_it_and_others_do_not(client_as, private_sell):
    url = f"/market/trade/?slot={private_sell.delivery_slot_ms}&zone=north&part=mine"
    mine = client_as("consumer").get(url).content.decode()
    offered = mine.split('class="striped compact deals-offered"', 1)[1].split("</table>", 1)[0]
    assert f'data-order="{private_sell.order_id}"' in offered and "10.000" in offered
    assert f"with={private_sell.owner}&amp;side=buy" in offered
    assert "deals-offered" not in client_as("other").get(url).content.decode()
    assert "deals-offered" not in client_as("producer").get(url).content.decode()  # its own


def test_answering_a_deal_prefills_the_ticket_with_its_owner(client_as, private_sell):
    slot, owner = private_sell.delivery_slot_ms, private_sell.owner
    body = client_as("consumer").get(f"/market/trade/?slot={slot}&zone=bangkok&with={owner}&side=buy").content
    assert f'name="order-counterparty" value="{owner}"' in body.decode()
    # A malformed address is not put in the ticket.
    bad = client_as("consumer").get(f"/market/trade/?slot={slot}&zone=bangkok&with={owner.upper()}").content
    assert 'name="order-counterparty" value=' not in bad.decode()
