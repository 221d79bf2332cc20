"""The browser write limit on the wallet forms, one budget with the order ticket."""

from types import SimpleNamespace

import pytest

from chain.models import MempoolTx
from chain.services import rate_limits
from tests.web.test_wallet_forms import send, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_write_a_minute(settings, monkeypatch):
    """Rate 1/min, and the clock held 59 s into a minute so no test straddles two windows."""
    settings.GTX_BROWSER_WRITE_RATE = "1/min"
    now = int(rate_limits.time.time())
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: now - now % 60 + 59))


def test_a_transfer_past_the_rate_is_refused_in_words_and_changes_nothing(
    one_write_a_minute, client_as, users
):
    malee = client_as("consumer")
    somchai = users["solar_somchai"].wallet.address
    assert send(malee, somchai, "1").status_code == 200
    before = snapshot()
    response = send(malee, somchai, "1")
    assert response.status_code == 429
    assert "Too many transactions in a minute; wait 1 second." in response.content.decode()
    assert snapshot() == before


def test_orders_and_wallet_forms_share_one_budget(one_write_a_minute, client_as, users):
    malee = client_as("consumer")
    malee.post("/wallet/stake_bond/submit/", {"stake_bond-amount": "1"}, HTTP_HX_REQUEST="true")
    assert MempoolTx.objects.count() == 1
    response = malee.post(f"/market/orders/{'ab' * 32}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    assert MempoolTx.objects.count() == 1


@pytest.mark.parametrize(
    ("rate", "parsed"), [("60/min", (60, 60)), ("5/s", (5, 1)), ("1000/hour", (1000, 3600))]
)
def test_rates_read_like_the_api_throttle_rates(rate, parsed):
    assert rate_limits.rate_parse(rate) == parsed
