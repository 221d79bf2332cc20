"""The treasury's pages and actions against the role matrix, and what each page says."""

import csv
import io
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from chain.models import MempoolTx
from chain.services import rate_limits
from chain.services.wallets import wallet_create
from treasury import services
from treasury.models import TopUpRequest, TopUpStatus

TOKEN = 1_000_000
#: GET of the holder's page: the person with a wallet who can sign; regulators and staff cannot.
HOLDER_PAGE = {"anonymous": 302, "newcomer": 200, "consumer": 200, "regulator": 403, "staff": 403}
#: GET of the queue and the audit page: those who read everything.
READERS = {"anonymous": 302, "newcomer": 403, "consumer": 403, "regulator": 200, "staff": 200}
#: POST of an answer: the issuer's staff only.
ISSUER_STAFF = {"anonymous": 302, "newcomer": 403, "consumer": 403, "regulator": 403, "staff": 302}
ROLES = tuple(HOLDER_PAGE)


@pytest.mark.parametrize("role", ROLES)
def test_the_holder_page_is_for_wallet_owners_who_sign(client_as, role):
    assert client_as(role).get(reverse("treasury")).status_code == HOLDER_PAGE[role]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ["treasury-queue", "audit-treasury", "audit-treasury-csv"])
def test_the_queue_and_the_audit_are_read_by_regulators_and_staff(client_as, role, name):
    assert client_as(role).get(reverse(name)).status_code == READERS[role]


@pytest.mark.parametrize("role", ROLES)
def test_only_the_issuers_staff_confirm_a_topup(client_as, newcomer, role, no_auto_confirm):
    topup = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=5 * TOKEN)
    response = client_as(role).post(reverse("treasury-topup-confirm", args=[topup.pk]))
    assert response.status_code == ISSUER_STAFF[role]
    topup.refresh_from_db()
    confirmed = role == "staff"
    assert topup.status == (TopUpStatus.CONFIRMED if confirmed else TopUpStatus.PENDING)
    assert MempoolTx.objects.filter(kind="token_mint").count() == (1 if confirmed else 0)


@pytest.mark.parametrize("role", ROLES)
def test_only_the_issuers_staff_refuse_a_topup(client_as, newcomer, role, no_auto_confirm):
    topup = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=5 * TOKEN)
    response = client_as(role).post(
        reverse("treasury-topup-refuse", args=[topup.pk]), {"reason": "No payment"}
    )
    assert response.status_code == ISSUER_STAFF[role]
    topup.refresh_from_db()
    assert topup.status == (TopUpStatus.REFUSED if role == "staff" else TopUpStatus.PENDING)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ["treasury-cashout-confirm", "treasury-cashout-refuse"])
def test_only_the_issuers_staff_answer_a_cashout(client_as, newcomer, produce, role, action):
    services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=50 * TOKEN)
    produce()
    request = services.cashout_request(wallet=newcomer.wallet, amount=20 * TOKEN)
    produce()
    response = client_as(role).post(reverse(action, args=[request.hash]), {"reason": "Name does not match"})
    assert response.status_code == ISSUER_STAFF[role]
    answers = MempoolTx.objects.filter(kind__in=("token_burn", "cashout_release")).count()
    assert answers == (1 if role == "staff" else 0)


def test_a_newcomer_tops_up_and_sees_the_reference_and_the_credit(client_as, newcomer, produce):
    client = client_as("newcomer")
    wallet_page = client.get(reverse("wallet")).content.decode()
    assert "Your wallet is empty" in wallet_page and reverse("treasury") in wallet_page
    response = client.post(reverse("treasury-topup"), {"amount": "250"}, follow=True)
    topup = TopUpRequest.objects.get(user=newcomer)
    page = response.content.decode()
    assert topup.reference in page and "confirmed" in page
    produce()
    status = client.get(reverse("treasury") + "?part=requests").content.decode()
    assert "credited" in status and topup.reference in status
    assert "250.00" in client.get(reverse("treasury") + "?part=status").content.decode()
    assert "Your wallet is empty" not in client.get(reverse("wallet")).content.decode()


def test_a_pending_topup_tells_the_person_how_to_pay(client_as, newcomer, no_auto_confirm):
    page = (
        client_as("newcomer").post(reverse("treasury-topup"), {"amount": "20"}, follow=True).content.decode()
    )
    topup = TopUpRequest.objects.get(user=newcomer)
    assert topup.status == TopUpStatus.PENDING
    assert (
        f"quoting {topup.reference}" in page or f'quoting <span class="mono">{topup.reference}</span>' in page
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "more than zero"),
        ("-5", "more than zero"),
        ("abc", "Enter an amount"),
        ("1000000.000001", "at most"),
    ],
)
def test_a_bad_topup_amount_is_refused_with_a_reason(client_as, newcomer, amount, message):
    response = client_as("newcomer").post(reverse("treasury-topup"), {"amount": amount})
    assert response.status_code == 400 and message in response.content.decode()
    assert not TopUpRequest.objects.exists()


def test_a_cashout_above_the_free_balance_is_refused_in_the_form(client_as, newcomer, produce):
    services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=10 * TOKEN)
    produce()
    response = client_as("newcomer").post(reverse("treasury-cashout"), {"amount": "10.01"})
    assert response.status_code == 400 and "more than you hold free" in response.content.decode()
    assert not MempoolTx.objects.filter(kind="cashout_request").exists()


def test_the_regulator_sees_every_mint_and_burn_and_the_supply_reconciled(client_as, newcomer, produce):
    topup = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=40 * TOKEN)
    produce()
    cashout = services.cashout_request(wallet=newcomer.wallet, amount=15 * TOKEN)
    produce()
    burn = services.cashout_confirm(cashout_id=cashout.hash)
    produce()
    client = client_as("regulator")
    page = client.get(reverse("audit-treasury")).content.decode()
    assert topup.reference in page and burn.payload["reference"] in page and "reconciled" in page
    queue = client.get(reverse("treasury-queue")).content.decode()
    assert "read-only" in queue and "Payment received: mint" not in queue
    rows = list(
        csv.reader(
            io.StringIO(b"".join(client.get(reverse("audit-treasury-csv")).streaming_content).decode())
        )
    )
    assert rows[0][:3] == ["reference", "direction", "height"]
    assert [(r[0], r[1], r[5]) for r in rows[1:]] == [
        (topup.reference, "mint", str(40 * TOKEN)),
        (burn.payload["reference"], "burn", str(15 * TOKEN)),
    ]
    assert rows[1][4] == "newcomer" and rows[1][7] == "EGAT"


def test_the_export_is_formula_safe(client_as, produce):
    """A username that starts like a formula is written as text in the CSV."""
    user = get_user_model().objects.create_user(username="=HYPERLINK", password="x")
    wallet_create(user=user, role="consumer", region="bangkok")
    services.topup_request(user=user, wallet=user.wallet, amount=3 * TOKEN)
    produce()
    body = b"".join(client_as("regulator").get(reverse("audit-treasury-csv")).streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][4] == "'=HYPERLINK"


def test_the_issuers_staff_see_the_waiting_topups_with_their_answers(client_as, newcomer, no_auto_confirm):
    topup = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=7 * TOKEN)
    page = client_as("staff").get(reverse("treasury-queue")).content.decode()
    assert topup.reference in page and "newcomer" in page
    assert reverse("treasury-topup-confirm", args=[topup.pk]) in page
    assert reverse("treasury-topup-refuse", args=[topup.pk]) in page
    assert "read-only" not in page


def test_topup_requests_share_the_browser_write_budget(
    client_as, newcomer, settings, monkeypatch, no_auto_confirm
):
    settings.GTX_BROWSER_WRITE_RATE = "2/min"
    now = int(rate_limits.time.time())
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: now - now % 60 + 30))
    client = client_as("newcomer")
    codes = [client.post(reverse("treasury-topup"), {"amount": "5"}).status_code for _ in range(3)]
    assert codes == [302, 302, 429]
    assert TopUpRequest.objects.filter(user=newcomer).count() == 2


@pytest.mark.parametrize("cashout_id", ["a\x00b", "ab" * 32 + "\n", "AB" * 32, "x" * 5000])
def test_a_hostile_cashout_id_is_not_found_and_never_an_error(client_as, cashout_id):
    response = client_as("staff").post(
        reverse("treasury-cashout-refuse", args=["placeholder"]).replace(
            "placeholder", cashout_id.replace("\x00", "%00")
        ),
        {"reason": "x\x00y"},
        follow=True,
    )
    assert response.status_code in (200, 404)
    assert not MempoolTx.objects.exists()
