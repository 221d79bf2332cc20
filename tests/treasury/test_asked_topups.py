"""Top-ups at a site that does not issue: the site asks the issuer on chain (topup_request with
its node key), the issuer's staff see it in their queue at their own site and answer on chain.

Two sites in one database, told apart by their node key: MEA's (a validator, not an issuer)
and EGAT's (the issuer). Blocks are EGAT's, as in every in-process test.
"""

import pytest
from django.urls import reverse
from nacl.signing import SigningKey

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.models import Account, MempoolTx, Validator
from chain.node import node_key_write, node_signing_key
from treasury import services
from treasury.ledger import kinds as k
from treasury.models import TopUp, TopUpRequest, TopUpStatus

TOKEN = 1_000_000
ISSUER_STAFF = {"anonymous": 302, "newcomer": 403, "consumer": 403, "regulator": 403, "staff": 302}


@pytest.fixture
def site(node_key):
    def become(key: SigningKey) -> None:
        node_key_write(key)
        node_signing_key.cache_clear()

    return become


@pytest.fixture
def asked(client_as, newcomer, site, produce):
    """The newcomer asked for 30 GTX at MEA's site; the request is in block 1. Returns its reference."""
    site(demo_key("MEA"))
    response = client_as("newcomer").post(reverse("treasury-topup"), {"amount": "30"}, follow=True)
    assert "asked the issuer on chain" in response.content.decode()
    request = TopUpRequest.objects.get(user=newcomer)
    [tx] = MempoolTx.objects.filter(kind="topup_request")
    assert (request.status, request.request_tx_hash, tx.sender) == (
        TopUpStatus.RELAYED,
        tx.hash,
        address_of(demo_key("MEA")),
    )
    assert tx.payload == {"to": newcomer.wallet.address, "amount": 30 * TOKEN, "reference": request.reference}
    produce()
    return request.reference


def snapshot():
    return (
        list(TopUp.objects.order_by("reference").values_list("reference", "status", "reason")),
        list(MempoolTx.objects.order_by("hash").values_list("hash", flat=True)),
        list(TopUpRequest.objects.order_by("pk").values_list("pk", "status")),
    )


def test_a_topup_asked_at_mea_is_minted_by_egats_staff_and_credited(
    client_as, asked, newcomer, site, produce
):
    holder = client_as("newcomer")
    page = holder.get(reverse("treasury") + "?part=requests").content.decode()
    assert "asked on chain" in page and asked in page

    site(demo_key("EGAT"))
    staff = client_as("staff")
    queue = staff.get(reverse("treasury-queue")).content.decode()
    assert f'data-reference="{asked}"' in queue and "MEA" in queue
    [listed] = client_as("regulator").get(reverse("api-treasury-queue")).json()["asked_topups"]
    assert (listed["reference"], listed["site_name"], listed["amount"], listed["status"]) == (
        asked,
        "MEA",
        30 * TOKEN,
        "open",
    )
    assert staff.post(reverse("treasury-asked-confirm", args=[asked])).status_code == 302
    [mint] = MempoolTx.objects.filter(kind="token_mint")
    assert mint.payload == {"to": newcomer.wallet.address, "amount": 30 * TOKEN, "reference": asked}
    produce()
    assert Account.objects.get(address=newcomer.wallet.address).balance == 30 * TOKEN
    assert TopUp.objects.get(reference=asked).status == "minted"

    site(demo_key("MEA"))
    page = holder.get(reverse("treasury") + "?part=requests").content.decode()
    assert "credited" in page
    [row] = holder.get(reverse("api-treasury-topups")).json()
    assert (row["reference"], row["status"], row["credited_height"]) == (asked, "relayed", 2)


def test_the_demo_confirms_an_asked_topup_within_its_limit_at_the_issuers_site_once(
    asked, newcomer, site, produce, settings
):
    settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS = 30
    assert services.topups_asked_auto_confirm() == 0  # MEA's site does not issue
    site(demo_key("EGAT"))
    settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS = 29
    assert services.topups_asked_auto_confirm() == 0  # 30 GTX is above the limit: left to staff
    assert not MempoolTx.objects.filter(kind="token_mint").exists()
    settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS = 30
    assert services.topups_asked_auto_confirm() == 1
    assert services.topups_asked_auto_confirm() == 0  # its mint waits for a block: not twice
    [mint] = MempoolTx.objects.filter(kind="token_mint")
    assert mint.payload == {"to": newcomer.wallet.address, "amount": 30 * TOKEN, "reference": asked}
    produce()
    assert Account.objects.get(address=newcomer.wallet.address).balance == 30 * TOKEN
    assert TopUp.objects.get(reference=asked).status == "minted"
    assert services.topups_asked_auto_confirm() == 0


def test_a_refusal_on_chain_reaches_the_persons_site_with_its_reason(client_as, asked, site, produce):
    site(demo_key("EGAT"))
    client_as("staff").post(
        reverse("treasury-asked-refuse", args=[asked]), {"reason": "No transfer with this ref"}
    )
    produce()
    site(demo_key("MEA"))
    page = client_as("newcomer").get(reverse("treasury") + "?part=requests").content.decode()
    assert "refused" in page and "No transfer with this ref" in page


@pytest.mark.parametrize("role", ISSUER_STAFF)
@pytest.mark.parametrize("action", ["treasury-asked-confirm", "treasury-asked-refuse"])
def test_only_the_issuers_staff_answer_an_asked_topup(client_as, asked, site, role, action):
    site(demo_key("EGAT"))
    response = client_as(role).post(reverse(action, args=[asked]), {"reason": "No payment"})
    assert response.status_code == ISSUER_STAFF[role]
    answers = MempoolTx.objects.filter(kind__in=("token_mint", "topup_refuse")).count()
    assert answers == (1 if role == "staff" else 0)


def test_staff_of_the_asking_site_cannot_answer(client_as, asked):
    before = snapshot()  # still MEA's site: it asks, it does not issue
    assert client_as("staff").post(reverse("treasury-asked-confirm", args=[asked])).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("second", ["confirm", "refuse"])
def test_a_second_answer_is_refused_and_changes_nothing(client_as, asked, site, second):
    site(demo_key("EGAT"))
    staff = client_as("staff")
    staff.post(reverse("treasury-asked-confirm", args=[asked]))
    before = snapshot()
    with pytest.raises(services.Refused) as refused:
        if second == "confirm":
            services.topup_asked_confirm(reference=asked)
        else:
            services.topup_asked_refuse(reference=asked, reason="late")
    assert refused.value.code == services.ANSWER_WAITING
    assert snapshot() == before


def test_an_unknown_or_malformed_reference_is_refused(client_as, asked, site):
    site(demo_key("EGAT"))
    before = snapshot()
    for reference in ("TU999999999999", "nonsense"):
        with pytest.raises(services.Refused) as refused:
            services.topup_asked_confirm(reference=reference)
        assert refused.value.code == k.TOPUP_NOT_FOUND
    assert snapshot() == before


@pytest.mark.parametrize("amount", ["0", "-5", "1000000.000001", "abc"])
def test_a_bad_amount_is_refused_before_anything_is_asked(client_as, newcomer, site, amount):
    site(demo_key("MEA"))
    response = client_as("newcomer").post(reverse("treasury-topup"), {"amount": amount})
    assert response.status_code == 400
    assert snapshot() == ([], [], [])


def test_a_site_the_chain_does_not_know_takes_no_topups(client_as, newcomer, site):
    site(demo_key("nobody-knows-this-site"))
    page = client_as("newcomer").get(reverse("treasury")).content.decode()
    assert 'id="topup-elsewhere"' in page and 'id="form-topup"' not in page
    with pytest.raises(services.Refused) as refused:
        services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=5 * TOKEN)
    assert refused.value.code == services.NOT_ISSUER_SITE
    assert snapshot() == ([], [], [])


def test_a_follower_site_asks_and_a_jailed_site_takes_no_topups(client_as, newcomer, site):
    """The rule of k.is_relaying_site, said before signing: the ERC's follower record (inactive)
    relays; a jailed record would be refused on chain (not_a_site), so the site takes none."""
    site(demo_key("ERC"))
    assert not Validator.objects.get(public_key=address_of(demo_key("ERC"))).active
    relayed = services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=5 * TOKEN)
    assert relayed.status == TopUpStatus.RELAYED and relayed.request_tx_hash
    Validator.objects.filter(public_key=address_of(demo_key("ERC"))).update(jailed=True)
    with pytest.raises(services.Refused) as refused:
        services.topup_request(user=newcomer, wallet=newcomer.wallet, amount=5 * TOKEN)
    assert refused.value.code == services.NOT_ISSUER_SITE
    assert TopUpRequest.objects.count() == 1
