"""Grid pages and the operator's form: who sees what, who may limit a path, what a limit does."""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chain.models import ChainTx, MempoolTx
from grid.models import PathLimit, RegionStatus
from grid.services import grid_report_tick
from tests.grid.conftest import ROLES
from trading.selectors import slots_open

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ROLES)
def test_everyone_sees_the_dashboard_and_region_pages(client_as, reported, role):
    client = client_as(role)
    page = client.get(reverse("grid"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="frequency-chart"' in html and 'data-region="northeast"' in html
    assert "Grid operator: limit a path" in html if role == "staff" else "Grid operator" not in html
    bangkok = RegionStatus.objects.get(region="bangkok")
    freq = f"{bangkok.frequency_mhz // 1000}.{bangkok.frequency_mhz % 1000:03d}"
    assert freq in html
    region = client.get(reverse("grid-region", args=["north"]))
    assert region.status_code == 200 and b"region-frequency-chart" in region.content
    assert client.get(reverse("grid") + "?part=paths").status_code == 200


def test_the_dashboard_works_before_any_report(client_as, chain):
    page = client_as("anonymous").get(reverse("grid"))
    assert page.status_code == 200 and b"frequency-series" in page.content


def test_an_unknown_region_is_404(client_as, chain):
    assert client_as("anonymous").get(reverse("grid-region", args=["mars"])).status_code == 404


def _limit_post(client, **extra):
    slot = slots_open(count=2)[1]
    data = {
        "path": "bangkok:east",
        "from_slot": slot,
        "until_slot": "",
        "action": "congested",
        "reason": "storm",
    }
    return client.post(reverse("grid-path-limit"), {**data, **extra})


def test_staff_on_the_operators_site_mark_a_path_congested(client_as, chain, produce):
    response = _limit_post(client_as("staff"))
    assert response.status_code == 302
    assert MempoolTx.objects.filter(kind="grid_path_limit").count() == 1
    produce()
    tx = ChainTx.objects.get(kind="grid_path_limit")
    assert tx.ok, tx.error_message
    limit = PathLimit.objects.get(path_id="bangkok:east")
    assert limit.congested and limit.reason == "storm"
    page = client_as("anonymous").get(reverse("grid")).content.decode()
    assert "congested from" in page


def test_the_operator_form_says_what_is_wrong_and_sends_nothing(client_as, chain):
    client = client_as("staff")
    response = _limit_post(client, action="capacity", capacity_mw="99999")
    assert response.status_code == 302
    assert not MempoolTx.objects.exists()
    page = client.get(reverse("grid")).content.decode()
    assert "At most the nominal 2,500 MW" in page


@pytest.mark.parametrize("role", ["producer", "consumer", "regulator"])
def test_nobody_but_staff_may_limit_a_path(client_as, chain, role):
    assert _limit_post(client_as(role)).status_code == 403
    assert not MempoolTx.objects.exists()


def test_anonymous_limit_posts_go_to_login(client_as, chain):
    response = _limit_post(client_as("anonymous"))
    assert response.status_code == 302 and "/login" in response["Location"]
    assert not MempoolTx.objects.exists()


def test_staff_on_a_site_that_is_not_the_operator_may_not_limit(client_as, chain, settings, tmp_path):
    from chain.ledger.genesis import demo_key
    from chain.node import node_key_write

    node_key_write(demo_key("MEA"))  # an authority, not the grid operator
    client = client_as("staff")
    assert b"Grid operator" not in client.get(reverse("grid")).content
    assert _limit_post(client).status_code == 403
    assert not MempoolTx.objects.exists()


def test_limits_refuse_get(client_as, chain):
    assert client_as("staff").get(reverse("grid-path-limit")).status_code == 405


def test_a_limit_post_without_the_csrf_token_is_refused(users, chain):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(users["admin"])
    assert _limit_post(client).status_code == 403
    assert not MempoolTx.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/grid/regions/", "/api/v1/grid/paths/"])
def test_the_grid_api_is_read_only(client_as, chain, path):
    response = client_as("staff").post(path, {}, content_type="application/json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_paths_part_shows_the_markets_use_of_a_chosen_slot(client_as, users, produce):
    from trading.services import order_place

    slot = slots_open(count=2)[1]
    order_place(
        wallet=users["bkk_community_solar"].wallet,
        side="sell",
        energy_wh=10_000,
        price_per_kwh=3_000_000,
        zone="bangkok",
        delivery_slot=slot,
        source="solar",
    )
    order_place(
        wallet=users["factory_rayong"].wallet,
        side="buy",
        energy_wh=7_000,
        price_per_kwh=4_000_000,
        zone="east",
        delivery_slot=slot,
        sources="any",
    )
    produce()
    client = client_as("anonymous")
    html = client.get(reverse("grid") + f"?part=paths&slot={slot}").content.decode()
    row = html[html.index('data-path="bangkok:east"') :].split("</tr>")[0]
    assert "7.000" in row
    now = client.get(reverse("grid") + "?part=paths&slot=12345").content.decode()  # not offered: now
    assert "7.000" not in now[now.index('data-path="bangkok:east"') :].split("</tr>")[0]


def test_the_explorer_shows_a_grid_report_and_its_block(client_as, reported):
    tx = reported[-1]
    client = client_as("anonymous")
    page = client.get(reverse("explorer-tx", args=[tx.hash]))
    assert page.status_code == 200 and b"grid_report" in page.content
    assert client.get(reverse("explorer-block", args=[2])).status_code == 200
    assert client.get(reverse("explorer")).status_code == 200


def test_the_dashboard_costs_the_same_queries_with_more_history(client_as, reported, produce):
    client = client_as("anonymous")
    with CaptureQueriesContext(connection) as before:
        client.get(reverse("grid"))
    now_ms = reported[-1].payload["time_ms"]
    for i in range(1, 5):
        grid_report_tick(now_ms=now_ms + i * 1000, rng=random.Random(i))
    produce()
    with CaptureQueriesContext(connection) as after:
        client.get(reverse("grid"))
    assert len(after) == len(before)
