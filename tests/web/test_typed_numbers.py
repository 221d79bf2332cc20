"""Numbers typed in a query are ASCII digits (chain.ledger.fields.is_digits), never a 500.

``'²'.isdigit()`` is true and ``int('²')`` raises; ``int()`` of 5,000 digits raises too.
"""

import pytest

pytestmark = pytest.mark.django_db

ODD_NUMBERS = ["²", "١٢", "１２", "9" * 5000, "12\n", "-1"]


@pytest.mark.parametrize("text", ODD_NUMBERS)
@pytest.mark.parametrize(
    "url",
    [
        "/explorer/search/?q={}",
        "/explorer/?before={}",
        "/grid/?slot={}",
        "/api/v1/governance/proposals/?limit={}",
        "/api/v1/grid/regions/bangkok/history/?limit={}",
    ],
)
def test_an_odd_number_in_a_query_is_no_server_error(chain, client, url, text):
    response = client.get(url.format(text))
    assert response.status_code < 500
