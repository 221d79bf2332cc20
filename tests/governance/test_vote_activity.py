"""A vote a person signs shows pending, then included; the decided proposal reaches every
person's activity feed (issue 18 fault 4 and the feed)."""

import pytest

from chain.models import LedgerEvent, MempoolTx
from governance import services

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def state_of(client, tx_hash: str) -> str:
    page = client.get("/activity/?part=transactions").content.decode()
    return page.split(f'data-tx="{tx_hash}" data-tx-state="', 1)[1].split('"', 1)[0]


def test_a_vote_is_pending_then_included_and_the_decision_is_in_every_feed(
    open_proposal, users, client_as, tick
):
    somchai = client_as("producer")
    response = somchai.post("/governance/1/vote/", {"option": "yes"}, **HTMX)
    assert response.status_code == 200 and "signed and sent" in response.content.decode()
    [vote] = MempoolTx.objects.filter(kind="governance_vote")
    assert state_of(somchai, vote.hash) == "pending"
    assert "“yes”" in somchai.get("/activity/?part=transactions").content.decode()
    assert "Vote signed and sent: pending" in somchai.get("/activity/?part=tray").content.decode()

    block = tick()
    assert state_of(somchai, vote.hash) == "included"
    assert f"Vote included in block #{block.height}" in somchai.get("/activity/?part=tray").content.decode()

    services.node_vote_cast(proposal_id=open_proposal.proposal_id, option="yes")
    for _ in range(8):  # the 4-block voting period ends within these
        if LedgerEvent.objects.filter(type="governance_tallied").exists():
            break
        tick()
    [decided] = LedgerEvent.objects.filter(type="governance_tallied")
    assert decided.parties == ["*"]
    # Everyone's, voter or not.
    for role in ("producer", "consumer"):
        feed = client_as(role).get("/activity/?part=feed").content.decode()
        assert f"Proposal #1 decided: {decided.data['status']}" in feed
        assert 'href="/governance/1/"' in feed
