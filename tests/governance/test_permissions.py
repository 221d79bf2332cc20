"""Every governance and validator page and endpoint against the whole role matrix."""

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.models import MempoolTx

from .conftest import ROLES

pytestmark = pytest.mark.django_db

EGAT = address_of(demo_key("EGAT"))
PEA = address_of(demo_key("PEA"))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "path", ["/governance/", "/governance/?status=open", "/governance/1/", "/governance/1/?part=tally"]
)
def test_governance_pages_are_public(client_as, open_proposal, role, path):
    response = client_as(role).get(path)
    assert response.status_code == 200
    assert b"Longer gate closure" in response.content or b"Tally" in response.content


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/governance/proposals/",
        "/api/v1/governance/proposals/1/",
        "/api/v1/governance/proposals/1/votes/",
        "/api/v1/governance/votes/",
    ],
)
def test_rest_reads_are_public_and_refuse_writes(client_as, open_proposal, role, path):
    client = client_as(role)
    assert client.get(path).status_code == 200
    assert client.post(path, {}, content_type="application/json").status_code == 405


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("anonymous", 302),
        ("consumer", 200),
        ("other_consumer", 200),
        ("producer", 200),
        ("regulator", 403),
        ("staff", 200),
    ],
)
def test_create_form_is_for_those_who_may_transact_and_staff(client_as, gov_chain, role, status):
    client = client_as(role)
    assert client.get("/governance/new/").status_code == status
    check = client.post("/governance/new/check/?field=title", {"proposal-title": "x"})
    assert check.status_code == status
    posted = client.post("/governance/new/", {"proposal-title": "Hello", "proposal-action": "text"})
    # Consumers have no stake: the form comes back with the reason; the staked producer's is
    # sent, and staff's, signed with the site's validator key.
    proposes = role in ("producer", "staff")
    expected = {200: 302 if proposes else 200}.get(status, status)
    assert posted.status_code == expected
    sent = MempoolTx.objects.filter(kind="governance_propose")
    assert sent.count() == (1 if proposes else 0)
    if role == "staff":
        assert sent.get().sender == EGAT
    if role in ("consumer", "other_consumer"):
        assert b"tokens staked" in posted.content


@pytest.mark.parametrize(
    ("role", "status", "votes"),
    [
        ("anonymous", 302, 0),
        ("consumer", 302, 0),  # no stake: refused with a message, nothing signed
        ("other_consumer", 302, 0),
        ("producer", 302, 1),
        ("regulator", 403, 0),
        ("staff", 302, 1),  # staff vote as the site's validator (EGAT)
    ],
)
def test_voting(client_as, open_proposal, role, status, votes):
    response = client_as(role).post("/governance/1/vote/", {"option": "yes"})
    assert response.status_code == status
    assert MempoolTx.objects.filter(kind="governance_vote").count() == votes
    if role == "staff":
        assert MempoolTx.objects.get(kind="governance_vote").sender == EGAT


def test_vote_get_is_refused(client_as, open_proposal):
    assert client_as("producer").get("/governance/1/vote/").status_code == 405


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("anonymous", 302),
        ("consumer", 200),
        ("other_consumer", 200),
        ("producer", 200),
        ("regulator", 200),
        ("staff", 200),
    ],
)
@pytest.mark.parametrize("path", ["/validators/", "/validators/?part=health", "/validators/audit/"])
def test_validator_pages_are_for_everyone_logged_in(client_as, chain, role, status, path):
    response = client_as(role).get(path)
    assert response.status_code == status
    if status == 200 and path == "/validators/":
        assert b"EGAT" in response.content
        # Only staff see the actions.
        assert (b'id="form-register"' in response.content) is (role == "staff")
        assert (b"Deactivate" in response.content) is (role == "staff")


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("anonymous", 302),
        ("consumer", 403),
        ("other_consumer", 403),
        ("producer", 403),
        ("regulator", 403),
        ("staff", 302),
    ],
)
@pytest.mark.parametrize(
    ("path", "data"),
    [
        (
            "/validators/register/",
            {
                "register-public_key": address_of(demo_key("SOLARCO")),
                "register-name": "SOLARCO",
                "register-url": "https://solarco.example",
                "register-region": "north",
            },
        ),
        (f"/validators/{PEA}/active/", {"active": "true"}),
        ("/validators/stake/", {"stake-direction": "unbond", "stake-amount": "1"}),
    ],
)
def test_validator_actions_are_staff_only(client_as, chain, role, status, path, data):
    response = client_as(role).post(path, data)
    assert response.status_code == status
    # Staff's click is an authority transaction signed with the site's node key (EGAT's).
    assert MempoolTx.objects.filter(sender=EGAT).count() == (1 if role == "staff" else 0)


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("anonymous", 302),
        ("consumer", 403),
        ("other_consumer", 403),
        ("producer", 403),
        ("regulator", 403),
        ("staff", 302),
    ],
)
def test_unjail_is_staff_only(client_as, chain, role, status):
    response = client_as(role).post(f"/validators/{EGAT}/unjail/")
    assert response.status_code == status
    assert MempoolTx.objects.count() == 0  # EGAT is not jailed: even staff's click signs nothing


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("anonymous", 302),
        ("consumer", 403),
        ("other_consumer", 403),
        ("producer", 403),
        ("regulator", 403),
        ("staff", 200),
    ],
)
def test_register_live_check_is_staff_only(client_as, chain, role, status):
    response = client_as(role).post("/validators/register/check/?field=url", {"register-url": "ftp://x"})
    assert response.status_code == status
    if status == 200:
        assert b"http://" in response.content
