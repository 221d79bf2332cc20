"""Standing agreements in the browser's pages: offer, accept, each slot traded, end; refusals beside fields."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from chain.models import MempoolTx
from trading import selectors
from trading.models import Agreement, AgreementStatus, Trade

from .conftest import USERNAMES

pytestmark = pytest.mark.django_db


def picker_text(ms: int) -> str:
    return timezone.localtime(datetime.fromtimestamp(ms / 1000, tz=UTC)).strftime("%Y-%m-%dT%H:%M")


def offer_form(slot: int, **changes) -> dict:
    """home_malee offers to buy 2 kWh of wind_korat's wind at 3.2, every slot for 4 slots."""
    return {
        "agreement-side": "buy",
        "agreement-counterparty": USERNAMES["producer"],
        "agreement-zone": "bangkok",
        "agreement-source": "wind",
        "agreement-energy_kwh": "2",
        "agreement-price": "3.2",
        "agreement-first_slot": picker_text(slot),
        "agreement-slots": "4",
        **changes,
    }


def test_an_agreement_is_offered_accepted_traded_and_ended(client_as, users, produce):
    slot = selectors.slots_open(count=1)[0]
    consumer, producer = client_as("consumer"), client_as("producer")
    response = consumer.post("/market/agreements/", offer_form(slot))
    assert response.status_code == 302
    produce()
    agreement = Agreement.objects.get()
    assert (agreement.buyer, agreement.seller) == (
        users["home_malee"].wallet.address,
        users["wind_korat"].wallet.address,
    )
    assert (agreement.energy_wh, agreement.price_per_kwh, agreement.status) == (2_000, 3_200_000, "offered")
    assert agreement.last_slot_ms == slot + 3 * selectors.market_rules().slot_ms

    page = producer.get("/market/agreements/").content.decode()
    offered = page.split("Offered to you", 1)[1]
    assert f'data-agreement="{agreement.agreement_id}"' in offered and "Accept" in offered
    assert producer.post(f"/market/agreements/{agreement.agreement_id}/accept/").status_code == 302
    produce()  # accepted; the first slot is due at once (one slot before its gate)
    produce()
    agreement.refresh_from_db()
    assert (agreement.status, agreement.slots_placed) == (AgreementStatus.ACTIVE, 1)
    [trade] = Trade.objects.filter(delivery_slot_ms=slot)
    assert (trade.buyer, trade.energy_wh, trade.price_per_kwh) == (agreement.buyer, 2_000, 3_200_000)
    page = consumer.get("/market/agreements/").content.decode()
    assert "you buy from" in page.split("Active", 1)[1] and "1 / 0" in page

    assert consumer.post(f"/market/agreements/{agreement.agreement_id}/end/").status_code == 302
    produce()
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ENDED


def test_a_bad_offer_is_refused_beside_its_field_and_nothing_is_signed(client_as, users):
    slot = selectors.slots_open(count=1)[0]
    consumer = client_as("consumer")
    for changes, field, text in [
        ({"agreement-counterparty": "nobody_here"}, "counterparty", "no user here has that name"),
        ({"agreement-counterparty": USERNAMES["consumer"]}, "counterparty", "your own account"),
        ({"agreement-price": "99"}, "price", "The market takes prices from"),
        ({"agreement-slots": "0"}, "slots", "1 to"),
        ({"agreement-first_slot": "2020-01-01T00:00"}, "first_slot", "Pick a delivery time"),
    ]:
        response = consumer.post("/market/agreements/", offer_form(slot, **changes))
        assert response.status_code == 400
        error = response.content.decode().split(f'id="err-agreement-{field}"', 1)[1].split("</small>", 1)[0]
        assert text in error, (changes, error)
    assert not MempoolTx.objects.exists()


def test_only_a_party_answers_and_strangers_get_403(client_as, users, produce):
    slot = selectors.slots_open(count=1)[0]
    client_as("consumer").post("/market/agreements/", offer_form(slot))
    produce()
    agreement = Agreement.objects.get()
    assert client_as("other").post(f"/market/agreements/{agreement.agreement_id}/accept/").status_code == 403
    # The offerer cannot accept its own offer.
    assert (
        client_as("consumer").post(f"/market/agreements/{agreement.agreement_id}/accept/").status_code == 403
    )
    assert client_as("consumer").post(f"/market/agreements/{'ab' * 32}/end/").status_code == 404
    assert client_as("consumer").post(f"/market/agreements/{agreement.agreement_id}/nope/").status_code == 404
    assert client_as("regulator").get("/market/agreements/").status_code == 403
    assert not MempoolTx.objects.exists()


def test_the_api_lists_an_accounts_agreements(client, client_as, users, produce):
    slot = selectors.slots_open(count=1)[0]
    client_as("consumer").post("/market/agreements/", offer_form(slot))
    produce()
    agreement = Agreement.objects.get()
    for who in ("home_malee", "wind_korat"):
        address = users[who].wallet.address
        [row] = client.get(f"/api/v1/market/agreements/?account={address}").json()
        assert (row["agreement_id"], row["status"], row["energy_wh"]) == (
            agreement.agreement_id,
            "offered",
            2_000,
        )
    assert (
        client.get(f"/api/v1/market/agreements/?account={users['solar_somchai'].wallet.address}").json() == []
    )
    assert client.get("/api/v1/market/agreements/").status_code == 400


def test_graphql_lists_an_accounts_agreements(client_as, users, produce):
    from django.test import Client

    from tests.graphql.conftest import data

    slot = selectors.slots_open(count=1)[0]
    client_as("consumer").post("/market/agreements/", offer_form(slot))
    produce()
    query = "query($a: String!) { agreements(account: $a) { agreementId status energyWh pricePerKwh buyer } }"
    [row] = data(Client(), query, {"a": users["wind_korat"].wallet.address})["agreements"]
    assert (row["status"], row["energyWh"], row["pricePerKwh"]) == ("offered", "2000", "3200000")
    assert row["buyer"] == users["home_malee"].wallet.address


def test_both_parties_activity_feeds_show_the_agreement(client_as, users, produce):
    slot = selectors.slots_open(count=1)[0]
    client_as("consumer").post("/market/agreements/", offer_form(slot))
    produce()
    agreement = Agreement.objects.get()
    client_as("producer").post(f"/market/agreements/{agreement.agreement_id}/accept/")
    produce()
    for role, other in (("consumer", "wind_korat"), ("producer", "home_malee")):
        page = client_as(role).get("/activity/").content.decode()
        short = users[other].wallet.address[:8]
        assert f"Standing agreement offered, with {short}" in page, role
        assert f"Standing agreement with {short}… accepted" in page, role
