import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chain.forms import LOGIN_LOCKED
from chain.ledger.keys import is_address
from chain.models import Role, Wallet
from chain.services.accounts import LOGIN_MAX_FAILURES, login_failures_clear

pytestmark = pytest.mark.django_db
User = get_user_model()

GOOD = {
    "username": "newcomer",
    "password1": "sun-on-the-roof-42",
    "password2": "sun-on-the-roof-42",
    "role": "producer",
    "region": "north",
}


def test_sign_up_creates_a_user_with_a_sealed_wallet_and_logs_in(client, chain):
    response = client.post("/accounts/signup/", GOOD)
    assert response.status_code == 302 and response["Location"] == "/wallet/"
    wallet = Wallet.objects.get(user__username="newcomer")
    assert (wallet.role, wallet.region) == ("producer", "north")
    assert is_address(wallet.address)
    assert len(bytes(wallet.sealed_key)) > 32  # sealed, not the 32-byte seed in clear
    page = client.get("/wallet/").content.decode()
    assert wallet.address in page
    assert bytes(wallet.sealed_key).hex() not in page


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": Role.REGULATOR}, "role"),
        ({"role": "staff"}, "role"),
        ({"region": "atlantis"}, "region"),
        ({"password2": "something-else-42"}, "password2"),
        ({"username": "home_malee"}, "username"),
        ({"password1": "123", "password2": "123"}, "password2"),
    ],
)
def test_sign_up_refuses_bad_input_and_creates_nothing(client, chain, change, field):
    users_before = User.objects.count()
    response = client.post("/accounts/signup/", {**GOOD, **change})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert User.objects.count() == users_before
    assert not Wallet.objects.filter(user__username="newcomer").exists()


def test_sign_up_offers_the_genesis_regions(client, chain):
    body = client.get("/accounts/signup/").content.decode()
    for region in ("bangkok", "central", "north", "northeast", "east", "south"):
        assert f'value="{region}"' in body
    assert 'value="regulator"' not in body


@pytest.fixture
def clean_lockout():
    yield
    login_failures_clear(username="home_malee", ip="127.0.0.1")


def test_login_locks_a_username_after_repeated_failures(chain, clean_lockout):
    client = Client()
    for _ in range(LOGIN_MAX_FAILURES):
        response = client.post("/accounts/login/", {"username": "home_malee", "password": "wrong"})
        assert response.status_code == 200
        assert LOGIN_LOCKED not in response.content.decode()
    locked = client.post("/accounts/login/", {"username": "home_malee", "password": "gridtokenx-demo"})
    assert LOGIN_LOCKED in locked.content.decode()
    assert "_auth_user_id" not in client.session
    other_user = client.post("/accounts/login/", {"username": "solar_somchai", "password": "gridtokenx-demo"})
    assert other_user.status_code == 302


def test_a_good_login_resets_the_failure_count(chain, clean_lockout):
    client = Client()
    for _ in range(LOGIN_MAX_FAILURES - 1):
        client.post("/accounts/login/", {"username": "home_malee", "password": "wrong"})
    assert (
        client.post("/accounts/login/", {"username": "home_malee", "password": "gridtokenx-demo"}).status_code
        == 302
    )
    client.post("/accounts/logout/")
    for _ in range(LOGIN_MAX_FAILURES - 1):
        client.post("/accounts/login/", {"username": "home_malee", "password": "wrong"})
    assert (
        client.post("/accounts/login/", {"username": "home_malee", "password": "gridtokenx-demo"}).status_code
        == 302
    )


def test_logout_is_a_post_and_regulators_may_log_out(client_as):
    client = client_as("regulator")
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session
