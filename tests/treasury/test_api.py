"""/api/v1/treasury/: a holder reads their own top-ups and cash-outs; staff and regulators read
the issuer's queue and the supply totals; nobody else reads either, and nothing is written."""

import pytest
from django.urls import reverse

from treasury import services

TOKEN = 1_000_000
#: A holder's own requests: whoever is logged in with a wallet (staff have none: no_wallet).
OWN = {"anonymous": 403, "newcomer": 200, "consumer": 200, "regulator": 200, "staff": 404}
#: The queue and the totals: those who read everything.
READERS = {"anonymous": 403, "newcomer": 403, "consumer": 403, "regulator": 200, "staff": 200}
ROLES = tuple(OWN)


@pytest.fixture
def activity(newcomer, produce, no_auto_confirm, settings):
    """The newcomer's credited top-up (40), a pending one (7) and an open cash-out (15)."""
    settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS = 100
    credited = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=40 * TOKEN)
    settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS = 0
    pending = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=7 * TOKEN)
    block = produce()
    cashout = services.cashout_request(wallet=newcomer.wallet, amount=15 * TOKEN)
    produce()
    return {"credited": credited, "pending": pending, "cashout": cashout, "mint_height": block.height}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ["api-treasury-topups", "api-treasury-cashouts"])
def test_own_requests_need_a_login_and_a_wallet(client_as, activity, role, name):
    response = client_as(role).get(reverse(name))
    assert response.status_code == OWN[role]
    if response.status_code != 200:
        assert response.json()["error"]["code"] == {403: "not_authenticated", 404: "no_wallet"}[OWN[role]]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ["api-treasury-queue", "api-treasury-totals"])
def test_the_queue_and_totals_are_for_staff_and_regulators(client_as, activity, role, name):
    response = client_as(role).get(reverse(name))
    assert response.status_code == READERS[role]
    if response.status_code == 403:
        assert response.json()["error"]["code"] in ("not_authenticated", "permission_denied")


@pytest.mark.parametrize("name", ["api-treasury-topups", "api-treasury-cashouts", "api-treasury-queue"])
@pytest.mark.parametrize("role", ["newcomer", "staff"])
def test_the_reads_take_no_writes(client_as, activity, name, role):
    assert client_as(role).post(reverse(name), {}, content_type="application/json").status_code in (403, 405)


def test_a_holder_reads_their_topups_with_the_credit(client_as, activity):
    body = client_as("newcomer").get(reverse("api-treasury-topups")).json()
    assert [(t["reference"], t["amount"], t["status"], t["credited_height"]) for t in body] == [
        (activity["pending"].reference, 7 * TOKEN, "pending", 0),
        (activity["credited"].reference, 40 * TOKEN, "confirmed", activity["mint_height"]),
    ]
    assert body[1]["mint_tx_hash"] == activity["credited"].mint_tx_hash
    assert client_as("consumer").get(reverse("api-treasury-topups")).json() == []  # not someone else's


def test_a_holder_reads_their_cashouts(client_as, activity):
    body = client_as("newcomer").get(reverse("api-treasury-cashouts")).json()
    assert body["waiting_amounts"] == []
    [cashout] = body["cashouts"]
    assert (cashout["cashout_id"], cashout["amount"], cashout["status"]) == (
        activity["cashout"].hash,
        15 * TOKEN,
        "open",
    )
    assert client_as("consumer").get(reverse("api-treasury-cashouts")).json()["cashouts"] == []


def test_staff_read_the_queue_and_the_totals(client_as, activity):
    client = client_as("staff")
    queue = client.get(reverse("api-treasury-queue")).json()
    assert [(t["reference"], t["username"]) for t in queue["topups"]] == [
        (activity["pending"].reference, "newcomer")
    ]
    assert queue["asked_topups"] == []  # asked on chain at other sites: tests/treasury/test_asked_topups.py
    assert [(c["cashout_id"], c["answer_waiting"]) for c in queue["cashouts"]] == [
        (activity["cashout"].hash, False)
    ]
    totals = client.get(reverse("api-treasury-totals")).json()
    assert (totals["minted"], totals["mints"], totals["cashout_escrow"], totals["difference"]) == (
        40 * TOKEN,
        1,
        15 * TOKEN,
        0,
    )


@pytest.mark.parametrize("limit", ["0", "201", "-1", "x", "1.5", "１"])
def test_a_bad_limit_is_refused(client_as, activity, limit):
    response = client_as("newcomer").get(reverse("api-treasury-topups"), {"limit": limit})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_query"


def test_a_limit_is_honoured(client_as, activity):
    assert len(client_as("newcomer").get(reverse("api-treasury-topups"), {"limit": "1"}).json()) == 1
