"""What governance and the validator pages let each role do once let in.

Who may open or post to each page and endpoint (the statuses) is in the role matrix,
tests/web/test_permissions.py; these are the effects: what is signed, and for whom.
"""

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.models import MempoolTx
from tests.conftest import ROLES

pytestmark = pytest.mark.django_db

EGAT = address_of(demo_key("EGAT"))
PEA = address_of(demo_key("PEA"))


@pytest.mark.parametrize("role", ROLES)
def test_only_the_staked_producer_and_staff_send_a_proposal(client_as, gov_chain, role):
    posted = client_as(role).post("/governance/new/", {"proposal-title": "Hello", "proposal-action": "text"})
    # Consumers have no stake: the form comes back with the reason; the staked producer's is
    # sent, and staff's, signed with the site's validator key.
    sent = MempoolTx.objects.filter(kind="governance_propose")
    assert sent.count() == (1 if role in ("producer", "staff") else 0)
    if role == "staff":
        assert sent.get().sender == EGAT
    if role in ("consumer", "other_consumer"):
        assert b"tokens staked" in posted.content


@pytest.mark.parametrize(
    ("role", "votes"),
    [
        ("anonymous", 0),
        ("consumer", 0),  # no stake: refused with a message, nothing signed
        ("other_consumer", 0),
        ("producer", 1),
        ("regulator", 0),
        ("staff", 1),  # staff vote as the site's validator (EGAT)
    ],
)
def test_voting(client_as, open_proposal, role, votes):
    client_as(role).post("/governance/1/vote/", {"option": "yes"})
    assert MempoolTx.objects.filter(kind="governance_vote").count() == votes
    if role == "staff":
        assert MempoolTx.objects.get(kind="governance_vote").sender == EGAT


@pytest.mark.parametrize("role", ["consumer", "producer", "regulator", "staff"])
def test_only_staff_see_the_validator_actions(client_as, chain, role):
    body = client_as(role).get("/validators/").content
    assert b"EGAT" in body
    assert (b'id="form-register"' in body) is (role == "staff")
    assert (b"Deactivate" in body) is (role == "staff")


@pytest.mark.parametrize("role", ROLES)
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
def test_validator_actions_sign_only_for_staff(client_as, chain, role, path, data):
    client_as(role).post(path, data)
    # Staff's click is an authority transaction signed with the site's node key (EGAT's).
    assert MempoolTx.objects.filter(sender=EGAT).count() == (1 if role == "staff" else 0)


@pytest.mark.parametrize("role", ROLES)
def test_unjail_of_a_validator_not_jailed_signs_nothing(client_as, chain, role):
    client_as(role).post(f"/validators/{EGAT}/unjail/")
    assert MempoolTx.objects.count() == 0  # EGAT is not jailed: even staff's click signs nothing


def test_the_register_live_check_tells_staff_what_is_wrong(client_as, chain):
    response = client_as("staff").post("/validators/register/check/?field=url", {"register-url": "ftp://x"})
    assert b"http://" in response.content
