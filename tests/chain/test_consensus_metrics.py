"""The seed's ConsensusMetrics, read from the committed chain: status page, API and command agree."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from chain.models import Account, Block, ChainHead, Validator
from chain.selectors import active_validators, consensus_metrics
from tests.chain.api.conftest import SUBMIT, address, signed

pytestmark = pytest.mark.django_db


def test_the_metrics_are_the_chains_own(chain, produce, client):
    for nonce in range(3):
        transfer = signed("factory_rayong", nonce=nonce, payload={"to": address("home_malee"), "amount": 1})
        assert client.post(SUBMIT, transfer, content_type="application/json").status_code == 202
        assert produce() is not None
    head = ChainHead.objects.get()
    # A height decided in its third round counts three rounds.
    newest = Block.objects.order_by("-height").first()
    Block.objects.filter(pk=newest.pk).update(round=2)
    Validator.objects.filter(name="EGAT").update(missed_total=4)

    metrics = consensus_metrics(head)

    voting = [v.public_key for v in active_validators()]
    stake = sum(Account.objects.filter(address__in=voting).values_list("staked", flat=True))
    assert metrics["active_validators"] == len(voting) >= 1
    assert metrics["total_stake"] == stake > 0
    assert metrics["last_finalized_height"] == head.height
    assert metrics["rounds_completed"] == head.height + 2
    assert metrics["missed_blocks"] == 4
    blocks = list(Block.objects.order_by("height").values_list("height", "timestamp_ms"))
    if head.height >= 2:
        first = max(head.height - 100, 1)
        start = next(ts for h, ts in blocks if h == first)
        end = next(ts for h, ts in blocks if h == head.height)
        assert metrics["average_block_time_ms"] == (end - start) // (head.height - first)

    assert client.get("/api/v1/status/").json()["consensus_metrics"] == metrics
    page = client.get("/status/").content.decode()
    assert f'data-testid="metric-rounds">{head.height + 2}<' in page
    out = StringIO()
    call_command("status", "--json", stdout=out)
    assert json.loads(out.getvalue())["consensus_metrics"] == metrics


def test_a_jailed_validator_is_not_counted_active(chain):
    before = consensus_metrics(ChainHead.objects.get())["active_validators"]
    Validator.objects.filter(name="EGAT").update(jailed=True)
    assert consensus_metrics(ChainHead.objects.get())["active_validators"] == before - 1
