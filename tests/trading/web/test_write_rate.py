"""The browser write limit: past GTX_BROWSER_WRITE_RATE an order or cancel is refused in words, 429."""

from types import SimpleNamespace

import pytest

from chain.models import MempoolTx
from chain.services import rate_limits
from tests.trading.web.test_order_form import order_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_orders_a_minute(settings, monkeypatch):
    """Rate 2/min, and the clock held 30 s into a minute so no test straddles two windows."""
    settings.GTX_BROWSER_WRITE_RATE = "2/min"
    now = int(rate_limits.time.time())
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: now - now % 60 + 30))


def place(client, htmx=True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post("/market/trade/order/", order_data(), **headers)


def test_the_order_past_the_rate_is_refused_in_words_and_changes_nothing(
    two_orders_a_minute, client_as, ledger_snapshot
):
    consumer = client_as("consumer")
    assert [place(consumer).status_code for _ in range(2)] == [200, 200]
    before = ledger_snapshot()
    response = place(consumer)
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many orders in a minute; wait 30 seconds." in body
    assert "Signed and sent" not in body
    assert "HX-Trigger" not in response
    assert ledger_snapshot() == before


def test_without_htmx_the_refusal_shows_on_the_whole_page(two_orders_a_minute, client_as, ledger_snapshot):
    consumer = client_as("consumer")
    assert [place(consumer, htmx=False).status_code for _ in range(2)] == [302, 302]
    before = ledger_snapshot()
    response = place(consumer, htmx=False)
    assert response.status_code == 429
    assert "Too many orders in a minute; wait 30 seconds." in response.content.decode()
    assert ledger_snapshot() == before


def test_another_person_keeps_their_own_budget(two_orders_a_minute, client_as, users):
    consumer = client_as("consumer")
    assert [place(consumer).status_code for _ in range(3)] == [200, 200, 429]
    producer = client_as("producer")
    assert [place(producer).status_code for _ in range(2)] == [200, 200]
    assert MempoolTx.objects.filter(sender=users["wind_korat"].wallet.address).count() == 2


def test_a_cancel_counts_against_the_same_budget(two_orders_a_minute, client_as, users, ledger_snapshot):
    consumer = client_as("consumer")
    assert [place(consumer).status_code for _ in range(2)] == [200, 200]
    tx = MempoolTx.objects.filter(sender=users["home_malee"].wallet.address).first()
    before = ledger_snapshot()
    response = consumer.post(f"/market/orders/{tx.hash}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    assert "Too many orders in a minute; wait 30 seconds." in response.content.decode()
    assert ledger_snapshot() == before
