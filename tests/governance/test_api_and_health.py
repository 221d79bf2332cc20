"""REST reads of governance, the OpenAPI schema, and peer health over real HTTP."""

import pytest
from django.core.cache import cache

from chain.models import Validator
from governance import selectors
from localnet.devservers import free_port


@pytest.mark.django_db
def test_proposals_and_votes_read_as_on_chain(open_proposal, users, produce, client):
    from governance import services

    services.vote_cast(
        wallet=users["solar_somchai"].wallet, proposal_id=open_proposal.proposal_id, option="yes"
    )
    produce()
    (doc,) = client.get("/api/v1/governance/proposals/?status=open").json()
    assert doc["number"] == 1 and doc["action"] == "param_change"
    assert doc["action_args"] == {"param": "gate_closure_minutes", "value": 10}
    assert doc["tally"]["yes_stake"] == 1500 * 1_000_000 and doc["tally"]["voters"] == 1
    assert client.get("/api/v1/governance/proposals/?status=executed").json() == []
    votes = client.get("/api/v1/governance/proposals/1/votes/").json()
    assert [(v["voter"], v["option"]) for v in votes] == [(users["solar_somchai"].wallet.address, "yes")]
    mine = client.get(f"/api/v1/governance/votes/?voter={users['solar_somchai'].wallet.address}").json()
    assert len(mine) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/governance/proposals/?status=maybe",
        "/api/v1/governance/proposals/?limit=0",
        "/api/v1/governance/votes/?voter=XYZ",
    ],
)
def test_bad_queries_get_a_reason(chain, client, path):
    response = client.get(path)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_query"


@pytest.mark.django_db
def test_unknown_proposal_is_a_json_404(chain, client):
    response = client.get("/api/v1/governance/proposals/99/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_schema_documents_the_governance_reads(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    for path in ("proposals/", "proposals/{number}/", "proposals/{number}/votes/", "votes/"):
        assert f"/api/v1/governance/{path}" in schema["paths"]
    assert "Tally" in schema["components"]["schemas"]


@pytest.mark.django_db(transaction=True)
def test_node_health_reads_live_sites_and_marks_dead_ones(chain, live_server):
    dead = f"http://127.0.0.1:{free_port()}"
    # Forget only what this test reads (another test may have asked the live server): never clear
    # the cache, which is the Redis that running sites share (tests/redis_guard.py).
    cache.delete_many([f"gov:health:{url}" for url in (live_server.url, dead)])
    health = selectors.node_health(urls=[live_server.url, dead])
    assert health[live_server.url]["reachable"] and health[live_server.url]["height"] == 0
    assert not health[dead]["reachable"] and health[dead]["height"] is None
    # Remembered for a few seconds: a second page view does not ask again.
    assert selectors.node_health(urls=[dead])[dead]["checked_at"] == health[dead]["checked_at"]


@pytest.mark.django_db(transaction=True)
def test_the_health_page_probes_the_peer_urls_the_site_uses_not_the_genesis_ones(
    chain, live_server, client_as, settings
):
    """GTX_PEER_URLS says where MEA's site really is; its genesis url is not where it runs."""
    mea = Validator.objects.get(name="MEA")
    genesis_url = f"http://127.0.0.1:{free_port()}"
    Validator.objects.filter(pk=mea.pk).update(url=genesis_url)  # nothing answers there
    settings.GTX_PEER_URLS = {"MEA": live_server.url}
    cache.delete_many([f"gov:health:{url}" for url in (live_server.url, genesis_url)])

    page = client_as("consumer").get("/validators/?part=health").content.decode()

    row = page.split('data-health="MEA"', 1)[1].split("</tr>", 1)[0]
    assert "● up" in row and live_server.url in row
    assert genesis_url not in page
