import pytest
from django.contrib.auth import get_user_model

from chain.services.wallets import wallet_create

ROLES = ("anonymous", "newcomer", "consumer", "regulator", "staff")
USERNAMES = {"consumer": "home_malee", "regulator": "erc_auditor", "staff": "admin", "newcomer": "newcomer"}


@pytest.fixture
def newcomer(chain):
    """A person who just signed up: a wallet whose address the chain has never seen."""
    user = get_user_model().objects.create_user(username="newcomer", password="x")
    wallet_create(user=user, role="consumer", region="bangkok")
    return user


@pytest.fixture
def client_as(login_as, newcomer, client):
    def make(role):
        if role == "newcomer":
            client.force_login(newcomer)
            return client
        return login_as(USERNAMES.get(role))

    return make


@pytest.fixture
def no_auto_confirm(settings):
    settings.GTX_TOPUP_AUTO_CONFIRM_TOKENS = 0
