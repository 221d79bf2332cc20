"""Every page against anonymous / owner / other user / regulator / staff."""

import pytest

from chain.models import MempoolTx

from .conftest import ROLES

pytestmark = pytest.mark.django_db

PUBLIC = ["/", "/explorer/", "/explorer/block/1/", "/explorer/search/?q=1"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_are_open_to_everyone(client_as, committed_transfer, role, path):
    response = client_as(role).get(path, follow=True)
    assert response.status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_transaction_and_account_pages_are_public(client_as, committed_transfer, users, role):
    client = client_as(role)
    assert client.get(f"/explorer/tx/{committed_transfer.hash}/").status_code == 200
    assert client.get(f"/explorer/account/{users['home_malee'].wallet.address}/").status_code == 200


@pytest.mark.parametrize(
    ("role", "shows_name"),
    [("anonymous", False), ("owner", False), ("other", False), ("regulator", True), ("staff", True)],
)
def test_only_regulator_and_staff_see_who_owns_an_address(
    client_as, committed_transfer, users, role, shows_name
):
    client = client_as(role)
    address = users["solar_somchai"].wallet.address
    account_page = client.get(f"/explorer/account/{address}/").content.decode()
    assert ("Account of solar_somchai" in account_page) is shows_name
    for path in (f"/explorer/tx/{committed_transfer.hash}/", "/explorer/block/1/"):
        body = client.get(path).content.decode()
        assert ('<span class="owner">home_malee</span>' in body) is shows_name, path


def test_own_wallet_requires_login(client_as):
    response = client_as("anonymous").get("/wallet/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("role", "has_forms"), [("owner", True), ("other", True), ("regulator", False)])
def test_own_wallet_page_shows_forms_only_to_those_who_may_transact(client_as, users, role, has_forms):
    response = client_as(role).get("/wallet/")
    assert response.status_code == 200
    body = response.content.decode()
    assert ('id="form-transfer"' in body) is has_forms
    assert ("<form" in body.split("</header>", 1)[1].split("<footer")[0]) is has_forms


def test_staff_without_wallet_get_a_page_that_says_so(client_as):
    response = client_as("staff").get("/wallet/")
    assert response.status_code == 200
    assert b"This login has no wallet" in response.content


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("owner", 403), ("other", 403), ("regulator", 200), ("staff", 200)],
)
def test_other_wallets_open_read_only_to_regulator_and_staff(client_as, chain, role, status):
    response = client_as(role).get("/wallets/home_malee/")
    assert response.status_code == status
    if status == 200:
        assert b"Wallet of home_malee" in response.content
        assert b'id="form-transfer"' not in response.content
        assert b"read-only" in response.content


def test_unknown_username_is_404_for_regulator(client_as, chain):
    assert client_as("regulator").get("/wallets/nobody/").status_code == 404


@pytest.mark.parametrize(
    "path", ["/wallet/transfer/submit/", "/wallet/transfer/check/?field=amount", "/wallet/stake_bond/submit/"]
)
@pytest.mark.parametrize("role", ["regulator", "staff"])
def test_regulators_and_walletless_staff_cannot_post(client_as, users, path, role):
    data = {
        "transfer-recipient": users["solar_somchai"].wallet.address,
        "transfer-amount": "1",
        "stake_bond-amount": "1",
    }
    assert client_as(role).post(path, data).status_code == 403
    assert MempoolTx.objects.count() == 0


def test_anonymous_posts_go_to_login(client_as, users):
    response = client_as("anonymous").post("/wallet/transfer/submit/", {"transfer-amount": "1"})
    assert response.status_code == 302
    assert MempoolTx.objects.count() == 0


def test_wallet_actions_refuse_get(client_as, chain):
    assert client_as("owner").get("/wallet/transfer/submit/").status_code == 405


@pytest.mark.parametrize("role", ROLES)
def test_admin_is_for_staff_only(client_as, chain, role):
    response = client_as(role).get("/admin/")
    assert response.status_code == (200 if role == "staff" else 302)


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("owner", 403), ("other", 403), ("regulator", 200), ("staff", 200)],
)
def test_people_list_is_for_regulator_and_staff(client_as, chain, role, status):
    response = client_as(role).get("/wallets/")
    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        assert "/wallets/factory_rayong/" in body and "100,000.00" in body
