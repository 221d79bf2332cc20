"""/metrics: only the operator's scraper reads it, and its figures are the chain's own."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chain.api import shed
from chain.metrics import _quantiles
from chain.models import Block, ChainHead, MempoolTx
from chain.services import admission
from tests.chain.api.conftest import address, signed

pytestmark = pytest.mark.django_db

TOKEN = "scraper-token-for-tests"


@pytest.fixture
def metrics_on(settings):
    settings.GTX_METRICS_TOKEN = TOKEN


def scrape(api) -> dict:
    response = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_without_a_token_configured_the_route_does_not_exist(chain, api, settings):
    settings.GTX_METRICS_TOKEN = ""
    assert api.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"])
def test_a_scraper_without_the_token_is_refused_before_any_figure(chain, api, metrics_on, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = api.get("/metrics", **extra)
    assert response.status_code == 401
    assert b"gtx_" not in response.content
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_figures_follow_the_chain(chain, api, submit, produce, metrics_on):
    before = scrape(api)
    assert before[("gtx_chain_height", ())] == ChainHead.objects.get().height
    assert before[("gtx_mempool_transactions", ())] == 0
    admitted_before = before.get(("gtx_intake_admitted_transactions_total", ()), 0)

    batch = [
        signed("factory_rayong", nonce=n, payload={"to": address("home_malee"), "amount": 5})
        for n in range(3)
    ]
    assert submit(batch).status_code == 202
    refused = submit(signed("factory_rayong", nonce=3, chain_id="another-chain"))
    assert refused.status_code == 400
    code = refused.json()["error"]["code"]

    waiting = scrape(api)
    assert waiting[("gtx_mempool_transactions", ())] == MempoolTx.objects.count() == 3
    assert waiting[("gtx_intake_admitted_transactions_total", ())] == admitted_before + 3
    assert waiting[("gtx_intake_refused_transactions_total", (("code", code),))] >= 1

    block = produce()
    after = scrape(api)
    assert after[("gtx_chain_height", ())] == block.height
    assert after[("gtx_mempool_transactions", ())] == 0
    assert after[("gtx_total_supply_units", ())] == ChainHead.objects.get().total_supply
    assert after[("gtx_block_transactions", (("quantile", "0.99"),))] == 3
    # The finality of the three transfers: from intake here to their block's timestamp.
    assert after[("gtx_finality_seconds", (("quantile", "0.5"),))] >= 0
    blocks = list(Block.objects.order_by("-height")[:2])
    if len(blocks) == 2:
        interval = (blocks[0].timestamp_ms - blocks[1].timestamp_ms) / 1000
        assert after[("gtx_block_interval_seconds", (("quantile", "0.99"),))] >= interval


def test_quantiles_are_nearest_rank():
    assert _quantiles([]) == {}
    assert _quantiles([7]) == {0.5: 7, 0.95: 7, 0.99: 7}
    values = list(range(1, 101))  # 1..100
    assert _quantiles(values) == {0.5: 50, 0.95: 95, 0.99: 99}
    assert _quantiles([3, 1, 2]) == {0.5: 2, 0.95: 3, 0.99: 3}


def test_batches_the_door_refused_unread_are_counted(chain, api, metrics_on):
    """Under overload the door makes most refusals: without this count the refused panel would be
    nearly empty just when the site sheds the most."""
    key = ("gtx_intake_refused_unread_batches_total", (("code", admission.MEMPOOL_FULL),))
    before = scrape(api).get(key, 0)
    admission.room_seen = admission.RoomSeen(10**9, 0, admission.monotonic_ms())  # no room
    assert shed.refusal_before_body(b"POST", shed.TRANSACTIONS_PATH.encode(), 100_000) is not None
    assert scrape(api)[key] == before + 1


def test_the_room_intake_measured_is_a_figure(chain, api, metrics_on, settings):
    """With no two recent blocks to measure, the room is the floor: an operator sees it next to
    the mempool's size."""
    settings.GTX_INTAKE_MIN_WAITING = 123
    assert scrape(api)[("gtx_intake_room_transactions", ())] == 123
