"""The market over REST: signed order transactions in, book, trades and orders out."""

import pytest

from chain.api import errors as api_errors
from tests.chain.api.conftest import SUBMIT, address, ledger_snapshot, signed
from tests.trading.harness import TOKEN, buy, sell
from trading import selectors
from trading.ledger import rules as r

pytestmark = pytest.mark.django_db

MARKET = "/api/v1/market/"


@pytest.fixture
def slot(chain):
    return selectors.slots_open(count=2)[1]


def post(client, wire):
    return client.post(SUBMIT, data=wire, content_type="application/json")


def test_signed_orders_trade_and_every_read_shows_it(client, produce, slot):
    resting = post(client, signed("solar_somchai", kind="order_place", payload=sell(slot)))
    assert resting.status_code == 202, resting.content
    order_id = resting.json()["hashes"][0]
    produce()
    book = client.get(MARKET + "book/", {"slot": slot}).json()
    assert book["asks"] == [{"price_per_kwh": 3_500_000, "energy_wh": 100_000, "orders": 1}]
    assert book["bids"] == []

    assert post(client, signed("home_malee", kind="order_place", payload=buy(slot))).status_code == 202
    produce()

    [trade] = client.get(MARKET + "trades/", {"slot": slot, "zone": "bangkok"}).json()
    assert (trade["energy_wh"], trade["price_per_kwh"], trade["paid_tokens"]) == (
        50_000,
        3_500_000,
        175 * TOKEN,
    )
    assert trade["seller"] == address("solar_somchai") and trade["buyer"] == address("home_malee")
    assert client.get(MARKET + "trades/", {"account": address("home_malee")}).json() == [trade]
    assert client.get(MARKET + "trades/", {"zone": "north"}).json() == []
    assert client.get(MARKET + "book/", {"slot": slot}).json()["asks"][0]["energy_wh"] == 50_000

    order = client.get(MARKET + f"orders/{order_id}/").json()
    assert (order["status"], order["remaining_wh"]) == ("open", 50_000)
    mine = client.get(MARKET + "orders/", {"account": address("solar_somchai"), "status": "open"}).json()
    assert [o["order_id"] for o in mine] == [order_id]
    [point] = client.get(MARKET + "prices/", {"slot": slot}).json()
    assert point["price_per_kwh"] == 3_500_000
    overview = client.get(MARKET).json()
    assert {"zone": "bangkok", "last_price_per_kwh": 3_500_000, "last_trade_height": 2} in overview["zones"]


def test_a_signed_cancel_releases_the_order(client, produce, slot):
    placed = post(client, signed("solar_somchai", kind="order_place", payload=sell(slot))).json()["hashes"][0]
    produce()
    cancel = signed("solar_somchai", nonce=1, kind="order_cancel", payload={"order_id": placed})
    assert post(client, cancel).status_code == 202
    produce()
    assert client.get(MARKET + f"orders/{placed}/").json()["status"] == "cancelled"
    assert client.get(MARKET + "book/", {"slot": slot}).json()["asks"] == []


@pytest.mark.parametrize(
    ("payload_change", "code"),
    [
        ({"energy_wh": 0}, "bad_amount"),
        ({"price_per_kwh": 1}, r.BAD_PRICE),
        ({"zone": "mars"}, r.UNKNOWN_ZONE),
        ({"delivery_slot": 12345}, r.BAD_SLOT),
        ({"source": "coal"}, r.UNKNOWN_SOURCE),
    ],
)
def test_a_malformed_order_is_refused_at_intake_and_changes_nothing(client, slot, payload_change, code):
    before = ledger_snapshot()
    response = post(client, signed("solar_somchai", kind="order_place", payload=sell(slot) | payload_change))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("book/", {}),
        ("book/", {"slot": "soon"}),
        ("book/", {"slot": "1"}),
        ("book/", {"slot": "900000", "zone": "mars"}),
        ("book/", {"slot": "900000", "levels": "0"}),
        ("trades/", {"account": "not-an-address"}),
        ("trades/", {"limit": "100000"}),
        ("orders/", {}),
        ("orders/", {"account": "a" * 64, "status": "lost"}),
        ("prices/", {}),
    ],
)
def test_bad_queries_are_json_errors(client, chain, path, query):
    response = client.get(MARKET + path, query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == api_errors.BAD_QUERY and error["message"]


def test_an_unknown_order_is_a_json_404(client, chain):
    for order_id in ("ab" * 32, "nope"):
        response = client.get(MARKET + f"orders/{order_id}/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == api_errors.NOT_FOUND


def test_the_schema_documents_the_market(client, chain):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("", "book/", "trades/", "orders/", "orders/{order_id}/", "prices/"):
        assert MARKET + path in schema["paths"], path
    params = {p["name"] for p in schema["paths"][MARKET + "trades/"]["get"]["parameters"]}
    assert {"slot", "zone", "account", "limit"} <= params


def test_a_signed_sell_beyond_the_free_kwh_is_refused_at_the_door(client, slot):
    """solar_somchai holds 500 kWh: 300 waiting in one sell leave 200 for the next."""
    assert (
        post(client, signed("solar_somchai", kind="order_place", payload=sell(slot, kwh=300))).status_code
        == 202
    )
    before = ledger_snapshot()
    response = post(client, signed("solar_somchai", nonce=1, kind="order_place", payload=sell(slot, kwh=201)))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == r.INSUFFICIENT_ENERGY
    assert "only 200.000 kWh are free" in error["message"]
    assert ledger_snapshot() == before


def test_a_signed_buy_must_cover_its_wheeling_fee_reserve_at_the_door(client, chain, slot):
    """The lock is energy x limit plus the dearest path fee from the zone, not the price alone."""
    balance = client.get(f"/api/v1/accounts/{address('home_malee')}/").json()["balance"]
    price = 4_000_000
    max_fee = r.rules_of(chain.params).max_fee_per_kwh["bangkok"]
    kwh = balance // price  # affordable at the limit price alone, not with the fee reserve
    assert r.buy_lock_units(kwh * 1000, price, 0) <= balance < r.buy_lock_units(kwh * 1000, price, max_fee)
    before = ledger_snapshot()
    response = post(client, signed("home_malee", kind="order_place", payload=buy(slot, kwh=kwh, price=price)))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert ledger_snapshot() == before
