"""The order ticket: exact parsing, words beside the field, and nothing changed by bad input."""

from datetime import UTC, datetime, timedelta

import pytest
from django import forms
from django.utils import timezone

from chain.forms import COMMA_NOT_GROUPING
from chain.models import ChainHead, MempoolTx
from trading import forms as f
from trading.forms import parse_kwh, parse_price
from trading.ledger.rules import rules_of
from trading.selectors import slots_open
from trading.services import order_place

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "wh"),
    [("1", 1_000), ("0.1", 100), ("2.5", 2_500), ("0.001", 1), ("1,250.75", 1_250_750), (".5", 500)],
)
def test_kwh_parse_exactly_into_wh(text, wh):
    assert parse_kwh(text) == wh


@pytest.mark.parametrize(
    ("text", "units"), [("3.5", 3_500_000), ("0.000001", 1), ("4.2", 4_200_000), ("3.1234560", 3_123_456)]
)
def test_prices_parse_exactly_into_units(text, units):
    assert parse_price(text) == units


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f.ENERGY_NOT_A_NUMBER),
        ("1e3", f.ENERGY_NOT_A_NUMBER),
        ("NaN", f.ENERGY_NOT_A_NUMBER),
        ("-2", f.ENERGY_NOT_POSITIVE),
        ("0.000", f.ENERGY_NOT_POSITIVE),
        ("1.0001", f.ENERGY_TOO_PRECISE),
    ],
)
def test_bad_energy_is_refused_in_words(text, message):
    with pytest.raises(forms.ValidationError) as refused:
        parse_kwh(text)
    assert refused.value.messages == [message]


def order_data(**changes) -> dict:
    data = {
        "side": "buy",
        "delivery_slot": slots_open(count=2)[1],
        "zone": "bangkok",
        "energy_kwh": "2.5",
        "price": "3.5",
        "source": "",
        "expires_minutes": "",
    }
    data.update(changes)
    return {f"order-{name}": value for name, value in data.items() if value is not None}


def test_a_buy_is_signed_with_exact_integers(client_as, users):
    response = client_as("consumer").post(
        "/market/trade/order/", {**order_data(), "order-sources": ["wind", "solar"]}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Signed and sent" in response.content.decode()
    assert response["HX-Trigger"] == "my-orders-changed"
    tx = MempoolTx.objects.get(sender=users["home_malee"].wallet.address)
    assert tx.kind == "order_place"
    assert tx.payload == {
        "side": "buy",
        "energy_wh": 2_500,
        "price_per_kwh": 3_500_000,
        "zone": "bangkok",
        "delivery_slot": slots_open(count=2)[1],
        "sources": ["solar", "wind"],
    }


def test_a_sell_with_an_expiry_is_signed(client_as, users):
    data = order_data(side="sell", source="wind", energy_kwh="100.125", price="3.25", expires_minutes="30")
    response = client_as("producer").post("/market/trade/order/", data)
    slot = slots_open(count=2)[1]
    assert response.status_code == 302
    assert response["Location"] == f"/market/trade/?slot={slot}&zone=bangkok"
    payload = MempoolTx.objects.get(sender=users["wind_korat"].wallet.address).payload
    assert (payload["side"], payload["energy_wh"], payload["price_per_kwh"], payload["source"]) == (
        "sell",
        100_125,
        3_250_000,
        "wind",
    )
    assert payload["expires_ms"] > slot - 3 * 3_600_000


def past_slot() -> int:
    return slots_open(count=1)[0] - 900_000


BAD_ORDERS = [
    ("consumer", {"energy_kwh": "abc"}, "energy_kwh", f.ENERGY_NOT_A_NUMBER),
    ("consumer", {"energy_kwh": "0"}, "energy_kwh", f.ENERGY_NOT_POSITIVE),
    ("consumer", {"energy_kwh": "-3"}, "energy_kwh", f.ENERGY_NOT_POSITIVE),
    ("consumer", {"energy_kwh": "1.2345"}, "energy_kwh", f.ENERGY_TOO_PRECISE),
    ("consumer", {"energy_kwh": "1,5"}, "energy_kwh", COMMA_NOT_GROUPING),
    ("consumer", {"price": "3,5"}, "price", COMMA_NOT_GROUPING),
    ("consumer", {"energy_kwh": "10000.001"}, "energy_kwh", "The largest order is 10,000.000 kWh."),
    ("consumer", {"energy_kwh": "9" * 29}, "energy_kwh", "The largest order is 10,000.000 kWh."),
    ("consumer", {"price": "0.5"}, "price", "The market takes prices from 1.00 to 20.00 tokens per kWh."),
    ("consumer", {"price": "25"}, "price", "The market takes prices from 1.00 to 20.00 tokens per kWh."),
    ("consumer", {"price": "3.1234567"}, "price", f.PRICE_TOO_PRECISE),
    ("consumer", {"price": "three"}, "price", f.PRICE_NOT_A_NUMBER),
    ("consumer", {"delivery_slot": "12345"}, "delivery_slot", f.SLOT_MALFORMED),
    ("consumer", {"delivery_slot": past_slot}, "delivery_slot", "This slot's gate has closed"),
    ("consumer", {"zone": "atlantis"}, "zone", f.ZONE_UNKNOWN),
    ("consumer", {"side": "sell", "source": "solar"}, "side", f.SIDE_NOT_YOURS),
    ("producer", {"side": "hold"}, "side", "Select a valid choice."),
    ("consumer", {"expires_minutes": "0"}, "expires_minutes", "from 1 to 10080"),
    ("consumer", {"energy_kwh": "2000", "price": "3"}, "price", "This buy locks 7,140.00 tokens"),
    ("producer", {"side": "sell"}, "source", f.SOURCE_REQUIRED),
    ("producer", {"side": "sell", "source": "coal"}, "source", "Select a valid choice."),
    (
        "other",
        {"side": "sell", "source": "solar", "energy_kwh": "600"},
        "energy_kwh",
        "You have 500.000 kWh free",
    ),
]


@pytest.mark.parametrize(("role", "changes", "field", "message"), BAD_ORDERS)
def test_a_bad_order_is_refused_beside_its_field_and_changes_nothing(
    client_as, chain, ledger_snapshot, role, changes, field, message
):
    changes = {k: v() if callable(v) else v for k, v in changes.items()}
    before = ledger_snapshot()
    response = client_as(role).post("/market/trade/order/", order_data(**changes), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    beside = body.split(f'id="err-order-{field}"', 1)[1].split("</small>", 1)[0]
    assert message.replace("'", "&#x27;") in beside
    assert "Signed and sent" not in body
    assert ledger_snapshot() == before


def test_without_javascript_a_bad_order_shows_the_whole_page_with_the_error(
    client_as, chain, ledger_snapshot
):
    before = ledger_snapshot()
    response = client_as("consumer").post("/market/trade/order/", order_data(price="0.5"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="market-book"' in body and "The market takes prices from 1.00" in body
    assert ledger_snapshot() == before


def test_what_the_mempool_already_holds_counts_against_a_sell(client_as, users, ledger_snapshot):
    """The form sees committed kWh; the service also counts sells still waiting for a block."""
    order_place(
        wallet=users["solar_somchai"].wallet,
        side="sell",
        energy_wh=400_000,
        price_per_kwh=3_000_000,
        zone="bangkok",
        delivery_slot=slots_open(count=2)[1],
        source="solar",
    )
    before = ledger_snapshot()
    data = order_data(side="sell", source="solar", energy_kwh="200")
    body = client_as("other").post("/market/trade/order/", data, HTTP_HX_REQUEST="true").content.decode()
    beside = body.split('id="err-order-energy_kwh"', 1)[1].split("</small>", 1)[0]
    assert "Needs 200.000 kWh but only 100.000 kWh are free" in beside
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    ("field", "value", "valid", "message"),
    [
        ("energy_kwh", "1.0005", "false", f.ENERGY_TOO_PRECISE),
        ("energy_kwh", "12.5", "true", ""),
        ("price", "", "", ""),
        ("price", "99", "false", "The market takes prices from 1.00 to 20.00 tokens per kWh."),
    ],
)
def test_a_field_is_checked_alone_as_it_is_typed(
    client_as, chain, ledger_snapshot, field, value, valid, message
):
    before = ledger_snapshot()
    data = order_data(**{field: value})
    response = client_as("consumer").post(f"/market/trade/check/?field={field}", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content.decode() == (
        f'<small class="field-error" id="err-order-{field}" role="alert" data-valid="{valid}">{message}</small>'
    )
    assert ledger_snapshot() == before


def test_checking_an_unknown_field_is_404(client_as, chain):
    assert client_as("consumer").post("/market/trade/check/?field=nonce", order_data()).status_code == 404


def summary_values(body: str) -> dict[str, int]:
    """The integers the ticket summary shows, by what they are."""
    values = {}
    for part in body.split('data-summary="')[1:]:
        name, rest = part.split('"', 1)
        values[name] = int(rest.split('data-value="', 1)[1].split('"', 1)[0])
    return values


def test_the_ticket_says_what_a_buy_will_sign_and_escrow_before_it_is_signed(
    client_as, chain, ledger_snapshot
):
    before = ledger_snapshot()
    response = client_as("consumer").post("/market/trade/preview/", order_data(energy_kwh="1.5", price="3.5"))
    assert response.status_code == 200
    values = summary_values(response.content.decode())
    fee = rules_of(ChainHead.objects.get().params).max_fee_per_kwh["bangkok"]
    assert values == {
        "energy-wh": 1_500,
        "total": 1_500 * 3_500_000 // 1_000,
        "fee-reserve": 1_500 * fee // 1_000,
        "escrow-tokens": 1_500 * (3_500_000 + fee) // 1_000,
    }
    assert ledger_snapshot() == before  # a preview signs nothing


def test_the_ticket_summary_of_a_sell_shows_the_energy_escrowed(client_as, chain):
    data = order_data(side="sell", source="solar", energy_kwh="2.5", price="3.25")
    values = summary_values(client_as("producer").post("/market/trade/preview/", data).content.decode())
    assert values == {"energy-wh": 2_500, "total": 8_125_000, "escrow-wh": 2_500}


@pytest.mark.parametrize("energy", ["1,5", "", "-1"])
def test_an_incomplete_or_ambiguous_ticket_has_no_summary(client_as, chain, energy):
    body = (
        client_as("consumer").post("/market/trade/preview/", order_data(energy_kwh=energy)).content.decode()
    )
    assert "data-summary=" not in body and "appears here once the ticket is complete" in body


@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("regulator", 403)])
def test_only_traders_get_a_ticket_summary(client_as, client, chain, role, status):
    http = client if role == "anonymous" else client_as(role)
    assert http.post("/market/trade/preview/", order_data()).status_code == status


def _next_site_time(hour: int, minute: int = 0) -> int:
    """The Unix ms of the next hour:minute in site time at least a day ahead (within the horizon)."""
    day = timezone.localtime() + timedelta(days=1)
    return int(day.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()) * 1000


@pytest.mark.parametrize(
    ("source", "hour", "warned"), [("solar", 22, True), ("solar", 12, False), ("wind", 22, False)]
)
def test_a_solar_sale_at_night_is_warned_about_before_it_is_signed(client_as, chain, source, hour, warned):
    data = order_data(
        side="sell", source=source, energy_kwh="1", price="3", delivery_slot=_next_site_time(hour)
    )
    body = client_as("producer").post("/market/trade/preview/", data).content.decode()
    assert summary_values(body)["escrow-wh"] == 1_000
    assert ("data-ticket-warning" in body and f.NIGHT_SOLAR in body) is warned


def test_any_slot_the_ledger_takes_can_be_picked_days_ahead(client_as, chain):
    slot = _next_site_time(14, 15) + 2 * 86_400_000
    at = timezone.localtime(datetime.fromtimestamp(slot / 1000, tz=UTC)).strftime("%Y-%m-%dT%H:%M")
    body = client_as("producer").get(f"/market/trade/?at={at}&zone=bangkok").content.decode()
    assert f'name="order-delivery_slot" value="{slot}"' in body
    assert f'name="at" value="{at}"' in body and "slot-at-error" not in body


@pytest.mark.parametrize(
    "at",
    [
        "tomorrow",
        "2026-02-30T10:00",
        "2026-12-03T10:07",
        "2020-01-01T10:00",
        "2999-01-01T10:00",
        "2026-12-03T10:00 ",
    ],
)
def test_a_picked_slot_that_is_no_open_slot_says_which_are_and_falls_back(client_as, chain, at):
    body = client_as("producer").get("/market/trade/", {"at": at, "zone": "bangkok"}).content.decode()
    assert 'id="slot-at-error"' in body and "Pick a delivery time on a 15-minute mark" in body
    assert f'name="order-delivery_slot" value="{slots_open(count=1)[0]}"' in body
