"""Helpers for the GraphQL tests: ask /graphql/, and compare an answer with the REST API's."""

import re
from datetime import datetime

import pytest
from django.test import Client

# A demo chain with short governance periods and an open proposal, as the governance tests use.
from tests.governance.conftest import gov_chain, open_proposal, tick  # noqa: F401


def ask(client: Client, query: str, variables: dict | None = None, *, status: int = 200) -> dict:
    """POST a query; the whole answer ({"data", "errors"}) as JSON."""
    response = client.post(
        "/graphql/", {"query": query, "variables": variables or {}}, content_type="application/json"
    )
    assert response.status_code == status, response.content
    return response.json()


def data(client: Client, query: str, variables: dict | None = None) -> dict:
    """The data of a query that must succeed."""
    answer = ask(client, query, variables)
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


def error_codes(answer: dict) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in answer["errors"]]


ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _same(graphql_value, rest_value, where: str) -> None:
    if isinstance(graphql_value, dict):
        assert isinstance(rest_value, dict), where
        for key, value in graphql_value.items():
            _same(
                value,
                rest_value[snake(key)] if snake(key) in rest_value else rest_value[key],
                f"{where}.{key}",
            )
    elif isinstance(graphql_value, list):
        assert len(graphql_value) == len(rest_value), where
        for i, (a, b) in enumerate(zip(graphql_value, rest_value, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(rest_value, int) and not isinstance(rest_value, bool) and isinstance(graphql_value, str):
        # A BigInt is the same whole number, as a decimal string.
        assert graphql_value == str(rest_value), where
    elif isinstance(rest_value, str) and isinstance(graphql_value, str) and ISO_TIME.match(rest_value):
        # Times: the same instant (REST writes Bangkok's offset, GraphQL UTC's).
        assert datetime.fromisoformat(graphql_value) == datetime.fromisoformat(rest_value), where
    else:
        assert graphql_value == rest_value, where


def assert_same_as_rest(graphql_value, rest_value) -> None:
    """Every field GraphQL answered equals REST's field of the same (snake_case) name."""
    _same(graphql_value, rest_value, "")


@pytest.fixture
def anonymous() -> Client:
    return Client()
