from decimal import Decimal

import pytest
from django import forms as django_forms
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from chain.forms import AMOUNT_TOO_PRECISE, COMMA_NOT_GROUPING, parse_token_amount
from chain.ledger.encoding import MAX_SAFE_INTEGER
from chain.templatetags.chain_units import kwh, payload_fields, tokens


@pytest.mark.parametrize(
    ("units", "shown"),
    [
        (0, "0.00"),
        (1, "0.000001"),
        (1_500_000, "1.50"),
        (5_000_000_000, "5,000.00"),
        (12_345_678, "12.345678"),
        (-2_000_000, "-2.00"),
    ],
)
def test_tokens_shows_exact_amounts(units, shown):
    assert tokens(units) == shown


@pytest.mark.parametrize(
    ("wh", "shown"), [(0, "0.000"), (1, "0.001"), (1500, "1.500"), (20_000_000, "20,000.000")]
)
def test_kwh_shows_three_decimals(wh, shown):
    assert kwh(wh) == shown


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("1", 1_000_000),
        ("0.1", 100_000),
        ("12.345678", 12_345_678),
        (" 1,000.5 ", 1_000_500_000),
        (".5", 500_000),
        ("1,500", 1_500_000_000),
        ("12,345,678.25", 12_345_678_250_000),
    ],
)
def test_parse_token_amount_is_exact(text, units):
    assert parse_token_amount(text) == units


@pytest.mark.parametrize(
    "text", ["1,5", "1,50", "15,00", ",5", "1,5000", "1,000,0", "1.000,5", "1,,000", "1,000.5,0"]
)
def test_a_comma_that_does_not_group_thousands_is_refused_not_dropped(text):
    """ "1,5" meant 1.5 to many people: read as 15 it would sign ten times what was meant."""
    with pytest.raises(django_forms.ValidationError) as info:
        parse_token_amount(text)
    assert info.value.messages == [COMMA_NOT_GROUPING]


@given(st.integers(min_value=1, max_value=MAX_SAFE_INTEGER))
def test_parsing_what_is_shown_gives_back_the_units(units):
    assert parse_token_amount(tokens(units)) == units


@given(st.decimals(min_value=Decimal("0.0000001"), max_value=Decimal("1000"), places=7))
def test_a_seventh_decimal_is_refused_not_rounded(value):
    if (value * 10**6) % 1 == 0:
        return
    with pytest.raises(django_forms.ValidationError) as info:
        parse_token_amount(format(value, "f"))
    assert info.value.messages == [AMOUNT_TOO_PRECISE]


def test_payload_fields_format_by_name():
    rows = {
        r["name"]: r
        for r in payload_fields(
            {
                "to": "ab" * 32,
                "amount": 2_500_000,
                "energy_wh": 1500,
                "price_per_kwh": 3_500_000,
                "memo": "hi",
            }
        )
    }
    assert rows["to"]["format"] == "address"
    assert rows["amount"]["shown"] == "2.50"
    assert rows["energy_wh"]["shown"] == "1.500"
    assert rows["price_per_kwh"]["per_kwh"] is True
    assert rows["memo"]["format"] == "text"


@pytest.mark.django_db
def test_every_page_says_which_zone_its_times_are_in_and_what_a_token_is(chain, client, settings):
    page = client.get("/").content.decode()
    offset = timezone.localtime().strftime("%z")
    assert f"times are {settings.TIME_ZONE} time (UTC{offset})" in page
    assert "1 token ≈ 1 THB" in page and "each verified renewable kWh mints 1 token" in page
