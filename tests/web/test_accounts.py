import secrets

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from chain.client_address import client_ip
from chain.ledger.keys import is_address
from chain.management.commands.init import DEMO_PASSWORD
from chain.models import Role, Wallet
from chain.services.accounts import client_network, password_hash_slot
from chain.services.rate_limits import window_count

pytestmark = pytest.mark.django_db
User = get_user_model()

GOOD = {
    "username": "newcomer",
    "password1": "sun-on-the-roof-42",
    "password2": "sun-on-the-roof-42",
    "role": "producer",
    "region": "north",
}


def test_sign_up_creates_a_user_with_a_sealed_wallet_and_logs_in(chain):
    client = a_client()
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


# --- limits on password guessing (issue 14, finding 4) ---------------------------------


class CountingHasher(MD5PasswordHasher):
    """The tests' MD5 hasher, counting every hash it computes (checks and new passwords)."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture
def hashes(settings):
    """How many passwords were hashed since the test began (a callable)."""
    settings.PASSWORD_HASHERS = ["tests.web.test_accounts.CountingHasher"]
    start = CountingHasher.calls
    return lambda: CountingHasher.calls - start


def a_client() -> Client:
    """A client from an address of its own: limits counted in Redis outlive a test run."""
    return Client(
        REMOTE_ADDR=f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    )


def log_in(client: Client, username: str, password: str = DEMO_PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_failed_logins_are_limited_per_network_whatever_the_usernames(chain, settings, hashes):
    settings.GTX_LOGIN_FAILURE_RATE = "3/h"
    guesser = a_client()
    for username in ("home_malee", "solar_somchai", "nobody-by-this-name"):
        response = log_in(guesser, username, "wrong")
        assert response.status_code == 200
    assert hashes() == 3

    refused = log_in(guesser, "home_malee")  # the right password, too late

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many failed logins from your network. Try again in" in refused.content.decode()
    assert "_auth_user_id" not in guesser.session
    assert hashes() == 3  # refused before any hash
    # The person behind home_malee, anywhere else, is not locked out.
    assert log_in(a_client(), "home_malee").status_code == 302


def test_a_good_login_does_not_spend_the_failure_budget(chain, settings):
    settings.GTX_LOGIN_FAILURE_RATE = "2/h"
    client = a_client()
    for _ in range(3):
        assert log_in(client, "home_malee").status_code == 302
        client.post("/accounts/logout/")
    assert log_in(client, "home_malee", "wrong").status_code == 200


def test_an_unknown_username_costs_as_many_hashes_as_a_known_one(chain, hashes):
    client = a_client()
    log_in(client, "home_malee", "wrong")
    known = hashes()
    log_in(client, "nobody-by-this-name", "wrong")
    unknown = hashes() - known
    assert known == unknown == 1


def test_a_login_while_the_sites_password_hashing_is_busy_is_answered_429_at_once(chain, hashes):
    client = a_client()
    with password_hash_slot():  # another login is being checked
        response = log_in(client, "home_malee")

    assert response.status_code == 429
    assert response["Retry-After"] == "2"
    assert "The site is busy checking other passwords. Try again in 2 seconds." in response.content.decode()
    assert hashes() == 0
    assert "_auth_user_id" not in client.session
    assert log_in(client, "home_malee").status_code == 302  # the place is free again


def test_the_admin_login_counts_against_the_same_limits(chain, settings, hashes):
    settings.GTX_LOGIN_FAILURE_RATE = "1/h"
    client = a_client()
    client.post("/admin/login/", {"username": "admin", "password": "wrong"})
    refused = client.post("/admin/login/", {"username": "admin", "password": DEMO_PASSWORD})
    assert "Too many failed logins from your network" in refused.content.decode()
    assert hashes() == 1
    assert "_auth_user_id" not in client.session


def sign_up(client: Client, username: str):
    return client.post("/accounts/signup/", {**GOOD, "username": username})


def test_sign_ups_are_limited_per_network(chain, settings):
    settings.GTX_SIGNUP_RATE = "2/h"
    client = a_client()
    for name in ("first-of-two", "second-of-two"):
        assert sign_up(client, name).status_code == 302
        client.post("/accounts/logout/")

    refused = sign_up(client, "one-too-many")

    assert refused.status_code == 429
    assert "Too many new accounts from your network. Try again in" in refused.content.decode()
    assert not User.objects.filter(username="one-too-many").exists()
    assert sign_up(a_client(), "from-elsewhere").status_code == 302


def test_sign_ups_are_limited_for_the_whole_site(chain, settings):
    # The site's count is shared with every other test run on this Redis: allow one more.
    so_far, _ = window_count("signups:site", seconds=86400)
    settings.GTX_SIGNUP_SITE_RATE = f"{so_far + 1}/d"
    assert sign_up(a_client(), "the-last-one").status_code == 302

    refused = sign_up(a_client(), "one-too-many")

    assert refused.status_code == 429
    assert "This site has opened as many accounts as it can for now" in refused.content.decode()
    assert not User.objects.filter(username="one-too-many").exists()


def test_a_sign_up_while_the_sites_password_hashing_is_busy_creates_nothing(chain, hashes):
    with password_hash_slot():
        refused = sign_up(a_client(), "in-a-hurry")
    assert refused.status_code == 429
    assert "The site is busy checking other passwords" in refused.content.decode()
    assert not User.objects.filter(username="in-a-hurry").exists()
    assert hashes() == 0


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "unknown"),
    ],
)
def test_limits_count_an_ipv6_client_by_its_64(ip, network):
    assert client_network(ip) == network


def test_behind_trusted_proxies_the_client_is_the_address_the_outermost_one_saw(rf, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "198.51.100.4"  # what the client prepended does not count
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    assert client_ip(request) == "10.0.0.1"


def test_logout_is_a_post_and_regulators_may_log_out(client_as):
    client = client_as("regulator")
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_sign_up_that_loses_the_race_for_its_username_is_a_form_error(chain, monkeypatch):
    """Two sign-ups for one name at once both pass the form's check; the second insert fails."""
    from chain.forms import SignupForm

    # As if the twin request had not committed yet when this form checked the name.
    monkeypatch.setattr(SignupForm, "clean_username", lambda form: form.cleaned_data["username"])
    monkeypatch.setattr(SignupForm, "validate_unique", lambda form: None)
    users_before = User.objects.count()
    response = a_client().post("/accounts/signup/", {**GOOD, "username": "home_malee"})
    assert response.status_code == 200
    assert "already exists" in str(response.context["form"].errors["username"])
    assert User.objects.count() == users_before
