"""Producers request their meter; the region's utility approves (its meter_register) or refuses.

The sites are told apart by their node key: the tests' chain is EGAT's (the grid
operator, which takes no requests); ``site`` makes this process MEA's (Bangkok's
utility) or PEA's (every other region's) site. Blocks are still made by EGAT.
"""

import pytest
from django.urls import reverse

from chain.ledger import errors
from chain.ledger.errors import Refused
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.models import MempoolTx
from chain.node import node_key_write, node_signing_key
from meters import services
from meters.ledger import kinds as k
from meters.ledger.kinds import MAX_RATED_CAPACITY_W
from meters.models import Meter, MeterRequest, MeterRequestStatus

pytestmark = pytest.mark.django_db

NEW_METER = address_of(demo_key("meter/somchai-second-roof"))
ROLES = {
    "anonymous": None,
    "consumer": "home_malee",
    "producer": "solar_somchai",
    "other_producer": "bkk_community_solar",
    "regulator": "erc_auditor",
    "staff": "admin",
}
#: GET of the producer's page: producers only.
PRODUCERS = {
    "anonymous": 302,
    "consumer": 403,
    "producer": 200,
    "other_producer": 200,
    "regulator": 403,
    "staff": 403,
}
#: GET of the queue: those who read everything.
READERS = {**{role: 403 for role in ROLES}, "anonymous": 302, "regulator": 200, "staff": 200}
#: POST of an answer at the region's utility's site: its staff only.
UTILITY_STAFF = {**{role: 403 for role in ROLES}, "anonymous": 302, "staff": 302}
FORM = {"device_key": NEW_METER, "kind": "solar", "rated_capacity_w": "5000", "region": "bangkok"}


@pytest.fixture
def site(node_key):
    """Make this process the site of the named utility (its node key), as MEA's or PEA's site is."""

    def become(name: str) -> None:
        node_key_write(demo_key(name))
        node_signing_key.cache_clear()

    return become


@pytest.fixture
def client_as(login_as):
    return lambda role: login_as(ROLES[role])


@pytest.fixture
def asked(users, site):
    """solar_somchai's request for a new Bangkok meter, at MEA's site."""
    site("MEA")
    somchai = users["solar_somchai"]
    return services.meter_request_create(
        user=somchai,
        wallet=somchai.wallet,
        device_key=NEW_METER,
        kind="solar",
        rated_capacity_w=5000,
        region="bangkok",
    )


def snapshot():
    """Everything a request or an answer could change."""
    return (
        list(MeterRequest.objects.order_by("pk").values_list("pk", "status", "reason", "register_tx_hash")),
        list(MempoolTx.objects.order_by("hash").values_list("hash", flat=True)),
        list(Meter.objects.values_list("meter_id", flat=True)),
    )


# --- who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_producers_open_the_request_page(client_as, role):
    assert client_as(role).get(reverse("meters-requests")).status_code == PRODUCERS[role]


@pytest.mark.parametrize("role", ROLES)
def test_only_producers_send_a_request(client_as, site, role):
    site("MEA")
    response = client_as(role).post(reverse("meters-requests"), FORM)
    assert response.status_code == {**PRODUCERS, "producer": 302, "other_producer": 302}[role]
    assert MeterRequest.objects.count() == (1 if role in ("producer", "other_producer") else 0)


@pytest.mark.parametrize("role", ROLES)
def test_the_queue_is_read_by_regulators_and_staff(client_as, asked, role):
    response = client_as(role).get(reverse("meters-request-queue"))
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        body = response.content.decode()
        assert f'data-request="{asked.pk}"' in body
        assert ("Approve: register" in body) is (role == "staff")


@pytest.mark.parametrize("role", ROLES)
def test_only_the_utilitys_staff_approve(client_as, asked, role):
    response = client_as(role).post(reverse("meters-request-approve", args=[asked.pk]))
    assert response.status_code == UTILITY_STAFF[role]
    asked.refresh_from_db()
    approved = role == "staff"
    assert asked.status == (MeterRequestStatus.APPROVED if approved else MeterRequestStatus.REQUESTED)
    assert MempoolTx.objects.filter(kind="meter_register").count() == (1 if approved else 0)


@pytest.mark.parametrize("role", ROLES)
def test_only_the_utilitys_staff_refuse(client_as, asked, role):
    response = client_as(role).post(reverse("meters-request-refuse", args=[asked.pk]), {"reason": "No panel"})
    assert response.status_code == UTILITY_STAFF[role]
    asked.refresh_from_db()
    assert asked.status == (MeterRequestStatus.REFUSED if role == "staff" else MeterRequestStatus.REQUESTED)


def test_staff_of_the_grid_operators_site_do_not_decide(client_as, asked, site):
    site("EGAT")  # the grid operator may sign meter_register, but requests are the utility's
    before = snapshot()
    assert client_as("staff").post(reverse("meters-request-approve", args=[asked.pk])).status_code == 403
    assert snapshot() == before


def test_another_regions_utility_cannot_decide_and_nothing_changes(client_as, asked, site):
    site("PEA")  # a utility, but not Bangkok's
    before = snapshot()
    response = client_as("staff").post(reverse("meters-request-approve", args=[asked.pk]), follow=True)
    assert services.NOT_UTILITY_SITE in response.content.decode()
    assert snapshot() == before
    with pytest.raises(Refused) as refused:
        services.meter_request_refuse(request_id=asked.pk, staff=None, reason="not ours")
    assert refused.value.code == services.NOT_UTILITY_SITE
    assert snapshot() == before


# --- each step, as the producer sees it ---------------------------------------------------------


def test_an_approved_request_registers_the_meter_and_the_producer_sees_each_step(
    client_as, asked, users, produce
):
    producer = client_as("producer")
    assert "waiting for the utility" in producer.get(reverse("meters-requests")).content.decode()

    approved = services.meter_request_approve(request_id=asked.pk, staff=users["admin"])
    [tx] = MempoolTx.objects.filter(kind="meter_register")
    assert tx.hash == approved.register_tx_hash
    assert tx.sender == address_of(demo_key("MEA"))
    assert tx.payload == {
        "meter": NEW_METER,
        "owner": users["solar_somchai"].wallet.address,
        "region": "bangkok",
        "kind": "solar",
        "rated_capacity_w": 5000,
    }
    assert approved.decided_by == users["admin"] and approved.decided_at is not None
    assert "waits for the next block" in producer.get(reverse("meters-requests")).content.decode()

    block = produce()
    meter = Meter.objects.get(meter_id=NEW_METER)
    assert meter.owner == users["solar_somchai"].wallet.address
    assert meter.registered_by == address_of(demo_key("MEA"))
    body = producer.get(reverse("meters-requests") + "?part=requests").content.decode()
    assert "registered" in body and f"#{block.height}" in body
    assert "hx-trigger" not in body  # nothing is awaited any more: the list stops asking
    assert f'data-meter="{NEW_METER}"' in producer.get(reverse("meters")).content.decode()


def test_a_refused_request_shows_its_reason_and_signs_nothing(client_as, asked, users):
    services.meter_request_refuse(
        request_id=asked.pk, staff=users["admin"], reason="No inverter at this address"
    )
    body = client_as("producer").get(reverse("meters-requests")).content.decode()
    assert "refused" in body and "No inverter at this address" in body
    assert not MempoolTx.objects.exists()


def test_the_page_screenshot_material_renders_for_the_producer_and_the_utility(client_as, asked):
    assert b'id="form-meter-request"' in client_as("producer").get(reverse("meters-requests")).content
    assert b'id="meter-request-queue"' in client_as("staff").get(reverse("meters-request-queue")).content


# --- bad input: refused with a reason, nothing changed -------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("device_key", NEW_METER.upper()),
        ("device_key", " " + NEW_METER[1:]),
        ("device_key", NEW_METER + "00"),
        ("device_key", NEW_METER[:-1] + "g"),
        ("device_key", "00" * 32),  # 64 hex, but no key of the curve: such a meter could never sign
        ("rated_capacity_w", "0"),
        ("rated_capacity_w", "-5000"),
        ("rated_capacity_w", str(MAX_RATED_CAPACITY_W + 1)),
        ("rated_capacity_w", "5000.5"),
        ("kind", "nuclear"),
        ("region", "atlantis"),
    ],
)
def test_a_malformed_request_is_refused_beside_its_field(client_as, site, field, value):
    site("MEA")
    response = client_as("producer").post(reverse("meters-requests"), {**FORM, field: value})
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not MeterRequest.objects.exists()


def test_a_device_key_already_asked_for_is_refused(client_as, asked):
    before = snapshot()
    response = client_as("other_producer").post(reverse("meters-requests"), FORM)
    assert response.status_code == 400 and errors.DUPLICATE in response.content.decode()
    assert snapshot() == before


def test_a_key_registered_on_chain_is_refused(client_as, site, meters):
    site("MEA")
    response = client_as("producer").post(
        reverse("meters-requests"), {**FORM, "device_key": meters["home_malee"]}
    )
    assert response.status_code == 400 and k.METER_EXISTS in response.content.decode()
    assert not MeterRequest.objects.exists()


def test_a_key_waiting_for_its_registration_is_refused(client_as, asked, users):
    services.meter_request_approve(request_id=asked.pk, staff=users["admin"])
    before = snapshot()
    again = client_as("other_producer").post(reverse("meters-requests"), FORM)
    assert again.status_code == 400
    assert snapshot() == before


def test_an_account_key_is_refused(client_as, site, users):
    site("MEA")
    malee = users["home_malee"].wallet.address
    response = client_as("producer").post(reverse("meters-requests"), {**FORM, "device_key": malee})
    assert response.status_code == 400 and k.METER_KEY_IN_USE in response.content.decode()
    assert not MeterRequest.objects.exists()


def test_a_region_of_another_utility_is_refused_and_names_it(client_as, site):
    site("MEA")
    response = client_as("producer").post(reverse("meters-requests"), {**FORM, "region": "north"})
    body = response.content.decode()
    assert response.status_code == 400 and services.NOT_UTILITY_SITE in body and "PEA" in body
    assert not MeterRequest.objects.exists()


def test_a_producer_not_yet_on_chain_is_told_to_top_up(chain, site, django_user_model):
    from chain.services.wallets import wallet_create

    site("MEA")
    user = django_user_model.objects.create_user(username="new_roof", password="x")
    wallet = wallet_create(user=user, role="producer", region="bangkok")
    with pytest.raises(Refused) as refused:
        services.meter_request_create(
            user=user,
            wallet=wallet,
            device_key=NEW_METER,
            kind="solar",
            rated_capacity_w=5000,
            region="bangkok",
        )
    assert refused.value.code == k.UNKNOWN_OWNER
    assert not MeterRequest.objects.exists()


@pytest.mark.parametrize(
    ("first", "second"),
    [("approve", "approve"), ("approve", "refuse"), ("refuse", "approve"), ("refuse", "refuse")],
)
def test_a_request_is_decided_once(client_as, asked, first, second):
    staff = client_as("staff")
    staff.post(reverse(f"meters-request-{first}", args=[asked.pk]), {"reason": "first"})
    before = snapshot()
    response = staff.post(
        reverse(f"meters-request-{second}", args=[asked.pk]), {"reason": "second"}, follow=True
    )
    assert services.ALREADY_DECIDED in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "bad\x00byte"])
def test_a_refusal_needs_a_plain_reason(client_as, asked, reason):
    before = snapshot()
    client_as("staff").post(reverse("meters-request-refuse", args=[asked.pk]), {"reason": reason})
    assert snapshot() == before


def test_an_approval_the_chain_would_refuse_changes_nothing(asked, users, meters):
    """The key was registered by the staff form after the request: approval says so, signs nothing."""
    from meters.services import meter_register

    meter_register(
        key=demo_key("MEA"),
        meter=NEW_METER,
        owner=users["home_malee"].wallet.address,
        region="bangkok",
        kind="solar",
        rated_capacity_w=1000,
    )
    before = snapshot()
    with pytest.raises(Refused) as refused:
        services.meter_request_approve(request_id=asked.pk, staff=users["admin"])
    assert refused.value.code == k.METER_EXISTS
    assert snapshot() == before
