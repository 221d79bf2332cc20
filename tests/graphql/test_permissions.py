"""The REST API's permission rules hold over GraphQL: reads are public, /me needs a session,
who owns an address is shown to regulators and staff only; a session's POST passes CSRF."""

import pytest
from django.test import Client

from tests.graphql.conftest import ask, data, error_codes

pytestmark = pytest.mark.django_db

OWNER = "query($address: String!) { account(address: $address) { address owner } }"


@pytest.mark.parametrize(
    "username, sees_owner",
    [(None, False), ("home_malee", False), ("solar_somchai", False), ("erc_auditor", True), ("admin", True)],
)
def test_only_regulators_and_staff_see_who_owns_an_address(login_as, users, username, sees_owner):
    malee = users["home_malee"].wallet.address
    account = data(login_as(username), OWNER, {"address": malee})["account"]
    assert account["address"] == malee
    assert account["owner"] == ("home_malee" if sees_owner else None)


def test_me_needs_a_session(anonymous):
    answer = ask(anonymous, "{ me { username } blocks { height } }")
    assert answer["data"] == {"me": None, "blocks": []}  # the rest of the query is answered
    assert error_codes(answer) == ["not_authenticated"]


def test_me_is_the_logged_in_user_s_own_wallet(login_as, users):
    me = data(login_as("home_malee"), "{ me { username address role account { address owner } } }")["me"]
    assert me["username"] == "home_malee"
    assert me["address"] == me["account"]["address"] == users["home_malee"].wallet.address
    assert me["account"]["owner"] is None  # a consumer is not shown owners, even their own


def test_staff_without_a_wallet_get_no_wallet(login_as):
    assert error_codes(ask(login_as("admin"), "{ me { username } }")) == ["no_wallet"]


def test_a_post_without_a_session_needs_no_csrf_token(chain):
    client = Client(enforce_csrf_checks=True)
    assert data(client, "{ blocks { height } }") == {"blocks": []}


def test_a_post_with_a_session_must_carry_the_csrf_token(users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["home_malee"])
    refused = ask(client, "{ me { username } }", status=403)
    assert error_codes(refused) == ["csrf_failed"]

    client.get("/login/")  # sets the CSRF cookie, as any page the browser opened has
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/graphql/",
        {"query": "{ me { username } }"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.json() == {"data": {"me": {"username": "home_malee"}}}


def test_a_get_with_a_session_reads_without_a_token(login_as):
    response = login_as("home_malee").get("/graphql/", {"query": "{ me { username } }"})
    assert response.json() == {"data": {"me": {"username": "home_malee"}}}


def test_there_are_no_mutations(anonymous, chain):
    answer = ask(anonymous, "mutation { x }", status=200)
    assert "errors" in answer and answer.get("data") is None
    assert data(anonymous, "{ __schema { mutationType { name } } }") == {"__schema": {"mutationType": None}}


def test_graphiql_is_served_only_in_development(anonymous, chain, settings):
    settings.DEV = False
    response = anonymous.get("/graphql/", headers={"Accept": "text/html"})
    assert b"graphiql" not in response.content.lower()

    settings.DEV = True
    page = anonymous.get("/graphql/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b"graphiql" in page.content.lower()
    assert "https://unpkg.com" in page["Content-Security-Policy"]
