"""The meters' pages against anonymous / consumer / producer / regulator / staff."""

import pytest

from chain.models import MempoolTx
from meters.models import Meter
from settlement.models import SettlementAccount
from trading.models import Trade

pytestmark = pytest.mark.django_db

ROLES = {
    "anonymous": None,
    "consumer": "home_malee",
    "producer": "solar_somchai",
    "regulator": "erc_auditor",
    "staff": "admin",
}
ALL = {"solar_somchai", "home_malee", "wind_korat", "hydro_nan", "factory_rayong", "bkk_community_solar"}


@pytest.mark.parametrize("path", ["/meters/", "/meters/carbon/", "/meters/register/"])
def test_meter_pages_need_a_login(login_as, meters, path):
    response = login_as(None).get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("consumer", {"home_malee"}),
        ("producer", {"solar_somchai"}),
        ("regulator", ALL),
        ("staff", ALL),
    ],
)
def test_owners_see_their_meters_and_regulators_and_staff_see_all(login_as, meters, role, sees):
    body = login_as(ROLES[role]).get("/meters/").content.decode()
    for name, meter in meters.items():
        assert (f'data-meter="{meter}"' in body) is (name in sees), name
    assert ("Register a meter" in body) is (role == "staff")


@pytest.mark.parametrize(
    ("role", "status"), [("consumer", 404), ("producer", 200), ("regulator", 200), ("staff", 200)]
)
def test_a_meter_page_is_for_its_owner_regulators_and_staff(login_as, meters, role, status):
    assert login_as(ROLES[role]).get(f"/meters/{meters['solar_somchai']}/").status_code == status


@pytest.mark.parametrize(
    ("role", "status"), [("consumer", 403), ("producer", 403), ("regulator", 403), ("staff", 200)]
)
def test_only_staff_open_the_registration_form(login_as, meters, role, status):
    assert login_as(ROLES[role]).get("/meters/register/").status_code == status


@pytest.mark.parametrize("role", ["consumer", "producer", "regulator"])
def test_nobody_but_staff_registers_and_nothing_changes(login_as, meters, role):
    data = {
        "meter": "7e" * 32,
        "owner": "hydro_nan",
        "region": "north",
        "kind": "hydro",
        "rated_capacity_w": 5000,
    }
    assert login_as(ROLES[role]).post("/meters/register/", data).status_code == 403
    assert not MempoolTx.objects.exists()


def test_staff_register_a_meter_signed_by_the_site_key(login_as, meters, produce, users):
    data = {
        "meter": "7e" * 32,
        "owner": "hydro_nan",
        "region": "north",
        "kind": "hydro",
        "rated_capacity_w": 5000,
    }
    response = login_as("admin").post("/meters/register/", data)
    assert response.status_code == 302
    produce()
    meter = Meter.objects.get(meter_id="7e" * 32)
    assert (meter.owner, meter.rated_capacity_w) == (users["hydro_nan"].wallet.address, 5000)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"meter": "xyz"}, "64 lowercase hex"),
        ({"owner": "nobody_here"}, "No user with this name"),
        ({"rated_capacity_w": 0}, "greater than or equal to 1"),
        ({"region": "mars"}, "Select a valid choice"),
    ],
)
def test_the_registration_form_says_what_is_wrong(login_as, meters, change, error):
    data = {
        "meter": "7e" * 32,
        "owner": "hydro_nan",
        "region": "north",
        "kind": "hydro",
        "rated_capacity_w": 5000,
    }
    response = login_as("admin").post("/meters/register/", {**data, **change})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not MempoolTx.objects.exists()


def test_the_registration_form_refuses_a_meter_key_already_registered(login_as, meters):
    data = {
        "meter": meters["solar_somchai"],
        "owner": "hydro_nan",
        "region": "north",
        "kind": "hydro",
        "rated_capacity_w": 5000,
    }
    response = login_as("admin").post("/meters/register/", data)
    # Admission cannot know yet: the chain refuses it in the block, with meter_exists.
    assert response.status_code == 302


@pytest.mark.parametrize(("role", "sees_all"), [("consumer", False), ("regulator", True), ("staff", True)])
def test_the_carbon_report_shows_everyone_only_to_regulators_and_staff(
    login_as, meters, users, role, sees_all
):
    # Settlement writes these rows in blocks (tests/trading/test_settlement.py); here only the page is tested.
    for name, grams in (("home_malee", 4_700), ("factory_rayong", 960_000)):
        SettlementAccount.objects.create(
            address=users[name].wallet.address, bought_wh=10_000, received_wh=10_000, carbon_g=grams
        )
    response = login_as(ROLES[role]).get("/meters/carbon/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "4.700" in body  # home_malee's own 4.7 kg
    assert ("960.000" in body) is sees_all
    assert ("factory_rayong" in body) is sees_all


@pytest.mark.parametrize(("role", "sees_all"), [("producer", False), ("regulator", True)])
def test_producers_see_the_co2_their_delivered_energy_avoided(login_as, meters, users, role, sees_all):
    somchai, nan = users["solar_somchai"].wallet.address, users["hydro_nan"].wallet.address
    buyer = users["home_malee"].wallet.address
    for n, (seller, grams, source) in enumerate(
        ((somchai, 2_350, "solar"), (nan, 77_000, "hydro"), (somchai, 9_000, "grid"))
    ):
        Trade.objects.create(
            trade_id=f"{n:064x}", height=1, seq=n, timestamp_ms=1, delivery_slot_ms=1, buy_order_id="b" * 64,
            sell_order_id="c" * 64, buyer=buyer, seller=seller, taker_side="buy", buyer_zone="bangkok",
            seller_zone="bangkok", source=source, energy_wh=5_000, price_per_kwh=1, paid_tokens=5,
            wheeling_fee_tokens=0, carbon_g=0, delivered_wh=5_000, delivered_carbon_g=grams, settled_height=2,
        )  # fmt: skip
    body = login_as(ROLES[role]).get("/meters/carbon/").content.decode()
    assert 'id="carbon-supplied-table"' in body
    assert "2.350" in body and "9.000" not in body  # a grid-source sale avoided nothing
    assert ("77.000" in body) is sees_all


def test_a_meter_page_lists_readings_with_the_reason_of_a_refusal(login_as, meters, produce):
    from chain.models import ChainHead
    from meters.services import readings_submit
    from tests.meters.conftest import last_minute, signed_reading

    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    good = signed_reading(chain_id, "solar_somchai", start=start, end=end, export_wh=42)
    future = signed_reading(
        chain_id, "solar_somchai", start=end + 3_600_000, end=end + 3_660_000, export_wh=1, nonce=1
    )
    readings_submit(wires=[good.to_wire(), future.to_wire()])
    produce()
    body = login_as("solar_somchai").get(f"/meters/{meters['solar_somchai']}/").content.decode()
    assert f'data-reading="{good.hash}"' in body and "+0.042 kWh" in body
    assert f'data-reading="{future.hash}"' in body and "window_in_future" in body


def test_the_wallet_links_to_my_meters_and_shows_carbon_credits(login_as, meters, users):
    body = login_as("home_malee").get("/wallet/").content.decode()
    assert 'href="/meters/"' in body and 'data-balance="carbon"' not in body  # nothing settled yet
    SettlementAccount.objects.create(
        address=users["home_malee"].wallet.address, bought_wh=10_000, received_wh=8_000, carbon_g=3_760
    )
    body = login_as("home_malee").get("/wallet/").content.decode()
    assert 'data-balance="carbon"' in body and "3.760" in body
