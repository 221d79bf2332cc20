"""Every browser POST needs the CSRF token: without it, 403 and nothing changes.

(The API's transaction intake is the exception by design: a signed transaction
is its own authority; see tests/chain/api/test_permissions.py.)
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chain.models import MempoolTx
from tests.trading.harness import sell
from trading import selectors
from trading.services import order_place

pytestmark = pytest.mark.django_db


def csrf_client(users, username: str | None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if username is not None:
        client.force_login(users[username])
    return client


def state() -> tuple:
    return MempoolTx.objects.count(), get_user_model().objects.count()


@pytest.fixture
def posts(users):
    """(username, path, data) of every browser form, each valid but for the missing token."""
    slot = selectors.slots_open(count=2)[1]
    order = order_place(wallet=users["wind_korat"].wallet, **sell(slot, kwh=1, source="wind"))
    somchai = users["solar_somchai"].wallet.address
    transfer = {"transfer-recipient": somchai, "transfer-amount": "1"}
    ticket = {
        "order-side": "buy",
        "order-delivery_slot": str(slot),
        "order-zone": "bangkok",
        "order-energy_kwh": "1",
        "order-price": "4",
    }
    return [
        (
            None,
            "/accounts/signup/",
            {"username": "newcomer", "password1": "x7!long-pass", "role": "consumer"},
        ),
        (None, "/accounts/login/", {"username": "home_malee", "password": "gridtokenx-demo"}),
        ("home_malee", "/accounts/logout/", {}),
        ("home_malee", "/wallet/transfer/submit/", transfer),
        ("home_malee", "/wallet/transfer/check/?field=amount", transfer),
        ("home_malee", "/market/trade/order/", ticket),
        ("home_malee", "/market/trade/check/?field=price", ticket),
        ("wind_korat", f"/market/orders/{order.hash}/cancel/", {}),
    ]


def test_no_browser_post_works_without_the_token(users, posts):
    before = state()
    for username, path, data in posts:
        assert csrf_client(users, username).post(path, data).status_code == 403, path
    assert state() == before


def test_the_same_post_with_the_token_goes_through(users):
    client = csrf_client(users, "home_malee")
    client.get("/wallet/")  # sets the csrftoken cookie
    data = {
        "transfer-recipient": users["solar_somchai"].wallet.address,
        "transfer-amount": "1",
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
    }
    response = client.post("/wallet/transfer/submit/", data)
    assert response.status_code == 302
    assert MempoolTx.objects.count() == 1
